#pragma once
// Helpers of the HTTP server and client tests (server_test.cc, body_stream_test.cc; each is
// also built on io_uring): raw loopback sockets, a test server's options, a two-piece body.

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <atomic>
#include <chrono>
#include <optional>
#include <string>
#include <string_view>

#include "common/unique_fd.h"
#include "http/body_source.h"
#include "http/server.h"

namespace berth::http::servertest {

using namespace std::chrono_literals;

/// Raw TCP exchange: send `data`, then read until the peer closes or `waitMs` of silence.
inline std::string rawExchange(uint16_t port, std::string_view data, int waitMs = 500,
                        bool* closed = nullptr) {
  UniqueFd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd.get(), reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) return "connect failed";
  ::send(fd.get(), data.data(), data.size(), MSG_NOSIGNAL);
  std::string out;
  if (closed) *closed = false;
  for (;;) {
    pollfd p{fd.get(), POLLIN, 0};
    if (::poll(&p, 1, waitMs) <= 0) break;
    char buf[4096];
    ssize_t n = ::recv(fd.get(), buf, sizeof buf, 0);
    if (n <= 0) {
      if (closed) *closed = true;
      break;
    }
    out.append(buf, static_cast<size_t>(n));
  }
  return out;
}

/// Options for a test server on a kernel-chosen loopback port.
inline ServerOptions loopbackOptions() {
  ServerOptions o;
  o.host = "127.0.0.1";
  o.port = 0;
  return o;
}

inline size_t countOf(const std::string& s, std::string_view what) {
  size_t n = 0;
  for (size_t p = s.find(what); p != std::string::npos; p = s.find(what, p + 1)) ++n;
  return n;
}

// A BodySource for the tests: "one", then (once `release` is set, or after 5 s) "two"; or, in
// cut mode, an error after "one". Records whether "two" had to wait for the release.
struct TwoPieces final : BodySource {
  TwoPieces(std::atomic<bool>& release, std::optional<uint64_t> len, bool cut)
      : release_(release), len_(len), cut_(cut) {}
  boost::asio::awaitable<Result<std::string_view>> next() override { return pull(); }
  std::optional<uint64_t> length() const override { return len_; }
  boost::asio::awaitable<Result<std::string_view>> pull() {
    ++calls_;
    if (calls_ == 1) co_return std::string_view("one");
    if (calls_ == 2) {
      auto until = std::chrono::steady_clock::now() + 5s;
      while (!release_.load() && std::chrono::steady_clock::now() < until) {
        boost::asio::steady_timer t(currentWorkerExecutor(), 10ms);
        co_await t.async_wait(boost::asio::use_awaitable);
      }
      if (cut_) co_return fail(ErrorCode::kInternal, "producer failed");
      co_return std::string_view("two");
    }
    co_return std::string_view();
  }
  std::atomic<bool>& release_;
  std::optional<uint64_t> len_;
  bool cut_;
  int calls_ = 0;
};

/// Read from `fd` until `what` has arrived (or the peer closed, or `limit` passed).
inline bool readUntil(int fd, std::string& out, std::string_view what, std::chrono::milliseconds limit = 3000ms,
               bool* closed = nullptr) {
  auto end = std::chrono::steady_clock::now() + limit;
  while (out.find(what) == std::string::npos) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(end - std::chrono::steady_clock::now());
    if (left.count() <= 0) return false;
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) return false;
    char buf[4096];
    ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n <= 0) {
      if (closed) *closed = true;
      return out.find(what) != std::string::npos;
    }
    out.append(buf, static_cast<size_t>(n));
  }
  return true;
}

inline UniqueFd connectLoopback(uint16_t port) {
  UniqueFd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd.get(), reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) return UniqueFd();
  return fd;
}

}  // namespace berth::http::servertest
