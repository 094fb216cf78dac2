#include "builder/stages.h"

#include <algorithm>
#include <cctype>
#include <optional>
#include <set>

#include "common/strings.h"

namespace berth::build {
namespace {

bool validStageName(std::string_view n) {
  if (n.empty() || !std::isalpha(static_cast<unsigned char>(n[0]))) return false;
  return std::all_of(n.begin(), n.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-' || c == '.';
  });
}

std::string hostArch() {
#if defined(__x86_64__)
  return "amd64";
#elif defined(__aarch64__)
  return "arm64";
#else
  return "unknown";
#endif
}

}  // namespace

int findStage(const BuildPlan& plan, std::string_view nameOrIndex, int before) {
  std::string want = str::toLower(nameOrIndex);
  for (const auto& s : plan.stages) {
    if (s.index >= before) break;
    if (!s.name.empty() && s.name == want) return s.index;
  }
  if (auto n = str::parseU64(want); n && static_cast<int>(*n) < before) return static_cast<int>(*n);
  return -1;
}

Result<std::vector<std::pair<std::string, std::optional<std::string>>>> parseArgDecls(
    const Lexer& lx, const Instruction& ins) {
  std::vector<std::pair<std::string, std::optional<std::string>>> out;
  auto words = lx.splitRaw(ins.args);
  if (!words) return fail(lineError(ins.line, words.error().message()));
  for (auto& w : *words) {
    auto [name, def] = str::splitOnce(w, '=');
    if (name.empty()) return fail(lineError(ins.line, "ARG requires a name: " + w));
    out.emplace_back(name, def);
  }
  return out;
}

Result<BuildPlan> planBuild(const Dockerfile& df, const VarMap& buildArgs,
                            const std::string& target) {
  BuildPlan plan;
  Lexer lx(df.escape);
  std::set<std::string> declared;
  Stage* cur = nullptr;
  for (const auto& ins : df.instructions) {
    if (ins.keyword == "ARG") {
      BERTH_ASSIGN(auto decls, parseArgDecls(lx, ins));
      for (auto& [name, def] : decls) {
        declared.insert(name);
        if (cur) continue;  // stage ARGs are resolved by the executor
        std::optional<std::string> v;
        if (auto it = buildArgs.find(name); it != buildArgs.end()) {
          v = it->second;
        } else if (def) {
          auto e = lx.processWord(*def, plan.globalArgs);
          if (!e) return fail(lineError(ins.line, e.error().message()));
          v = *e;
        }
        if (v) plan.globalArgs[name] = *v;
      }
      if (cur) cur->instructions.push_back(&ins);
      continue;
    }
    if (ins.keyword == "FROM") {
      Stage s;
      s.index = static_cast<int>(plan.stages.size());
      s.from = &ins;
      auto words = lx.splitRaw(ins.args);
      if (!words) return fail(lineError(ins.line, words.error().message()));
      if (words->size() == 3 && str::toLower((*words)[1]) == "as") {
        s.name = str::toLower((*words)[2]);
        if (!validStageName(s.name))
          return fail(lineError(ins.line, "invalid stage name \"" + (*words)[2] + "\""));
        for (const auto& o : plan.stages)
          if (o.name == s.name)
            return fail(lineError(ins.line, "duplicate stage name \"" + s.name + "\""));
      } else if (words->size() != 1) {
        return fail(lineError(ins.line, "FROM requires either one or three arguments"));
      }
      auto base = lx.processWord((*words)[0], plan.globalArgs);
      if (!base) return fail(lineError(ins.line, base.error().message()));
      if (base->empty()) return fail(lineError(ins.line, "FROM: base name is empty after substitution"));
      s.base = *base;
      if (const auto* p = ins.flag("platform")) {
        auto pv = lx.processWord(*p, plan.globalArgs);
        if (!pv) return fail(lineError(ins.line, pv.error().message()));
        std::string want = "linux/" + hostArch();
        if (!pv->empty() && *pv != want && !str::startsWith(*pv, want + "/"))
          return fail(lineError(ins.line, "FROM --platform=" + *pv +
                                              ": only the host platform " + want +
                                              " can be built here"));
      }
      s.baseStage = findStage(plan, s.base, s.index);
      if (s.baseStage >= 0 && str::parseU64(s.base)) s.baseStage = -1;  // FROM 0 is an image
      if (s.baseStage >= 0) s.deps.push_back(s.baseStage);
      plan.stages.push_back(std::move(s));
      cur = &plan.stages.back();
      continue;
    }
    if (!cur)
      return fail(lineError(ins.line, "no FROM before " + ins.keyword +
                                          " (only ARG may come before the first FROM)"));
    cur->instructions.push_back(&ins);
    if (ins.keyword == "COPY") {
      if (const auto* f = ins.flag("from")) {
        auto v = lx.processWord(*f, plan.globalArgs);
        if (!v) return fail(lineError(ins.line, v.error().message()));
        int dep = findStage(plan, *v, cur->index);
        if (dep < 0) {
          // Naming this stage or a later one is an error; anything else is an image.
          std::string want = str::toLower(*v);
          for (const auto& o : plan.stages)
            if (o.index >= cur->index && !o.name.empty() && o.name == want)
              return fail(lineError(ins.line, "COPY --from=" + *v +
                                                  " refers to this stage or a later one"));
          if (auto n = str::parseU64(*v); n && static_cast<int>(*n) >= cur->index)
            return fail(lineError(ins.line, "COPY --from=" + *v +
                                                " refers to this stage or a later one"));
        } else {
          cur->deps.push_back(dep);
        }
      }
    }
  }
  if (plan.stages.empty())
    return fail(lineError(df.instructions.front().line, "no FROM instruction"));
  for (auto& s : plan.stages) {
    std::sort(s.deps.begin(), s.deps.end());
    s.deps.erase(std::unique(s.deps.begin(), s.deps.end()), s.deps.end());
  }
  if (target.empty()) {
    plan.target = static_cast<int>(plan.stages.size()) - 1;
  } else {
    plan.target = findStage(plan, target, static_cast<int>(plan.stages.size()));
    if (plan.target < 0 || str::parseU64(target))
      return fail(ErrorCode::kNotFound, "target stage \"" + target + "\" could not be found");
  }
  std::vector<bool> need(plan.stages.size(), false);
  std::vector<int> todo{plan.target};
  while (!todo.empty()) {
    int i = todo.back();
    todo.pop_back();
    if (need[static_cast<size_t>(i)]) continue;
    need[static_cast<size_t>(i)] = true;
    for (int d : plan.stages[static_cast<size_t>(i)].deps) todo.push_back(d);
  }
  for (size_t i = 0; i < need.size(); ++i)
    if (need[i]) plan.order.push_back(static_cast<int>(i));
  for (auto& [k, v] : buildArgs)
    if (!declared.count(k)) plan.unusedBuildArgs.push_back(k);
  return plan;
}

}  // namespace berth::build
