#include "mesh/admin_unix.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <atomic>
#include <cstring>
#include <thread>

#include "common/unique_fd.h"
#include "http/parser.h"

namespace berth::mesh {

struct UnixAdmin::State {
  UniqueFd listen;
  int stopPipe[2] = {-1, -1};
  std::thread thread;
};

UnixAdmin::UnixAdmin(std::string path, std::function<http::Response(http::Request&)> handler)
    : path_(std::move(path)), handler_(std::move(handler)) {}

UnixAdmin::~UnixAdmin() { stop(); }

Result<void> UnixAdmin::start() {
  sockaddr_un a{};
  a.sun_family = AF_UNIX;
  if (path_.empty() || path_.size() >= sizeof a.sun_path)
    return fail(ErrorCode::kInvalidArgument, "admin_socket: path '" + path_ + "' is empty or too long");
  std::memcpy(a.sun_path, path_.c_str(), path_.size());
  struct stat sb{};
  if (lstat(path_.c_str(), &sb) == 0) {
    // A socket left by an earlier run is replaced; anything else is not ours to remove.
    if (!S_ISSOCK(sb.st_mode))
      return fail(ErrorCode::kAlreadyExists, "admin_socket: " + path_ + " exists and is not a socket");
    ::unlink(path_.c_str());
  }
  auto st = std::make_unique<State>();
  st->listen = UniqueFd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!st->listen) return failErrno("admin_socket: socket");
  mode_t old = ::umask(0177);  // 0600 from the start: no window with a wider mode
  int rc = ::bind(st->listen.get(), reinterpret_cast<sockaddr*>(&a), sizeof a);
  ::umask(old);
  if (rc != 0) return failErrno("admin_socket: bind " + path_);
  if (::listen(st->listen.get(), 64) != 0) {
    ::unlink(path_.c_str());
    return failErrno("admin_socket: listen " + path_);
  }
  if (::pipe2(st->stopPipe, O_CLOEXEC) != 0) {
    ::unlink(path_.c_str());
    return failErrno("admin_socket: pipe");
  }
  st_ = std::move(st);
  st_->thread = std::thread([this] { serve(); });
  return {};
}

void UnixAdmin::stop() {
  if (!st_) return;
  char b = 1;
  (void)!::write(st_->stopPipe[1], &b, 1);
  if (st_->thread.joinable()) st_->thread.join();
  ::close(st_->stopPipe[0]);
  ::close(st_->stopPipe[1]);
  st_.reset();
  ::unlink(path_.c_str());
}

void UnixAdmin::serve() {
  for (;;) {
    pollfd p[2] = {{st_->listen.get(), POLLIN, 0}, {st_->stopPipe[0], POLLIN, 0}};
    if (::poll(p, 2, -1) < 0) {
      if (errno == EINTR) continue;
      return;
    }
    if (p[1].revents) return;
    if (!(p[0].revents & POLLIN)) continue;
    UniqueFd c(::accept4(st_->listen.get(), nullptr, nullptr, SOCK_CLOEXEC));
    if (!c) continue;
    handle(c.get());
  }
}

void UnixAdmin::handle(int fd) {
  timeval tv{2, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  http::Limits limits;
  limits.maxBodyBytes = 1 << 20;
  std::string in;
  http::Request req;
  http::ParseResult r;
  char buf[8192];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n <= 0) return;
    in.append(buf, size_t(n));
    r = http::parseRequest(in, limits, req);
    if (!r.incomplete()) break;
    if (in.size() > (2u << 20)) return;
  }
  http::Response resp;
  if (r.failed()) resp = http::Response(r.errorStatus ? r.errorStatus : 400, std::string(r.error) + "\n");
  else resp = handler_(req);
  std::string out = "HTTP/1.1 " + std::to_string(resp.status) + " " +
                    std::string(http::reasonPhrase(resp.status)) + "\r\n";
  for (const auto& h : resp.headers) {
    if (http::iequals(h.name, "content-length") || http::iequals(h.name, "connection") ||
        http::iequals(h.name, "transfer-encoding"))
      continue;
    out += h.name + ": " + h.value + "\r\n";
  }
  out += "Content-Length: " + std::to_string(resp.body.size()) + "\r\nConnection: close\r\n\r\n";
  if (req.method != "HEAD") out += resp.body;
  size_t off = 0;
  while (off < out.size()) {
    ssize_t n = ::write(fd, out.data() + off, out.size() - off);
    if (n <= 0) return;
    off += size_t(n);
  }
}

}  // namespace berth::mesh
