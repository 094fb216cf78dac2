#pragma once
// Helpers for the mesh integration tests: processes, free ports, HTTP calls, raw sockets.

#include <arpa/inet.h>
#include <fcntl.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstddef>
#include <functional>
#include <cstring>
#include <map>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/fs.h"
#include "common/scoped_pid.h"
#include "common/unique_fd.h"
#include "http/client.h"

namespace berth::meshtest {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

/// A TCP socket bound to a kernel-chosen loopback port (set in `port`).
inline UniqueFd bindLoopback(uint16_t& port) {
  UniqueFd fd(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bind(fd.get(), reinterpret_cast<sockaddr*>(&a), sizeof a);
  socklen_t len = sizeof a;
  getsockname(fd.get(), reinterpret_cast<sockaddr*>(&a), &len);
  port = ntohs(a.sin_port);
  return fd;
}

/// A free loopback TCP port (bound once and released; good enough on loopback).
inline uint16_t freePort() {
  uint16_t port = 0;
  bindLoopback(port);
  return port;
}

inline UniqueFd connectTo(uint16_t port) {
  UniqueFd fd(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd.get(), reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) return UniqueFd();
  return fd;
}

inline bool waitPort(uint16_t port, std::chrono::milliseconds timeout = 5000ms) {
  auto end = Clock::now() + timeout;
  while (Clock::now() < end) {
    if (connectTo(port)) return true;
    std::this_thread::sleep_for(20ms);
  }
  return false;
}

/// In a child before exec: io_uring_setup fails with EPERM from now on, as under container
/// seccomp profiles that refuse io_uring (Docker's default).
inline void denyIoUring() {
  sock_filter f[] = {
      BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, arch)),
#if defined(__x86_64__)
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_X86_64, 1, 0),
#else
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_AARCH64, 1, 0),
#endif
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
      BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, nr)),
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_io_uring_setup, 0, 1),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | EPERM),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
  };
  sock_fprog prog{static_cast<unsigned short>(sizeof f / sizeof f[0]), f};
  if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 || prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog) != 0)
    _exit(126);
}

/// fork+exec `argv` with stdout/stderr appended to `log` (with io_uring refused if asked).
inline ScopedPid spawn(const std::vector<std::string>& argv, const std::string& log,
                       bool noIoUring = false) {
  pid_t parent = getpid();
  pid_t pid = fork();
  if (pid == 0) {
    // Dies with the test process even if that crashes before its TearDown.
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent) _exit(126);
    int fd = open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (fd >= 0) {
      dup2(fd, 1);
      dup2(fd, 2);
    }
    if (noIoUring) denyIoUring();
    std::vector<char*> args;
    for (auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    execv(args[0], args.data());
    _exit(127);
  }
  return ScopedPid(pid);
}

struct Reply {
  int status = 0;  ///< 0: transport error
  std::string body, reason, backend, traceparent, error;
};

inline Reply call(uint16_t port, const std::string& method, const std::string& target,
                  const std::string& body = {},
                  const std::map<std::string, std::string>& headers = {},
                  std::chrono::milliseconds timeout = 5000ms) {
  http::Request req;
  req.method = method;
  req.body = body;
  for (auto& [k, v] : headers) req.headers.set(k, v);
  auto r = http::fetch("http://127.0.0.1:" + std::to_string(port) + target, std::move(req), timeout);
  Reply out;
  if (!r) {
    out.error = r.error().message();
    return out;
  }
  out.status = r->status;
  out.body = r->body;
  out.reason = std::string(r->headers.get("x-berth-reason"));
  out.backend = std::string(r->headers.get("x-backend"));
  out.traceparent = std::string(r->headers.get("x-seen-traceparent"));
  return out;
}

/// Write raw bytes, read until the peer closes or `timeout` passes.
inline std::string rawExchange(uint16_t port, const std::string& bytes,
                               std::chrono::milliseconds timeout = 2000ms) {
  UniqueFd fd = connectTo(port);
  if (!fd) return "";
  size_t off = 0;
  while (off < bytes.size()) {
    ssize_t n = write(fd.get(), bytes.data() + off, bytes.size() - off);
    if (n <= 0) break;
    off += static_cast<size_t>(n);
  }
  std::string out;
  auto end = Clock::now() + timeout;
  char buf[8192];
  while (Clock::now() < end) {
    pollfd p{fd.get(), POLLIN, 0};
    int left = static_cast<int>(std::chrono::duration_cast<std::chrono::milliseconds>(end - Clock::now()).count());
    if (poll(&p, 1, std::max(1, left)) <= 0) break;
    ssize_t n = read(fd.get(), buf, sizeof buf);
    if (n <= 0) break;
    out.append(buf, static_cast<size_t>(n));
  }
  return out;
}

inline nlohmann::json getJson(uint16_t port, const std::string& path) {
  auto r = call(port, "GET", path);
  if (r.status != 200) return nlohmann::json();
  return nlohmann::json::parse(r.body, nullptr, false);
}

/// Endpoint object from the admin's /clusters for `cluster` / `address`.
inline nlohmann::json endpointOf(uint16_t admin, const std::string& cluster, const std::string& addr) {
  auto all = getJson(admin, "/clusters");
  if (!all.is_array()) return nlohmann::json();
  for (auto& c : all)
    if (c["name"] == cluster)
      for (auto& e : c["endpoints"])
        if (e["address"] == addr) return e;
  return nlohmann::json();
}

inline uint64_t backendCount(uint16_t port) {
  auto r = call(port, "GET", "/count");
  return r.status == 200 ? std::stoull(r.body) : 0;
}

/// Poll `pred` every 20 ms for at most `timeout`.
template <typename F>
bool eventually(F pred, std::chrono::milliseconds timeout) {
  auto end = Clock::now() + timeout;
  while (Clock::now() < end) {
    if (pred()) return true;
    std::this_thread::sleep_for(20ms);
  }
  return pred();
}

/// A backend on a thread of the test, speaking raw HTTP/1.1: for each connection (one at a
/// time, for at most 20 s in all) it reads a request head and hands the socket to `script`,
/// with what arrived after the head.
class RawBackend {
 public:
  using Script = std::function<void(int fd, const std::string& afterHead)>;
  explicit RawBackend(Script script) : script_(std::move(script)) {
    lfd_ = bindLoopback(port_);
    listen(lfd_.get(), 16);
    thread_ = std::thread([this] { serve(); });
  }
  ~RawBackend() {
    stop_ = true;
    thread_.join();
  }
  uint16_t port() const { return port_; }

  /// Write all of `data` (blocking); false if the peer went away.
  static bool writeAll(int fd, std::string_view data) {
    while (!data.empty()) {
      ssize_t n = send(fd, data.data(), data.size(), MSG_NOSIGNAL);
      if (n <= 0) return false;
      data.remove_prefix(static_cast<size_t>(n));
    }
    return true;
  }

 private:
  void serve() {
    auto end = Clock::now() + 20s;
    while (!stop_ && Clock::now() < end) {
      pollfd p{lfd_.get(), POLLIN, 0};
      if (poll(&p, 1, 50) <= 0) continue;
      UniqueFd c(accept4(lfd_.get(), nullptr, nullptr, SOCK_CLOEXEC));
      if (!c) continue;
      std::string head;
      char buf[4096];
      while (head.find("\r\n\r\n") == std::string::npos && head.size() < 65536) {
        pollfd q{c.get(), POLLIN, 0};
        if (poll(&q, 1, 5000) <= 0) break;
        ssize_t n = recv(c.get(), buf, sizeof buf, 0);
        if (n <= 0) break;
        head.append(buf, static_cast<size_t>(n));
      }
      size_t end = head.find("\r\n\r\n");
      if (end != std::string::npos) script_(c.get(), head.substr(end + 4));
    }
  }
  Script script_;
  UniqueFd lfd_;
  uint16_t port_ = 0;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

/// Read from `fd` until `what` has arrived, the peer closed (`*closed`), or `limit` passed.
inline bool readUntil(int fd, std::string& out, std::string_view what,
                      std::chrono::milliseconds limit = 5000ms, bool* closed = nullptr) {
  auto end = Clock::now() + limit;
  while (out.find(what) == std::string::npos) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(end - Clock::now());
    if (left.count() <= 0) return false;
    pollfd p{fd, POLLIN, 0};
    if (poll(&p, 1, static_cast<int>(left.count())) <= 0) return false;
    char buf[8192];
    ssize_t n = recv(fd, buf, sizeof buf, 0);
    if (n <= 0) {
      if (closed) *closed = true;
      return out.find(what) != std::string::npos;
    }
    out.append(buf, static_cast<size_t>(n));
  }
  return true;
}

/// A "Vm...:" figure of /proc/PID/status in KiB (VmRSS now, VmHWM the peak), -1 if unknown.
inline long statusKiB(pid_t pid, const std::string& field) {
  auto s = fs::readFile("/proc/" + std::to_string(pid) + "/status");
  if (!s) return -1;
  auto pos = s->find(field + ":");
  if (pos == std::string::npos) return -1;
  return std::strtol(s->c_str() + pos + field.size() + 1, nullptr, 10);
}
inline long rssKiB(pid_t pid) { return statusKiB(pid, "VmRSS"); }

}  // namespace berth::meshtest
