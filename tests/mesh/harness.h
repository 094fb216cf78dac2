#pragma once
// Helpers for the mesh integration tests: processes, free ports, HTTP calls, raw sockets.

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <map>
#include <string>
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

/// A free loopback TCP port (bound once and released; good enough on loopback).
inline uint16_t freePort() {
  UniqueFd fd(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bind(fd.get(), reinterpret_cast<sockaddr*>(&a), sizeof a);
  socklen_t len = sizeof a;
  getsockname(fd.get(), reinterpret_cast<sockaddr*>(&a), &len);
  return ntohs(a.sin_port);
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

/// fork+exec `argv` with stdout/stderr appended to `log`.
inline ScopedPid spawn(const std::vector<std::string>& argv, const std::string& log) {
  pid_t pid = fork();
  if (pid == 0) {
    int fd = open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (fd >= 0) {
      dup2(fd, 1);
      dup2(fd, 2);
    }
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

inline long rssKiB(pid_t pid) {
  auto s = fs::readFile("/proc/" + std::to_string(pid) + "/status");
  if (!s) return -1;
  auto pos = s->find("VmRSS:");
  if (pos == std::string::npos) return -1;
  return std::strtol(s->c_str() + pos + 6, nullptr, 10);
}

}  // namespace berth::meshtest
