#pragma once
/// Test support for streamed bodies (header only, used by http and mesh tests and
/// mesh-test-backend): a BodySource fed by hand, and a handler that answers a streamed
/// request body piece by piece as it arrives (a gRPC bidirectional echo), ending with
/// trailers.

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <chrono>
#include <deque>
#include <memory>
#include <string>
#include <vector>

#include "http/body_source.h"
#include "http/message.h"

namespace berth::http::testing {

/// A body the test writes as it goes: push() pieces, close() to end. next() waits up to
/// `wait` for each piece, then fails (a test never hangs on it).
class Channel : public BodySource {
 public:
  explicit Channel(boost::asio::any_io_executor ex,
                   std::chrono::milliseconds wait = std::chrono::seconds(10))
      : timer_(std::move(ex)), wait_(wait) {}
  void push(std::string piece) {
    q_.push_back(std::move(piece));
    timer_.cancel();
  }
  void close() {
    closed_ = true;
    timer_.cancel();
  }
  boost::asio::awaitable<Result<std::string_view>> next() override {
    if (q_.empty() && !closed_) {
      timer_.expires_after(wait_);
      co_await timer_.async_wait(boost::asio::as_tuple(boost::asio::use_awaitable));
    }
    if (q_.empty() && !closed_) co_return fail(ErrorCode::kTimeout, "channel: nothing pushed");
    if (q_.empty()) co_return std::string_view();
    cur_ = std::move(q_.front());
    q_.pop_front();
    co_return std::string_view(cur_);
  }
  std::optional<uint64_t> length() const override { return std::nullopt; }

 private:
  boost::asio::steady_timer timer_;
  std::chrono::milliseconds wait_;
  std::deque<std::string> q_;
  std::string cur_;
  bool closed_ = false;
};

/// "echo:<piece>" for each piece of `in` as it comes; trailers grpc-status 0 and x-pieces N.
class EchoSource : public BodySource {
 public:
  explicit EchoSource(std::shared_ptr<BodySource> in) : in_(std::move(in)) {}
  boost::asio::awaitable<Result<std::string_view>> next() override {
    auto p = co_await in_->next();
    if (!p) co_return fail(p.error());
    if (p->empty()) {
      if (!done_) {
        trailers_.add("grpc-status", "0");
        trailers_.add("x-pieces", std::to_string(pieces_));
      }
      done_ = true;
      co_return std::string_view();
    }
    ++pieces_;
    cur_ = "echo:" + std::string(*p);
    co_return std::string_view(cur_);
  }
  std::optional<uint64_t> length() const override { return std::nullopt; }
  const Headers* trailers() const override { return done_ ? &trailers_ : nullptr; }

 private:
  std::shared_ptr<BodySource> in_;
  std::string cur_;
  Headers trailers_;
  int pieces_ = 0;
  bool done_ = false;
};

/// A streamed request body is echoed as it arrives; a whole one comes back as "whole:<body>".
inline boost::asio::awaitable<Response> echoStream(Request& req) {
  Response r(200, "");
  r.headers.set("content-type", "application/grpc");
  if (req.bodySource) {
    r.bodySource = std::make_shared<EchoSource>(req.bodySource);
  } else {
    r.body = "whole:" + req.body;
    r.trailers.add("grpc-status", "0");
  }
  co_return r;
}

/// The request of a bidirectional call whose body is `chan`.
inline Request bidiRequest(std::shared_ptr<Channel> chan) {
  Request req;
  req.method = "POST";
  req.target = "/pkg.Echo/Bidi";
  req.headers.set("content-type", "application/grpc");
  req.headers.set("te", "trailers");
  req.bodySource = std::move(chan);
  return req;
}

/// Talk over a bidirectional call: each of `then` is pushed into `chan` only once the answer
/// `body` has yielded its previous piece, and `chan` is closed after the last. Returns the
/// pieces received, then "trailers:<grpc-status>/<x-pieces>" (or "error:<why>" where it stopped).
inline boost::asio::awaitable<std::vector<std::string>> converse(BodySource& body, Channel& chan,
                                                                 std::vector<std::string> then) {
  std::vector<std::string> got;
  for (size_t i = 0;; ++i) {
    auto p = co_await body.next();
    if (!p) {
      got.push_back("error:" + p.error().message());
      co_return got;
    }
    if (p->empty()) break;
    got.emplace_back(*p);
    if (i < then.size())
      chan.push(then[i]);
    else if (i == then.size())
      chan.close();
  }
  const Headers* t = body.trailers();
  got.push_back(t ? "trailers:" + std::string(t->get("grpc-status")) + "/" +
                        std::string(t->get("x-pieces"))
                  : "trailers:none");
  co_return got;
}

}  // namespace berth::http::testing
