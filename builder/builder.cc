#include "builder/builder.h"

#include <fcntl.h>

#include <chrono>
#include <deque>

#include "builder/build_steps.h"
#include "builder/rootfs_ops.h"
#include "common/fs.h"
#include "common/log.h"
#include "common/strings.h"

namespace berth::build {
namespace {

using Clock = std::chrono::steady_clock;

/// Errors from a step get the step's line unless they already point into the Dockerfile.
Error atLine(const Instruction& ins, const Error& e) {
  if (str::startsWith(e.message(), "Dockerfile:")) return e;
  Error out = lineError(ins.line, e.message());
  return out;
}

struct StepCounter {
  std::string label;  ///< "" for a single unnamed stage
  int total = 0;
  int n = 0;
};

void progress(Session& s, const StepCounter& c, std::string_view text, bool cached = false) {
  if (s.opts.quiet) return;
  std::string head = c.label.empty() ? "" : c.label + " ";
  std::fprintf(s.opts.out, "[%s%d/%d] %s%.*s\n", head.c_str(), c.n, c.total,
               cached ? "CACHED " : "", static_cast<int>(text.size()), text.data());
  std::fflush(s.opts.out);
}

void stepTime(Session& s, const StepCounter& c, Clock::time_point start, bool layer) {
  if (s.opts.quiet) return;
  double secs = std::chrono::duration<double>(Clock::now() - start).count();
  std::string head = c.label.empty() ? "" : c.label + " ";
  std::fprintf(s.opts.out, "[%s%d/%d] done in %.3fs%s\n", head.c_str(), c.n, c.total, secs,
               layer ? "" : " (no changes, no layer)");
  std::fflush(s.opts.out);
}

void addHistory(StageState& st, const Instruction& ins, const std::string& created, bool layer) {
  oci::History h;
  h.created = created;
  h.createdBy = ins.original;
  h.comment = "berth build";
  h.emptyLayer = !layer;
  st.config.history.push_back(std::move(h));
  st.config.created = created;
}

std::optional<image::Layer> layerFromEntry(Session& s, const CacheEntry& e) {
  auto d = oci::parseDescriptor(e.layerDescriptor);
  if (!d || !s.store.hasBlob(d->digest)) return std::nullopt;
  return image::Layer{*d, e.diffId};
}

/// A step that does not touch files: its key and timestamp still chain, so the image id is
/// stable across cached rebuilds.
Result<void> metadataStep(Session& s, StageState& st, const Instruction& ins,
                          const std::string& key) {
  std::string created;
  if (auto e = s.cache.get(key); e && !s.opts.noCache) created = e->created;
  if (created.empty()) {
    created = oci::nowRfc3339();
    BERTH_TRY(s.cache.put(key, CacheEntry{created, "", ""}));
  }
  addHistory(st, ins, created, false);
  st.key = key;
  return {};
}

/// A step that changes files: cached by key, else `fn` runs on a writable overlay.
Result<void> fileStep(Session& s, StageState& st, const Instruction& ins, const std::string& key,
                      StepCounter& c, const std::function<Result<void>(const std::string&)>& fn) {
  if (!s.opts.noCache) {
    if (auto e = s.cache.get(key)) {
      std::optional<image::Layer> layer;
      bool ok = true;
      if (!e->layerDescriptor.empty()) {
        layer = layerFromEntry(s, *e);
        ok = layer.has_value();
        if (!ok) s.cache.drop(key);  // its layer was garbage-collected: rebuild
      }
      if (ok) {
        progress(s, c, ins.original, true);
        if (layer) st.layers.push_back(*layer);
        addHistory(st, ins, e->created, layer.has_value());
        st.key = key;
        ++s.result.stepsCached;
        return {};
      }
    }
  }
  progress(s, c, ins.original);
  auto start = Clock::now();
  BERTH_ASSIGN(auto layer, withMutableRootfs(s, st, fn));
  std::string created = oci::nowRfc3339();
  CacheEntry entry{created, "", ""};
  if (layer) {
    entry.layerDescriptor = oci::toJson(layer->descriptor);
    entry.diffId = layer->diffId;
    st.layers.push_back(*layer);
  }
  BERTH_TRY(s.cache.put(key, entry));
  addHistory(st, ins, created, layer.has_value());
  st.key = key;
  ++s.result.stepsRun;
  stepTime(s, c, start, layer.has_value());
  return {};
}

Result<void> executeStep(Session& s, StageState& st, const Instruction& ins, StepCounter& c,
                         const VarMap& globalArgs) {
  ++c.n;
  const std::string& kw = ins.keyword;
  if (kw == "ARG") {
    BERTH_TRY(applyArg(s.lx, ins, s.opts.buildArgs, globalArgs, st.config, st.vars));
    progress(s, c, ins.original);
    return metadataStep(s, st, ins, stepKey(st.key, ins.original, st.vars.keyText(), ""));
  }
  if (kw == "RUN") {
    std::string bodies;
    for (auto& h : ins.heredocs) bodies += h.name + "\n" + h.content;
    std::string key = stepKey(st.key, ins.original, st.vars.keyText(), bodies);
    std::vector<std::string> argv = commandOf(ins, st.config);
    const StageState& cur = st;
    auto r = fileStep(s, st, ins, key, c, [&](const std::string& merged) {
      return runContainer(s, cur, ins, merged, argv);
    });
    if (!r) return fail(atLine(ins, r.error()));
    return {};
  }
  if (kw == "COPY" || kw == "ADD") {
    bool isAdd = kw == "ADD";
    auto plan = planCopy(s, st, ins, isAdd);
    if (!plan) return fail(atLine(ins, plan.error()));
    std::string key = stepKey(st.key, ins.original, st.vars.keyText(), plan->keyText);
    auto r = fileStep(s, st, ins, key, c, [&](const std::string& merged) {
      return applyCopy(s, *plan, isAdd, merged);
    });
    if (!r) return fail(atLine(ins, r.error()));
    return {};
  }
  if (kw == "WORKDIR") {
    auto r = applyMetadata(s.lx, ins, st.vars, st.config, st.cmdSetHere);
    if (!r) return fail(r.error());
    std::string dir = st.config.config.workingDir;
    std::string key = stepKey(st.key, ins.original, st.vars.keyText(), dir);
    auto f = fileStep(s, st, ins, key, c, [&](const std::string& merged) -> Result<void> {
      UniqueFd root(::open(merged.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
      if (!root) return failErrno("open " + merged);
      BERTH_TRY(rootfs::openDir(root.get(), dir, true));
      return {};
    });
    if (!f) return fail(atLine(ins, f.error()));
    return {};
  }
  BERTH_TRY(applyMetadata(s.lx, ins, st.vars, st.config, st.cmdSetHere));
  progress(s, c, ins.original);
  return metadataStep(s, st, ins, stepKey(st.key, ins.original, st.vars.keyText(), ""));
}

Result<StageState> buildStage(Session& s, const Stage& sg,
                              std::deque<Dockerfile>& triggerStore) {
  StageState st;
  const Instruction& from = *sg.from;
  StepCounter c;
  bool single = s.plan.stages.size() == 1 && sg.name.empty();
  c.label = single ? "" : sg.label();
  if (sg.base == "scratch") {
    auto host = oci::hostPlatform();
    st.config.architecture = host.architecture;
    st.config.os = host.os.empty() ? "linux" : host.os;
    st.key = stepKey("scratch", from.original, "", "");
  } else if (sg.baseStage >= 0) {
    const auto& prev = s.results[static_cast<size_t>(sg.baseStage)];
    if (!prev) return fail(lineError(from.line, "internal: stage " + sg.base + " not built"));
    st.config = prev->config;
    st.layers = prev->layers;
    st.key = stepKey(prev->key, from.original, "", "");
  } else {
    auto img = s.store.resolve(sg.base);
    if (!img)
      return fail(lineError(from.line, "FROM " + sg.base + ": " + img.error().message() +
                                           " (berth build does not pull: import or pull it first)"));
    st.config = img->config;
    if (img->config.rootfs.diffIds.size() != img->layers.size())
      return fail(lineError(from.line, "FROM " + sg.base + ": image has inconsistent layers"));
    for (size_t i = 0; i < img->layers.size(); ++i)
      st.layers.push_back({img->layers[i], img->config.rootfs.diffIds[i]});
    st.key = stepKey(img->id, from.original, sg.base, "");
  }
  bool hasPath = false;
  for (auto& kv : st.config.config.env) hasPath |= str::startsWith(kv, "PATH=");
  if (!hasPath) st.config.config.env.insert(st.config.config.env.begin(), kDefaultPath);

  // ONBUILD triggers of the base run right after FROM, and are not inherited further.
  std::vector<const Instruction*> steps;
  for (auto& t : st.config.config.onBuild) {
    auto df = parseDockerfile(t + "\n");
    if (!df) return fail(lineError(from.line, "ONBUILD trigger \"" + t + "\": " + df.error().message()));
    triggerStore.push_back(std::move(*df));
    for (auto& i : triggerStore.back().instructions) {
      i.line = from.line;
      steps.push_back(&i);
    }
  }
  st.config.config.onBuild.clear();
  for (auto* i : sg.instructions) steps.push_back(i);
  c.total = 1 + static_cast<int>(steps.size());
  c.n = 1;
  progress(s, c, from.original);
  for (const Instruction* ins : steps) BERTH_TRY(executeStep(s, st, *ins, c, s.plan.globalArgs));
  return st;
}

}  // namespace

Result<BuildResult> buildImage(const BuildOptions& o) {
  if (o.contextDir.empty() || !fs::isDir(o.contextDir))
    return fail(ErrorCode::kNotFound, "build context \"" + o.contextDir + "\": not a directory");
  std::string dfPath = o.dockerfile.empty() ? fs::join(o.contextDir, "Dockerfile") : o.dockerfile;
  auto text = fs::readFile(dfPath);
  if (!text) return fail(ErrorCode::kNotFound, "Dockerfile " + dfPath + ": " + text.error().message());
  BERTH_ASSIGN(Dockerfile df, parseDockerfile(*text));

  std::vector<std::string> names;
  for (auto& t : o.tags) {
    auto n = image::normalizeName(t);
    if (!n) return fail(ErrorCode::kInvalidArgument, "invalid tag \"" + t + "\": " + n.error().message());
    names.push_back(*n);
  }
  BERTH_ASSIGN(BuildPlan plan, planBuild(df, o.buildArgs, o.target));
  if (!plan.unusedBuildArgs.empty() && !o.quiet) {
    std::string list;
    for (auto& a : plan.unusedBuildArgs) list += (list.empty() ? "" : " ") + a;
    std::fprintf(stderr, "[Warning] One or more build-args [%s] were not consumed\n", list.c_str());
  }

  IgnoreMatcher ignore;
  std::string ignorePath = fs::join(o.contextDir, ".dockerignore");
  if (fs::exists(ignorePath)) {
    BERTH_ASSIGN(std::string it, fs::readFile(ignorePath));
    ignore = IgnoreMatcher::parse(it);
  }
  BERTH_ASSIGN(auto context, SourceTree::openContext(o.contextDir, std::move(ignore)));
  BERTH_ASSIGN(image::Store store, image::Store::open(o.root));
  BERTH_ASSIGN(BuildCache cache, BuildCache::open(o.root));
  Session s{o, std::move(store), std::move(cache), runtime::Runtime(fs::join(o.runroot, "runtime")),
            Lexer(df.escape), std::move(context), std::move(plan), {}, {}};
  s.results.resize(s.plan.stages.size());
  std::deque<Dockerfile> triggers;
  for (int idx : s.plan.order) {
    const Stage& sg = s.plan.stages[static_cast<size_t>(idx)];
    BERTH_ASSIGN(StageState st, buildStage(s, sg, triggers));
    s.results[static_cast<size_t>(idx)] = std::move(st);
  }
  StageState& fin = *s.results[static_cast<size_t>(s.plan.target)];
  fin.config.rootfs.type = "layers";
  fin.config.rootfs.diffIds.clear();
  for (auto& l : fin.layers) fin.config.rootfs.diffIds.push_back(l.diffId);
  if (fin.config.architecture.empty()) fin.config.architecture = oci::hostPlatform().architecture;
  if (fin.config.os.empty()) fin.config.os = "linux";
  BERTH_ASSIGN(image::Image img, s.store.writeImage(fin.config, fin.layers, names));
  s.result.imageId = img.id;
  s.result.names = names;
  if (o.quiet) {
    std::fprintf(o.out, "%s\n", img.id.c_str());
  } else {
    std::fprintf(o.out, "Successfully built %s\n", img.id.c_str());
    for (auto& n : names) std::fprintf(o.out, "Successfully tagged %s\n", n.c_str());
  }
  std::fflush(o.out);
  return s.result;
}

}  // namespace berth::build
