// COPY and ADD: resolve sources (context, --from stage or image, heredocs), then write them
// into the step's overlay without ever leaving its root.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "builder/build_steps.h"
#include "builder/rootfs_ops.h"
#include "common/fs.h"
#include "common/strings.h"

namespace berth::build {
namespace {

bool isUrl(std::string_view s) {
  return str::startsWith(s, "http://") || str::startsWith(s, "https://") ||
         str::startsWith(s, "git@") || str::startsWith(s, "git://");
}

std::string baseName(const std::string& rel) {
  auto p = rel.rfind('/');
  return p == std::string::npos ? rel : rel.substr(p + 1);
}

std::string joinAbs(const std::string& dir, const std::string& name) {
  return dir == "/" ? "/" + name : dir + "/" + name;
}

const Heredoc* heredocFor(const Instruction& ins, std::string_view word) {
  if (!str::startsWith(word, "<<")) return nullptr;
  std::string_view n = word.substr(2);
  if (!n.empty() && n[0] == '-') n.remove_prefix(1);
  for (auto& h : ins.heredocs)
    if (h.name == n) return &h;
  return nullptr;
}

}  // namespace

Result<CopyPlan> planCopy(Session& s, const StageState& st, const Instruction& ins, bool isAdd) {
  CopyPlan p;
  VarMap sub = st.vars.substitution(st.config);
  std::vector<std::string> words;
  if (ins.jsonForm) {
    for (auto& e : ins.json) {
      BERTH_ASSIGN(std::string w, s.lx.processWord(e, sub));
      words.push_back(w);
    }
  } else {
    BERTH_ASSIGN(words, s.lx.processWords(ins.args, sub));
  }
  if (words.size() < 2)
    return fail(ErrorCode::kInvalidArgument, ins.keyword + " requires at least two arguments: source(s) and destination");
  for (auto& f : ins.flags) {
    if (f.first == "chown") {
      BERTH_ASSIGN(p.chown, s.lx.processWord(f.second, sub));
    } else if (f.first == "chmod") {
      BERTH_ASSIGN(p.chmod, s.lx.processWord(f.second, sub));
      auto m = str::parseU64(p.chmod);
      bool octal = !p.chmod.empty() && p.chmod.find_first_not_of("01234567") == std::string::npos;
      if (!octal || !m || std::stoul(p.chmod, nullptr, 8) > 07777)
        return fail(ErrorCode::kInvalidArgument, "--chmod=" + p.chmod + ": only octal modes are supported");
    } else if (f.first == "parents" || f.first == "exclude" || f.first == "keep-git-dir" ||
               f.first == "checksum") {
      return fail(ErrorCode::kUnsupported, ins.keyword + " --" + f.first + " is not supported");
    }
  }
  std::string destWord = words.back();
  words.pop_back();
  std::string cwd = st.config.config.workingDir.empty() ? "/" : st.config.config.workingDir;
  p.destIsDir = str::endsWith(destWord, "/") || destWord == "." || str::endsWith(destWord, "/.");
  p.dest = resolveWorkdir(cwd, destWord);

  std::string keyText;
  if (const auto* from = ins.flag("from")) {
    BERTH_ASSIGN(std::string ref, s.lx.processWord(*from, sub));
    int idx = findStage(s.plan, ref, static_cast<int>(s.results.size()));
    StageState fromState;
    if (idx >= 0) {
      if (!s.results[static_cast<size_t>(idx)])
        return fail(ErrorCode::kInternal, "stage " + ref + " was not built");
      fromState = *s.results[static_cast<size_t>(idx)];
      keyText = "stage:" + fromState.key;
    } else {
      auto img = s.store.resolve(ref);
      if (!img) return fail(ErrorCode::kNotFound, "COPY --from=" + ref + ": no such stage or image (berth build does not pull)");
      for (size_t i = 0; i < img->layers.size(); ++i)
        fromState.layers.push_back({img->layers[i], img->config.rootfs.diffIds[i]});
      keyText = "image:" + img->id;
    }
    p.fromState = std::move(fromState);
    p.keepOwner = true;
  } else {
    p.tree = s.context.get();
  }

  std::vector<const ContextEntry*> forKey;
  for (auto& w : words) {
    if (const Heredoc* h = heredocFor(ins, w)) {
      p.heredocs.push_back(h);
      std::string content = h->content;
      if (h->expand) {
        BERTH_ASSIGN(content, s.lx.expandOnly(h->content, sub));
      }
      keyText += "\nheredoc:" + h->name + "\n" + content;
      p.heredocContents.push_back(std::move(content));
      continue;
    }
    if (isUrl(w))
      return fail(ErrorCode::kUnsupported,
                  isAdd ? "ADD " + w + ": URL sources need network access, which builds do not have; "
                                       "download it into the context and ADD the file"
                        : "COPY " + w + ": source can't be a URL for COPY");
    if (p.fromState) {
      p.fromSources.push_back(w);  // resolved when the step runs (no mount on a cache hit)
      continue;
    }
    BERTH_ASSIGN(auto got, p.tree->resolve(w));
    for (auto* e : got) p.sources.push_back(e);
  }
  size_t n = p.sources.size() + p.heredocs.size() + p.fromSources.size();
  if (n > 1) {
    if (!p.destIsDir)
      return fail(ErrorCode::kInvalidArgument,
                  "when using " + ins.keyword + " with more than one source file, the destination "
                  "must be a directory and end with a /");
  }
  if (!ins.flag("from")) {
    BERTH_ASSIGN(std::string sum, s.context->checksum(p.sources));
    keyText = "context:" + sum + keyText;
  }
  p.keyText = keyText;
  return p;
}

Result<void> applyCopy(Session& s, const CopyPlan& plan, bool isAdd, const std::string& merged) {
  CopyPlan p = plan;
  std::vector<std::string> mounts;
  struct Release {
    std::vector<std::string>& m;
    ~Release() { releaseMounts(m); }
  } release{mounts};
  std::unique_ptr<SourceTree> fromTree;
  if (p.fromState) {
    BERTH_ASSIGN(std::string rootDir, mountReadOnly(s, *p.fromState, mounts));
    BERTH_ASSIGN(fromTree, SourceTree::openRootfs(rootDir));
    p.tree = fromTree.get();
    for (auto& w : p.fromSources) {
      BERTH_ASSIGN(auto got, p.tree->resolve(w));
      for (auto* e : got) p.sources.push_back(e);
    }
    if (p.sources.size() + p.heredocs.size() > 1 && !p.destIsDir)
      return fail(ErrorCode::kInvalidArgument,
                  "when using COPY with more than one source file, the destination must be a "
                  "directory and end with a /");
  }
  UniqueFd root(::open(merged.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
  if (!root) return failErrno("open " + merged);
  rootfs::Ownership own;
  own.keepOwner = p.keepOwner;
  if (!p.chown.empty()) {
    BERTH_ASSIGN(auto ug, rootfs::lookupUser(root.get(), p.chown));
    own.uid = ug.first;
    own.gid = ug.second;
  }
  if (!p.chmod.empty()) own.mode = static_cast<mode_t>(std::stoul(p.chmod, nullptr, 8));
  uid_t dirUid = own.uid.value_or(0);
  gid_t dirGid = own.gid.value_or(0);

  BERTH_ASSIGN(auto destStat, rootfs::statIn(root.get(), p.dest));
  bool destExistsDir = destStat && S_ISDIR(destStat->st_mode);
  auto fileTarget = [&](const std::string& name) {
    return (p.destIsDir || destExistsDir) ? joinAbs(p.dest, name) : p.dest;
  };

  for (size_t i = 0; i < p.heredocs.size(); ++i) {
    const Heredoc* h = p.heredocs[i];
    const std::string& content = p.heredocContents[i];
    std::string target = fileTarget(h->name);
    auto [parent, leaf] = rootfs::splitParent(target);
    BERTH_ASSIGN(UniqueFd dir, rootfs::openDir(root.get(), parent, true, dirUid, dirGid));
    BERTH_TRY(rootfs::writeNode(dir.get(), leaf, content, own.mode.value_or(0644), dirUid, dirGid));
  }

  for (const ContextEntry* e : p.sources) {
    std::string host = p.tree->hostPath(*e);
    if (S_ISDIR(e->mode)) {
      // A directory's contents (not the directory itself) go into dest.
      BERTH_TRY(rootfs::openDir(root.get(), p.dest, true, dirUid, dirGid));
      BERTH_ASSIGN(auto all, p.tree->subtree(*e));
      size_t skip = e->rel.empty() ? 0 : e->rel.size() + 1;
      for (const ContextEntry* sub : all) {
        if (sub == e) continue;
        std::string rel = sub->rel.substr(skip);
        auto [parent, leaf] = rootfs::splitParent(joinAbs(p.dest, rel));
        BERTH_ASSIGN(UniqueFd dir, rootfs::openDir(root.get(), parent, true, dirUid, dirGid));
        BERTH_TRY_CTX(rootfs::copyNode(p.tree->hostPath(*sub), dir.get(), leaf, own), rel);
      }
      continue;
    }
    if (isAdd && S_ISREG(e->mode) && p.tree == s.context.get()) {
      BERTH_ASSIGN(bool unpacked, rootfs::extractArchive(host, root.get(), p.dest, own));
      if (unpacked) continue;
    }
    std::string target = fileTarget(baseName(e->rel.empty() ? "." : e->rel));
    auto [parent, leaf] = rootfs::splitParent(target);
    if (leaf.empty()) return fail(ErrorCode::kInvalidArgument, "destination " + p.dest + " is the root");
    BERTH_ASSIGN(UniqueFd dir, rootfs::openDir(root.get(), parent, true, dirUid, dirGid));
    BERTH_TRY_CTX(rootfs::copyNode(host, dir.get(), leaf, own), e->rel);
  }
  return {};
}

}  // namespace berth::build
