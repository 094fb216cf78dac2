#pragma once
/// ScopedPid: owns a child process. Unless released, the destructor sends SIGKILL and reaps
/// it, so no error path leaves a stray process or zombie behind.

#include <sys/types.h>

#include <chrono>
#include <optional>

#include "common/error.h"

namespace berth {

class ScopedPid {
 public:
  ScopedPid() = default;
  explicit ScopedPid(pid_t pid) : pid_(pid) {}
  ~ScopedPid() { killAndReap(); }
  ScopedPid(ScopedPid&& o) noexcept : pid_(o.release()) {}
  ScopedPid& operator=(ScopedPid&& o) noexcept;
  ScopedPid(const ScopedPid&) = delete;
  ScopedPid& operator=(const ScopedPid&) = delete;

  pid_t get() const { return pid_; }
  bool valid() const { return pid_ > 0; }
  /// Give up ownership: the process is left running and unreaped.
  pid_t release();
  /// Block until the child exits; returns the raw wait status. The pid is then released.
  Result<int> wait();
  /// Wait at most `timeout`; nullopt if it is still running.
  Result<std::optional<int>> waitFor(std::chrono::milliseconds timeout);
  /// SIGKILL and reap, if still owned.
  void killAndReap();

 private:
  pid_t pid_ = -1;
};

/// Convert a wait status into a shell-style exit code (128+signal for a signal death).
int exitCodeFromStatus(int status);

}  // namespace berth
