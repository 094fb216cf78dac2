#include "engine/tty.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <string>

#include "common/unique_fd.h"
#include "engine/monitor/monitor_util.h"

namespace berth::engine {

RawTerminal::RawTerminal(int fd) {
  if (fd < 0 || !::isatty(fd) || ::tcgetattr(fd, &saved_) != 0) return;
  termios raw = saved_;
  ::cfmakeraw(&raw);
  if (::tcsetattr(fd, TCSANOW, &raw) == 0) fd_ = fd;
}

RawTerminal::~RawTerminal() {
  if (fd_ >= 0) ::tcsetattr(fd_, TCSANOW, &saved_);
}

namespace {

std::atomic<bool> gResized{false};
void onWinch(int) { gResized = true; }

void copySize(int master) {
  winsize ws{};
  for (int fd : {0, 1})
    if (::ioctl(fd, TIOCGWINSZ, &ws) == 0 && ws.ws_row && ws.ws_col) {
      ::ioctl(master, TIOCSWINSZ, &ws);
      return;
    }
}

}  // namespace

int pumpTerminal(int master, bool interactive, pid_t child) {
  RawTerminal raw(interactive ? 0 : -1);
  struct sigaction sa {}, old {};
  sa.sa_handler = onWinch;
  sigemptyset(&sa.sa_mask);
  ::sigaction(SIGWINCH, &sa, &old);
  copySize(master);
  ::fcntl(master, F_SETFL, ::fcntl(master, F_GETFL) | O_NONBLOCK);
  UniqueFd exited(static_cast<int>(::syscall(SYS_pidfd_open, child, 0)));
  int in = interactive ? 0 : -1;
  std::string pending;  // stdin the pty has not taken yet
  char buf[16384];
  bool open = true, childGone = !exited;
  auto flush = [&] {
    while (!pending.empty()) {
      ssize_t w = ::write(master, pending.data(), pending.size());
      if (w > 0) pending.erase(0, static_cast<size_t>(w));
      else if (w < 0 && errno == EINTR) continue;
      else {
        if (!(w < 0 && errno == EAGAIN)) pending.clear();
        return;
      }
    }
  };
  // Until the pty reports EIO (every slave closed) or, once the child is gone, nothing is left
  // to read: a daemon the command left behind may hold the slave forever.
  while (open) {
    if (gResized.exchange(false)) copySize(master);
    pollfd p[3] = {{master, static_cast<short>(POLLIN | (pending.empty() ? 0 : POLLOUT)), 0},
                   {pending.empty() ? in : -1, POLLIN, 0},
                   {childGone ? -1 : exited.get(), POLLIN, 0}};
    int rc = ::poll(p, 3, childGone ? 100 : -1);
    if (rc < 0 && errno == EINTR) continue;
    if (rc < 0) break;
    if (rc == 0) break;  // child gone and the pty quiet
    if (p[2].revents) childGone = true;
    if (p[0].revents & (POLLIN | POLLHUP | POLLERR)) {
      ssize_t n = ::read(master, buf, sizeof buf);
      if (n > 0) open = monitor::writeAll(1, std::string_view(buf, static_cast<size_t>(n)));
      else if (n == 0 || (errno != EINTR && errno != EAGAIN)) open = false;
    }
    if (p[0].revents & POLLOUT) flush();
    if (p[1].revents & (POLLIN | POLLHUP | POLLERR)) {
      ssize_t n = ::read(in, buf, sizeof buf);
      if (n > 0) {
        pending.append(buf, static_cast<size_t>(n));
      } else if (n == 0 || (errno != EINTR && errno != EAGAIN)) {
        in = -1;
        pending += '\x04';  // end of input: ^D to the line discipline
      }
      flush();
    }
  }
  ::sigaction(SIGWINCH, &old, nullptr);
  int st = 0;
  while (::waitpid(child, &st, 0) < 0 && errno == EINTR) {
  }
  return st;
}

}  // namespace berth::engine
