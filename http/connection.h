#pragma once
/// Internal to berth_http: one server-side connection (its read loop, watchdog timer, body
/// reader and response writer) and the per-worker state. Not a public header.

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstring>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <unordered_set>

#include "http/server.h"

namespace berth::http::detail {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using Clock = std::chrono::steady_clock;

/// A growable byte buffer with a consumed prefix, without the zero-filling of std::string.
class InBuffer {
 public:
  std::string_view view() const { return {data_.get() + begin_, end_ - begin_}; }
  size_t size() const { return end_ - begin_; }
  bool empty() const { return begin_ == end_; }
  void consume(size_t n) {
    begin_ += n;
    if (begin_ == end_) begin_ = end_ = 0;
  }
  /// Up to `left` bytes from the front, consumed (they stay in place until the next
  /// prepare(), so the view is good until then); `left` goes down by as many.
  std::string_view takeUpTo(uint64_t& left) {
    size_t n = static_cast<size_t>(std::min<uint64_t>(left, size()));
    std::string_view piece = view().substr(0, n);
    consume(n);
    left -= n;
    return piece;
  }
  /// Make room for at least `want` more bytes at the end; returns the writable region.
  asio::mutable_buffer prepare(size_t want);
  void commit(size_t n) { end_ += n; }

 private:
  std::unique_ptr<char[]> data_;
  size_t cap_ = 0, begin_ = 0, end_ = 0;
};

class Connection;

/// One worker: an io_context run by one thread, its acceptor, and its live connections.
struct Worker {
  std::unordered_set<Connection*> connections;
  bool draining = false;
  // One thread runs this io_context and its sockets are used from that thread only, so the
  // reactor's per-descriptor locks are not needed (posting from other threads stays safe).
  std::unique_ptr<asio::io_context> ioOwner =
      std::make_unique<asio::io_context>(BOOST_ASIO_CONCURRENCY_HINT_UNSAFE_IO);
  asio::io_context& io = *ioOwner;
  std::optional<tcp::acceptor> acceptor;
  std::optional<asio::steady_timer> drainTimer;
  std::thread thread;
  /// Destroys the io_context (and with it the coroutine frames of connections still open)
  /// while `connections` is alive: a Connection's destructor edits it.
  ~Worker() {
    drainTimer.reset();
    acceptor.reset();
    ioOwner.reset();
  }
};

}  // namespace berth::http::detail

namespace berth::http {

struct Server::Impl {
  ServerOptions options;
  Handler handler;
  AsyncHandler asyncHandler;
  StreamHandler streamHandler;
  uint16_t port = 0;
  bool listening = false;
  bool started = false;
  std::atomic<uint64_t> connections{0}, requests{0}, rejected{0};
  std::atomic<bool> draining{false};  // set at once by drain(), before the workers see it
  std::vector<std::unique_ptr<detail::Worker>> workers;  // last: destroyed first

  Response errorResponse(int status, std::string_view detail) const;
  void onConnectionClosed(detail::Worker& w);
};

}  // namespace berth::http

namespace berth::http::detail {

class Connection;
class RequestBodySource;

/// BodyReader/ResponseWriter of a Connection. Separate single-inheritance adapters whose
/// overrides are plain functions returning the connection's coroutines: GCC 12 miscompiles
/// coroutines reached through a this-adjusting thunk (a second base class).
class ConnectionBodyReader final : public BodyReader {
 public:
  explicit ConnectionBodyReader(Connection& c) : c_(c) {}
  asio::awaitable<Result<std::string_view>> read() override;
  asio::awaitable<Result<void>> readAll(std::string& out) override;
  bool done() const override;
  std::optional<uint64_t> length() const override;

 private:
  Connection& c_;
};

class ConnectionResponseWriter final : public ResponseWriter {
 public:
  explicit ConnectionResponseWriter(Connection& c) : c_(c) {}
  asio::awaitable<Result<void>> writeHead(int status, const Headers& headers,
                                          std::optional<uint64_t> contentLength) override;
  asio::awaitable<Result<void>> write(std::string_view data) override;
  asio::awaitable<Result<void>> finish() override;
  asio::awaitable<Result<void>> send(Response response) override;
  bool headSent() const override;

 private:
  Connection& c_;
};

class Connection : public std::enable_shared_from_this<Connection> {
 public:
  Connection(Server::Impl& server, Worker& worker, tcp::socket socket);
  ~Connection();

  asio::awaitable<void> run(std::shared_ptr<Connection> self);
  asio::awaitable<void> watchdog(std::shared_ptr<Connection> self);
  /// Drain: close now if waiting for a request with nothing buffered.
  void closeIfIdle();
  void abort();

  // BodyReader
  asio::awaitable<Result<std::string_view>> read();
  /// read() for a Request::bodySource: the watchdog applies the body timeout meanwhile.
  asio::awaitable<Result<std::string_view>> readStreamed();
  asio::awaitable<Result<void>> readAll(std::string& out);
  bool done() const { return bodyDone_; }
  std::optional<uint64_t> length() const { return req_.contentLength; }
  // ResponseWriter
  asio::awaitable<Result<void>> writeHead(int status, const Headers& headers,
                                          std::optional<uint64_t> contentLength);
  asio::awaitable<Result<void>> write(std::string_view data);
  asio::awaitable<Result<void>> finish();
  asio::awaitable<Result<void>> send(Response response);
  bool headSent() const { return headSent_; }

 private:

  asio::awaitable<bool> readSome();
  /// Write out_ now (non-blocking): 1 all of it (out_ cleared), 0 part or none (the rest is
  /// left in out_ for flush()), -1 error.
  int writeNow();
  void clearOut();
  asio::awaitable<Result<void>> flushResult();
  static asio::awaitable<Result<void>> failed(Error e);
  asio::awaitable<bool> flush();
  asio::awaitable<void> reject(int status, std::string_view detail);
  /// Count a request the server answers itself and tell ServerOptions::onRejected.
  void noteRejected(int status, std::string_view detail);
  /// The watchdog's deadline passed: 408 if a request was under way, then close.
  void timeOut();
  asio::awaitable<void> closeGracefully();
  asio::awaitable<bool> sendContinueIfNeeded();
  asio::awaitable<bool> readFullBody();
  asio::awaitable<bool> serveStream();
  /// Send an AsyncHandler's response whose body is a BodySource: the head, then each piece.
  asio::awaitable<bool> streamBody(Response& resp);
  void startBody();
  void serialize(const Response& r);
  void setDeadline(std::chrono::milliseconds d);

  Server::Impl& server_;
  Worker& worker_;
  tcp::socket socket_;
  asio::steady_timer timer_;
  Clock::time_point deadline_;
  InBuffer in_;
  std::string out_;
  Request req_;
  std::shared_ptr<RequestBodySource> streamed_;  // req_.bodySource, when the body streams
  ChunkedDecoder chunked_;
  std::string chunkScratch_;
  uint64_t bodyLeft_ = 0;   // Content-Length bytes not yet read
  bool bodyDone_ = true;
  bool bodyError_ = false;
  bool continueSent_ = false;
  bool keepAlive_ = true;
  bool idle_ = true;
  bool busy_ = false;
  bool closed_ = false;
  bool closing_ = false;  // closeGracefully(): the last response is out
  // streaming response state
  bool headSent_ = false;
  bool respChunked_ = false;
  bool respFinished_ = false;
  bool respNoBody_ = false;
  std::optional<uint64_t> respLeft_;
};

}  // namespace berth::http::detail
