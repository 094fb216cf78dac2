#pragma once
/// The flags of `berth run` / `berth create` as typed, and their validation into a
/// ContainerConfig. Every malformed value gives one kInvalidArgument line naming the flag and
/// the value ("invalid --memory \"12q\": ..."). No file system or image access except
/// reading --env-file and --security-opt seccomp=FILE, and checking bind sources exist.

#include <optional>
#include <string>
#include <vector>

#include "common/error.h"
#include "engine/config.h"

namespace berth::engine {

struct RunFlags {
  bool detach = false, interactive = false, tty = false, rm = false, publishAll = false,
       readOnly = false, privileged = false, init = false, noHealthcheck = false;
  std::string name, user, workdir, hostname, memory, cpus, pidsLimit, network = "bridge",
      restart = "no", stopSignal, stopTimeout, healthCmd, healthInterval, healthTimeout,
      healthStartPeriod, healthRetries;
  std::optional<std::string> entrypoint;
  std::vector<std::string> env, envFile, publish, volumes, tmpfs, capAdd, capDrop, securityOpt,
      labels, ulimits, logOpts, networkAliases;
  std::string image;
  std::vector<std::string> cmd;
};

/// Validate the flags. Image-dependent parts (args, env, health, stop signal, -P ports) are
/// merged later by mergeImageConfig.
Result<ContainerConfig> parseRunFlags(const RunFlags& f);

/// Go-style durations: "300ms", "30s", "1m30s", "2h". Returns milliseconds.
Result<int64_t> parseDurationMs(const std::string& s);
/// "SIGTERM", "TERM", "15" -> 15. kInvalidArgument otherwise.
Result<int> parseSignal(const std::string& s);
/// "KILL" -> "CAP_KILL"; "ALL" stays; unknown names are an error.
Result<std::string> normalizeCapability(const std::string& s);
/// Every capability name the kernel may know, "CAP_*".
const std::vector<std::string>& allCapabilities();
/// Container names: [a-zA-Z0-9][a-zA-Z0-9_.-]*.
bool validContainerName(const std::string& s);
/// Named volume names: same rule as container names.
bool validVolumeName(const std::string& s);

}  // namespace berth::engine
