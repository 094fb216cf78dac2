#pragma once
/// ContainerConfig: everything `run`/`create` decided about a container (flags merged with the
/// image config), stored as JSON in its record, and what the OCI bundle is built from.

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "common/error.h"
#include "network/ports.h"

namespace berth::engine {

struct MountSpec {
  std::string type;         ///< "bind", "volume", "tmpfs"
  std::string source;       ///< host path (bind), volume name (volume), "" (tmpfs)
  std::string destination;  ///< absolute path in the container
  bool readOnly = false;
  bool noCopy = false;  ///< volume: never fill it from the image (`-v NAME:PATH:nocopy`)
  std::vector<std::string> options;  ///< tmpfs options ("size=64m", "mode=1777")
};

struct Ulimit {
  std::string name;  ///< "nofile"
  uint64_t soft = 0, hard = 0;
};

struct HealthConfig {
  std::vector<std::string> test;  ///< ["CMD", ...] / ["CMD-SHELL", "..."] / ["NONE"]
  int64_t intervalMs = 30000, timeoutMs = 30000, startPeriodMs = 0;
  int retries = 3;
};

struct RestartPolicy {
  std::string name = "no";  ///< no | on-failure | always | unless-stopped
  int maxRetries = 0;       ///< on-failure:N (0 = unlimited)
};

struct ContainerConfig {
  std::string image;                       ///< as the user typed it
  std::optional<std::vector<std::string>> entrypoint;  ///< --entrypoint ("" -> empty)
  std::vector<std::string> cmd;            ///< args after the image
  std::vector<std::string> args;           ///< the final process args (entrypoint + cmd)
  std::vector<std::string> env;            ///< final KEY=VALUE (image env, then -e)
  std::string user, workdir, hostname;
  bool tty = false, interactive = false, autoRemove = false, init = false, readOnly = false,
       privileged = false, noNewPrivileges = false, publishAll = false;
  std::vector<network::PortMapping> ports;  ///< as asked (host port 0 = pick at start)
  std::vector<MountSpec> mounts;
  int64_t memory = 0;     ///< bytes, 0 = unlimited
  int64_t nanoCpus = 0;   ///< 1e9 = one CPU
  int64_t pidsLimit = 0;  ///< 0 = unlimited
  std::vector<std::string> capAdd, capDrop;  ///< "CAP_NET_ADMIN" or "ALL"
  std::string seccomp;    ///< "" default, "unconfined", or the profile JSON text
  std::string network = "bridge";  ///< bridge | host | none | NAME
  std::vector<std::string> networkAliases;
  RestartPolicy restart;
  std::optional<HealthConfig> health;  ///< flags merged with the image's HEALTHCHECK
  std::map<std::string, std::string> labels;
  int stopSignal = 15;
  int stopTimeout = 10;  ///< seconds
  std::vector<Ulimit> ulimits;
  int64_t logMaxSize = 10 << 20;  ///< bytes per log file before rotation
  int logMaxFile = 3;
};

std::string configToJson(const ContainerConfig& c);
Result<ContainerConfig> configFromJson(const std::string& json);

}  // namespace berth::engine
