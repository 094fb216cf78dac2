#pragma once
/// Process facts from /proc, for telling the truth after a crash: a pid is "ours" only if its
/// start time matches the one recorded (pids get reused).

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/error.h"

namespace berth::engine {

/// Field 22 of /proc/<pid>/stat (start time in clock ticks since boot); nullopt if gone.
std::optional<uint64_t> pidStartTime(pid_t pid);
/// Alive, not a zombie, and started at `start` (0 = don't check).
bool pidAlive(pid_t pid, uint64_t start);
/// Wait until `pid` (any process, not only children) is gone, at most `timeoutMs` (-1 forever).
/// True if it is gone.
bool waitPidGone(pid_t pid, uint64_t start, int timeoutMs);
/// Per-process facts for `top`: uid, cpu time (seconds), command line.
struct ProcInfo {
  pid_t pid = 0, ppid = 0;
  uid_t uid = 0;
  double cpuSeconds = 0;
  std::string cmd;
};
std::optional<ProcInfo> procInfo(pid_t pid);

}  // namespace berth::engine
