#pragma once
/// The caller's side of a container terminal (`run -it`, `start -ai`, `exec -it`): raw mode on
/// the user's terminal while attached, and the copy loop for an exec'd process's pty.

#include <sys/types.h>
#include <termios.h>

namespace berth::engine {

/// While alive, `fd` (if it is a terminal) is in raw mode, so keys such as ^C reach the
/// container's pty instead of signalling us; the old mode comes back on destruction.
class RawTerminal {
 public:
  explicit RawTerminal(int fd);
  ~RawTerminal();
  RawTerminal(const RawTerminal&) = delete;
  RawTerminal& operator=(const RawTerminal&) = delete;

 private:
  int fd_ = -1;
  termios saved_{};
};

/// Copy `master` (the pty of the exec'd process `child`, our child) to stdout, and stdin into
/// it when `interactive` (end of stdin sends ^D), following our terminal's size on SIGWINCH,
/// until `child` exits and the pty is drained. Reaps `child`; returns its wait status.
int pumpTerminal(int master, bool interactive, pid_t child);

}  // namespace berth::engine
