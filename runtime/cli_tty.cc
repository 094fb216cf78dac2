#include "runtime/cli_tty.h"

#include <poll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <termios.h>
#include <unistd.h>

#include <cstring>

#include "common/fs.h"
#include "runtime/process_setup.h"

namespace berth::runtime {

Result<ConsoleProxy> ConsoleProxy::listen(const std::string& dir) {
  ConsoleProxy p;
  BERTH_TRY(fs::mkdirs(dir, 0700));
  BERTH_ASSIGN(p.dir_, fs::makeTempDir(dir, "console-"));
  p.path_ = p.dir_ + "/sock";
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (p.path_.size() >= sizeof addr.sun_path) return fail(ErrorCode::kInvalidArgument, "console path too long");
  std::memcpy(addr.sun_path, p.path_.c_str(), p.path_.size());
  p.listen_.reset(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!p.listen_) return failErrno("console socket");
  if (::bind(p.listen_.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) < 0 ||
      ::listen(p.listen_.get(), 1) < 0)
    return failErrno("console socket " + p.path_);
  return p;
}

ConsoleProxy::~ConsoleProxy() {
  if (!dir_.empty()) (void)fs::removeAll(dir_);
}

Result<void> ConsoleProxy::acceptMaster() {
  UniqueFd conn(::accept4(listen_.get(), nullptr, nullptr, SOCK_CLOEXEC));
  if (!conn) return failErrno("accept console");
  BERTH_ASSIGN(int fd, recvFd(conn.get()));
  master_.reset(fd);
  return {};
}

void ConsoleProxy::proxy() {
  struct termios saved {};
  bool tty = ::isatty(0) && ::tcgetattr(0, &saved) == 0;
  if (tty) {
    struct termios raw = saved;
    ::cfmakeraw(&raw);
    ::tcsetattr(0, TCSANOW, &raw);
    struct winsize ws {};
    if (::ioctl(0, TIOCGWINSZ, &ws) == 0) ::ioctl(master_.get(), TIOCSWINSZ, &ws);
  }
  char buf[8192];
  bool inOpen = true;
  for (;;) {
    struct pollfd p[2] = {{master_.get(), POLLIN, 0}, {inOpen ? 0 : -1, POLLIN, 0}};
    if (::poll(p, 2, -1) < 0) {
      if (errno == EINTR) continue;
      break;
    }
    if (p[0].revents) {
      ssize_t n = ::read(master_.get(), buf, sizeof buf);
      if (n <= 0) break;  // EIO once every slave fd is closed
      for (ssize_t off = 0; off < n;) {
        ssize_t w = ::write(1, buf + off, static_cast<size_t>(n - off));
        if (w <= 0) break;
        off += w;
      }
    }
    if (inOpen && p[1].revents) {
      ssize_t n = ::read(0, buf, sizeof buf);
      if (n <= 0) {
        inOpen = false;
        char eof = 4;  // ^D to the pty's line discipline
        (void)!::write(master_.get(), &eof, 1);
      } else {
        (void)!::write(master_.get(), buf, static_cast<size_t>(n));
      }
    }
  }
  if (tty) ::tcsetattr(0, TCSANOW, &saved);
}

}  // namespace berth::runtime
