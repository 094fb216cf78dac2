#pragma once
/// The runtime's record of one container, <stateRoot>/<id>/state.json, plus the copy of its
/// config (config.json) and the exec fifo. Status is never stored: it is derived from the
/// live process (pid + start time, so a recycled pid reads as stopped), the fifo and the
/// freezer.

#include <sys/types.h>

#include <map>
#include <string>

#include "common/error.h"
#include "runtime/cgroup.h"
#include "runtime/runtime.h"

namespace berth::runtime {

struct Record {
  std::string id, bundle, rootfs, created, owner;
  pid_t pid = 0;
  uint64_t startTime = 0;  ///< /proc/<pid>/stat field 22
  std::map<std::string, std::string> annotations;
  bool hasCgroups = false;
  CgroupPaths cgroups;
  bool hasPoststart = false, hasPoststop = false;
};

inline constexpr const char* kStateFile = "state.json";
inline constexpr const char* kConfigFile = "config.json";
inline constexpr const char* kFifoFile = "exec.fifo";

std::string recordToJson(const Record& r);
Result<Record> recordFromJson(std::string_view text);
/// Write state.json (temp + rename in the same dir; /run is tmpfs, so no fsync).
Result<void> writeRecord(const std::string& dir, const Record& r);
Result<Record> readRecord(const std::string& dir);

/// Process start time (clock ticks since boot), nullopt if the pid is gone or a zombie.
std::optional<uint64_t> liveStartTime(pid_t pid);
/// True if `pid` is alive and still the same process.
bool sameProcessAlive(pid_t pid, uint64_t startTime);
/// RFC 3339 UTC time with nanoseconds.
std::string nowRfc3339();

}  // namespace berth::runtime
