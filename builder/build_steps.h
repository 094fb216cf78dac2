#pragma once
/// Internal to berth_build: the state a stage carries from step to step, and the steps that
/// touch a root file system (RUN, COPY/ADD, WORKDIR). Not a public interface.

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "builder/builder.h"
#include "builder/cache.h"
#include "builder/context.h"
#include "builder/dockerfile.h"
#include "builder/instructions.h"
#include "builder/stages.h"
#include "image/store.h"
#include "runtime/runtime.h"

namespace berth::build {

struct StageState {
  oci::ImageConfig config;
  std::vector<image::Layer> layers;
  std::string key;  ///< cache key of the last step
  StageVars vars;
  bool cmdSetHere = false;
};

struct Session {
  BuildOptions opts;
  image::Store store;
  BuildCache cache;
  runtime::Runtime rt;
  Lexer lx;
  std::unique_ptr<SourceTree> context;
  BuildPlan plan;
  std::vector<std::optional<StageState>> results;  ///< per stage index, once built
  BuildResult result;
};

/// Snapshot dirs of a state's layers, bottom first.
Result<std::vector<std::string>> lowerDirs(Session& s, const StageState& st);

/// Mount a writable overlay of `st`'s layers, let `fn` change the merged root, unmount, and
/// commit the upper dir as a layer if anything changed (nullopt if nothing did).
Result<std::optional<image::Layer>> withMutableRootfs(
    Session& s, const StageState& st, const std::function<Result<void>(const std::string&)>& fn);

/// Run a RUN step's command in a container on `merged`. `argv` is the full command.
/// Errors: "RUN ... exited with code N" style (without the line; the caller adds it).
Result<void> runContainer(Session& s, const StageState& st, const Instruction& ins,
                          const std::string& merged, const std::vector<std::string>& argv);

/// Everything COPY/ADD needs, resolved before the cache lookup.
struct CopyPlan {
  std::vector<const ContextEntry*> sources;  ///< resolved sources (not heredocs)
  std::vector<const Heredoc*> heredocs;      ///< `COPY <<EOF dest` bodies
  std::vector<std::string> heredocContents;  ///< their text, variables expanded if unquoted
  std::string dest;                          ///< absolute, cleaned
  bool destIsDir = false;                    ///< ends in '/' or several sources
  std::string chown, chmod;                  ///< flag values, substituted
  SourceTree* tree = nullptr;                ///< where sources live
  bool keepOwner = false;                    ///< --from: keep the source's owner
  std::string keyText;                       ///< checksum or --from key, for the cache key
  std::optional<StageState> fromState;       ///< --from stage or image layers
  std::vector<std::string> fromSources;      ///< --from source words, resolved in applyCopy
};

/// Resolve the sources of COPY/ADD (`isAdd`) in the context (or note the --from stage or
/// image, whose sources are resolved by applyCopy). Errors are without the line prefix.
Result<CopyPlan> planCopy(Session& s, const StageState& st, const Instruction& ins, bool isAdd);

/// Carry out a CopyPlan on the merged root.
Result<void> applyCopy(Session& s, const CopyPlan& p, bool isAdd, const std::string& merged);

/// Mount (read-only) the root file system of `st` at a temp dir for COPY --from; returns
/// its path. The mount and dir are recorded in `mounts` for the caller's cleanup.
Result<std::string> mountReadOnly(Session& s, const StageState& st, std::vector<std::string>& mounts);
/// Undo mountReadOnly for every recorded mount.
void releaseMounts(std::vector<std::string>& mounts);

}  // namespace berth::build
