#pragma once
/// `berth build`: a Dockerfile and a context directory to an image in berth's store.
///
/// RUN steps run as containers of berth's own runtime (in-process, init a direct child of the
/// builder) on an overlay of the previous step, with the host's network namespace and every
/// other namespace and cgroup like any container; the overlay's upper dir becomes the step's
/// layer when the step changed something. COPY/ADD write into the same kind of overlay
/// through openat2(RESOLVE_IN_ROOT). Each step has a cache key (see cache.h); a hit reuses
/// the step's layer and timestamp, so an unchanged build gives the same image id.
///
/// Failures stop the build with "Dockerfile:LINE: what was wrong" and leave no image,
/// container, mount or temp dir behind (layers of the steps that succeeded stay as cache).

#include <cstdio>
#include <string>
#include <vector>

#include "builder/lexer.h"
#include "common/error.h"

namespace berth::build {

struct BuildOptions {
  std::string root = "/var/lib/berth";  ///< store root (images, build cache)
  std::string runroot = "/run/berth";   ///< runtime state root (RUN containers)
  std::string contextDir;               ///< the build context
  std::string dockerfile;               ///< path; empty: <contextDir>/Dockerfile
  std::vector<std::string> tags;        ///< names for the image ("name[:tag]")
  VarMap buildArgs;                     ///< --build-arg K=V
  std::string target;                   ///< --target stage; empty: the last stage
  bool noCache = false;                 ///< rebuild every step (results still fill the cache)
  bool pull = false;                    ///< accepted; builds never reach a registry
  bool quiet = false;                   ///< no progress, no step output (shown on failure)
  FILE* out = stdout;                   ///< progress and step output
};

struct BuildResult {
  std::string imageId;  ///< "sha256:..."
  std::vector<std::string> names;
  int stepsRun = 0;     ///< steps executed (not from the cache)
  int stepsCached = 0;  ///< RUN/COPY/ADD/WORKDIR steps taken from the cache
  int runsExecuted = 0; ///< RUN steps that started a container
};

/// Build. Errors are one line: "Dockerfile:LINE: ..." for anything a Dockerfile line caused,
/// else what failed (context dir missing, bad tag, store errors).
Result<BuildResult> buildImage(const BuildOptions& opts);

}  // namespace berth::build
