#pragma once
/// One container's record: what the engine knows about it, as stored in SQLite.

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <vector>

#include "engine/config.h"
#include "engine/state.h"
#include "network/network.h"

namespace berth::engine {

struct Record {
  std::string id;        ///< 64 hex chars
  std::string name;      ///< unique
  std::string image;     ///< as typed
  std::string imageId;   ///< "sha256:..."
  ContainerConfig config;
  State state = State::kCreating;
  pid_t pid = 0;                 ///< container init (host pid) while running
  uint64_t pidStart = 0;         ///< its start time (/proc/pid/stat field 22), against reuse
  pid_t monitorPid = 0;
  uint64_t monitorStart = 0;
  pid_t ownerPid = 0;            ///< CLI holding a creating/removing transition
  uint64_t ownerStart = 0;
  int exitCode = 0;
  int64_t created = 0, started = 0, finished = 0;  ///< unix nanoseconds
  int restartCount = 0;
  std::string health;            ///< "", "starting", "healthy", "unhealthy"
  int healthFailures = 0;
  std::string healthLog;         ///< JSON array of the last checks
  std::vector<network::Attachment> networks;
  std::vector<network::PortMapping> ports;  ///< resolved host ports while running
  bool stopRequested = false;    ///< stop/kill by the user: no restart
  std::string error;             ///< last start error

  Lifecycle lifecycle() const { return Lifecycle{state}; }
  std::string shortId() const { return id.substr(0, 12); }
};

/// Unix time in nanoseconds.
int64_t nowNs();
/// RFC 3339 with nanoseconds, UTC ("2026-11-26T10:40:21.123456789Z"); "" for 0.
std::string rfc3339(int64_t ns);

}  // namespace berth::engine
