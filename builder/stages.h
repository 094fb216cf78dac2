#pragma once
/// The stage graph of a multi-stage Dockerfile: global ARGs (before the first FROM), one Stage
/// per FROM with its base (scratch, an image, or an earlier stage), the stages each one needs
/// (its base and `COPY --from`), and the stages a `--target` needs, in Dockerfile order.

#include <optional>
#include <string>
#include <vector>

#include "builder/dockerfile.h"
#include "builder/lexer.h"
#include "common/error.h"

namespace berth::build {

struct Stage {
  int index = 0;
  std::string name;      ///< lower-cased `AS name`, may be empty
  std::string base;      ///< expanded FROM argument: "scratch", an image ref or a stage name
  int baseStage = -1;    ///< index of the earlier stage FROM refers to, else -1
  const Instruction* from = nullptr;
  std::vector<const Instruction*> instructions;  ///< after FROM
  std::vector<int> deps;  ///< stages this one needs (base + COPY --from), sorted, unique

  /// "name" or the index, for progress lines.
  std::string label() const { return name.empty() ? std::to_string(index) : name; }
};

struct BuildPlan {
  std::vector<Stage> stages;
  std::vector<int> order;  ///< stages to build, in Dockerfile order (target last)
  int target = -1;
  VarMap globalArgs;       ///< ARGs before the first FROM, with --build-arg applied
  std::vector<std::string> unusedBuildArgs;  ///< --build-arg names no ARG declares
};

/// Find a stage by name (case-insensitive) or index; -1 if none.
int findStage(const BuildPlan& plan, std::string_view nameOrIndex, int before);

/// Plan a build. `target` empty means the last stage. Errors (as "Dockerfile:LINE: ..."):
/// no FROM first, an instruction other than ARG before the first FROM, a bad FROM line, a
/// duplicate stage name, an unknown `--target`, a `COPY --from` naming the stage itself or a
/// later stage, a FROM `--platform` that is not the host's.
Result<BuildPlan> planBuild(const Dockerfile& df, const VarMap& buildArgs,
                            const std::string& target);

/// Parse `ARG name[=default] ...` words (raw, still quoted) into name/default pairs.
Result<std::vector<std::pair<std::string, std::optional<std::string>>>> parseArgDecls(
    const Lexer& lx, const Instruction& ins);

}  // namespace berth::build
