#pragma once
/// Pieces both halves of a container's monitor use: engine/monitor.cc (the full engine, in
/// `berth`) and engine/monitor/berth_monitor.cc (the static `berth-monitor`, libc only, so
/// this header uses nothing else).

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <time.h>
#include <unistd.h>

#include <cstdint>
#include <string_view>

namespace berth::engine::monitor {

/// The signals a monitor watches (SIGWINCH: the attached CLI's terminal was resized).
inline constexpr int kSignals[] = {SIGCHLD, SIGUSR1, SIGTERM, SIGINT, SIGHUP, SIGPIPE, SIGWINCH};

inline int gSelfPipe = -1;
inline void onSelfPipeSignal(int) {
  int e = errno;
  char c = 0;
  (void)!::write(gSelfPipe, &c, 1);
  errno = e;
}

/// Signals arrive through a self-pipe from handlers, not by blocking or ignoring them: a
/// blocked mask or SIG_IGN would be inherited by the container's init across exec, handlers
/// are reset to the default there. Returns the pipe's read end, or -1 with errno set.
inline int installSelfPipeSignals() {
  int sp[2];
  if (::pipe2(sp, O_CLOEXEC | O_NONBLOCK) < 0) return -1;
  gSelfPipe = sp[1];
  struct sigaction sa {};
  sa.sa_handler = onSelfPipeSignal;
  sa.sa_flags = SA_RESTART;
  sigemptyset(&sa.sa_mask);
  for (int s : kSignals) ::sigaction(s, &sa, nullptr);
  return sp[0];
}

/// Writes all of `s`, retrying on EINTR; false on any other failure.
inline bool writeAll(int fd, std::string_view s) {
  size_t off = 0;
  while (off < s.size()) {
    ssize_t n = ::write(fd, s.data() + off, s.size() - off);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    off += static_cast<size_t>(n);
  }
  return true;
}

inline int64_t clockNs(clockid_t id) {
  timespec ts;
  clock_gettime(id, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1000000000 + ts.tv_nsec;
}
inline int64_t monoMs() { return clockNs(CLOCK_MONOTONIC) / 1000000; }

}  // namespace berth::engine::monitor
