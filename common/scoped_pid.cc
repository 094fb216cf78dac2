#include "common/scoped_pid.h"

#include <signal.h>
#include <sys/wait.h>

#include <thread>
#include <utility>

namespace berth {

ScopedPid& ScopedPid::operator=(ScopedPid&& o) noexcept {
  if (this != &o) {
    killAndReap();
    pid_ = o.release();
  }
  return *this;
}

pid_t ScopedPid::release() { return std::exchange(pid_, -1); }

Result<int> ScopedPid::wait() {
  if (pid_ <= 0) return fail(ErrorCode::kFailedPrecondition, "wait: no process");
  int status = 0;
  for (;;) {
    pid_t r = ::waitpid(pid_, &status, 0);
    if (r == pid_) break;
    if (r < 0 && errno == EINTR) continue;
    return failErrno("waitpid");
  }
  pid_ = -1;
  return status;
}

Result<std::optional<int>> ScopedPid::waitFor(std::chrono::milliseconds timeout) {
  if (pid_ <= 0) return fail(ErrorCode::kFailedPrecondition, "wait: no process");
  auto deadline = std::chrono::steady_clock::now() + timeout;
  auto sleep = std::chrono::microseconds(200);
  for (;;) {
    int status = 0;
    pid_t r = ::waitpid(pid_, &status, WNOHANG);
    if (r == pid_) {
      pid_ = -1;
      return std::optional<int>(status);
    }
    if (r < 0 && errno != EINTR) return failErrno("waitpid");
    if (std::chrono::steady_clock::now() >= deadline) return std::optional<int>();
    std::this_thread::sleep_for(sleep);
    if (sleep < std::chrono::milliseconds(20)) sleep *= 2;
  }
}

void ScopedPid::killAndReap() {
  if (pid_ <= 0) return;
  ::kill(pid_, SIGKILL);
  int status;
  while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
  }
  pid_ = -1;
}

int exitCodeFromStatus(int status) {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return 255;
}

}  // namespace berth
