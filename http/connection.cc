#include "http/connection.h"

#include "http/body_source.h"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

#include <sys/socket.h>

#include <cerrno>
#include <charconv>
#include <exception>
#include <limits>

namespace berth::http::detail {

namespace {
constexpr auto kAwait = asio::as_tuple(asio::use_awaitable);
constexpr size_t kInitialBuffer = 4096;
constexpr size_t kFlushAt = 64 * 1024;

void appendNumber(std::string& out, uint64_t v) {
  char buf[24];
  auto [p, ec] = std::to_chars(buf, buf + sizeof buf, v);
  out.append(buf, p);
}

void appendHex(std::string& out, uint64_t v) {
  char buf[24];
  auto [p, ec] = std::to_chars(buf, buf + sizeof buf, v, 16);
  out.append(buf, p);
}

/// A Content-Length value a handler set: all digits, at most 19.
bool parseContentLength(std::string_view v, uint64_t& out) {
  if (v.empty() || v.size() > 19) return false;
  auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), out);
  return ec == std::errc() && p == v.data() + v.size();
}

bool bodyAllowed(int status) { return !(status < 200 || status == 204 || status == 304); }

bool isFramingHeader(std::string_view n) {
  return iequals(n, "content-length") || iequals(n, "transfer-encoding") ||
         iequals(n, "connection") || iequals(n, "date") || iequals(n, "keep-alive");
}

void appendStatusLine(std::string& out, int status) {
  out += "HTTP/1.1 ";
  appendNumber(out, static_cast<uint64_t>(status));
  out += ' ';
  out += reasonPhrase(status);
  out += "\r\n";
}
}  // namespace

/// Request::bodySource of an AsyncHandler's request: the connection's own body reader. The
/// handler may hand it on to something that outlives it (an HTTP/2 upstream call still
/// sending it when its answer comes): once the handler returns, the connection detaches it
/// — a read in flight is cancelled and waited for — and later reads fail instead of
/// touching the connection.
class RequestBodySource final : public BodySource {
 public:
  explicit RequestBodySource(Connection& c) : c_(&c) {}
  asio::awaitable<Result<std::string_view>> next() override {
    if (!c_ || detaching_)
      co_return fail(ErrorCode::kRequestBody,
                     "the request was answered before its body was read");
    reading_ = true;
    auto piece = co_await c_->readStreamed();
    reading_ = false;
    if (waiter_) waiter_->cancel();
    co_return piece;
  }
  std::optional<uint64_t> length() const override {
    return c_ ? c_->length() : std::nullopt;
  }

  /// The handler has returned: no more reads for whoever holds this source now.
  asio::awaitable<void> detach(tcp::socket& socket) {
    detaching_ = true;
    if (reading_) {
      asio::steady_timer wait(socket.get_executor(), asio::steady_timer::time_point::max());
      waiter_ = &wait;
      boost::system::error_code ec;
      socket.cancel(ec);  // the only operation on the socket now is that read
      co_await wait.async_wait(asio::as_tuple(asio::use_awaitable));
      waiter_ = nullptr;
    }
    c_ = nullptr;
  }

 private:
  Connection* c_;
  bool reading_ = false;
  bool detaching_ = false;
  asio::steady_timer* waiter_ = nullptr;
};

asio::awaitable<Result<std::string_view>> ConnectionBodyReader::read() { return c_.read(); }
asio::awaitable<Result<void>> ConnectionBodyReader::readAll(std::string& out) {
  return c_.readAll(out);
}
bool ConnectionBodyReader::done() const { return c_.done(); }
std::optional<uint64_t> ConnectionBodyReader::length() const { return c_.length(); }

asio::awaitable<Result<void>> ConnectionResponseWriter::writeHead(
    int status, const Headers& headers, std::optional<uint64_t> contentLength) {
  return c_.writeHead(status, headers, contentLength);
}
asio::awaitable<Result<void>> ConnectionResponseWriter::write(std::string_view data) {
  return c_.write(data);
}
asio::awaitable<Result<void>> ConnectionResponseWriter::finish() { return c_.finish(); }
asio::awaitable<Result<void>> ConnectionResponseWriter::send(Response response) {
  return c_.send(std::move(response));
}
bool ConnectionResponseWriter::headSent() const { return c_.headSent(); }

asio::mutable_buffer InBuffer::prepare(size_t want) {
  if (cap_ - end_ < want) {
    if (begin_ > 0) {
      std::memmove(data_.get(), data_.get() + begin_, end_ - begin_);
      end_ -= begin_;
      begin_ = 0;
    }
    if (cap_ - end_ < want) {
      size_t cap = cap_ ? cap_ : kInitialBuffer;
      while (cap - end_ < want) cap *= 2;
      auto fresh = std::make_unique<char[]>(cap);
      if (end_) std::memcpy(fresh.get(), data_.get(), end_);
      data_ = std::move(fresh);
      cap_ = cap;
    }
  }
  return asio::buffer(data_.get() + end_, cap_ - end_);
}

Connection::Connection(Server::Impl& server, Worker& worker, tcp::socket socket)
    : server_(server), worker_(worker), socket_(std::move(socket)), timer_(worker.io) {
  worker_.connections.insert(this);
  boost::system::error_code nb;
  socket_.non_blocking(true, nb);
  server_.connections.fetch_add(1, std::memory_order_relaxed);
  boost::system::error_code ec;
  auto ep = socket_.remote_endpoint(ec);
  if (!ec) {
    req_.remoteAddr = ep.address().to_string();
    req_.remoteAddr += ':';
    req_.remoteAddr += std::to_string(ep.port());
  }
  deadline_ = Clock::now() + server_.options.idleTimeout;
}

Connection::~Connection() {
  worker_.connections.erase(this);
  server_.connections.fetch_sub(1, std::memory_order_relaxed);
  server_.onConnectionClosed(worker_);
}

void Connection::setDeadline(std::chrono::milliseconds d) {
  auto t = Clock::now() + d;
  bool earlier = t < deadline_;
  deadline_ = t;
  if (earlier) timer_.cancel();
}

void Connection::abort() {
  closed_ = true;
  boost::system::error_code ec;
  socket_.close(ec);
  timer_.cancel();
}

void Connection::closeIfIdle() {
  if (idle_ && !busy_) abort();
}

asio::awaitable<void> Connection::watchdog(std::shared_ptr<Connection> self) {
  while (!closed_) {
    timer_.expires_at(deadline_);
    co_await timer_.async_wait(kAwait);
    if (closed_) break;
    auto now = Clock::now();
    if (now < deadline_) continue;
    if (busy_) {  // a handler is running: it owns its own time budget
      deadline_ = now + server_.options.idleTimeout;
      continue;
    }
    timeOut();
  }
}

asio::awaitable<bool> Connection::readSome() {
  auto buf = in_.prepare(kInitialBuffer);
  auto [ec, n] = co_await socket_.async_read_some(buf, kAwait);
  if (ec || n == 0) co_return false;
  in_.commit(n);
  co_return true;
}

int Connection::writeNow() {
  boost::system::error_code ec;
  size_t n = socket_.write_some(asio::buffer(out_), ec);  // non-blocking
  if (ec == asio::error::would_block || ec == asio::error::try_again) return 0;
  if (ec) {
    clearOut();
    return -1;
  }
  if (n == out_.size()) {
    clearOut();
    return 1;
  }
  out_.erase(0, n);
  return 0;
}

void Connection::clearOut() {
  if (out_.capacity() > (1u << 20)) std::string().swap(out_);
  else out_.clear();
}

asio::awaitable<bool> Connection::flush() {
  if (out_.empty()) co_return true;
  int w = writeNow();
  if (w < 0) co_return false;
  if (w > 0) {
    // Let the other connections of this worker run before this one reads again: the client
    // cannot have sent its next request yet, and a read now would only fail with EAGAIN.
    auto ex = socket_.get_executor();  // named: GCC 12 and temporaries in co_await
    co_await asio::post(ex, asio::use_awaitable);
    co_return true;
  }
  setDeadline(server_.options.idleTimeout);
  auto [ec, n] = co_await asio::async_write(socket_, asio::buffer(out_), kAwait);
  clearOut();
  co_return !ec;
}

void Connection::serialize(const Response& r) {
  appendStatusLine(out_, r.status);
  bool head = req_.method == "HEAD";
  std::string_view headLength;  // HEAD: the Content-Length a GET would have had
  for (const Header& h : r.headers) {
    if (isFramingHeader(h.name)) {
      if (iequals(h.name, "connection") && iequals(h.value, "close")) keepAlive_ = false;
      if (head && r.body.empty() && iequals(h.name, "content-length")) headLength = h.value;
      continue;
    }
    out_ += h.name;
    out_ += ": ";
    out_ += h.value;
    out_ += "\r\n";
  }
  out_ += "Date: ";
  out_ += httpDate();
  out_ += "\r\n";
  bool withBody = bodyAllowed(r.status);
  if (withBody) {
    out_ += "Content-Length: ";
    uint64_t declared = 0;
    if (!headLength.empty() && parseContentLength(headLength, declared)) appendNumber(out_, declared);
    else appendNumber(out_, r.body.size());
    out_ += "\r\n";
  }
  if (!keepAlive_) out_ += "Connection: close\r\n";
  else if (req_.versionMinor == 0) out_ += "Connection: keep-alive\r\n";
  out_ += "\r\n";
  if (withBody && !head) out_ += r.body;
}

asio::awaitable<void> Connection::closeGracefully() {
  closing_ = true;
  boost::system::error_code ec;
  socket_.shutdown(tcp::socket::shutdown_send, ec);
  // Read and drop what the peer still sends (bounded), so close() does not reset the
  // connection before the peer has read our last response.
  setDeadline(std::chrono::milliseconds(1000));
  size_t dropped = 0;
  while (!closed_ && dropped < (4u << 20)) {
    in_.consume(in_.size());
    if (!co_await readSome()) break;
    dropped += in_.size();
  }
  abort();
}

void Connection::noteRejected(int status, std::string_view detail) {
  server_.rejected.fetch_add(1, std::memory_order_relaxed);
  if (server_.options.onRejected) {
    try {
      server_.options.onRejected(status, detail, req_);
    } catch (const std::exception&) {
      // a logging hook must not take the connection down
    }
  }
}

void Connection::timeOut() {
  // A request was under way (part of a head, or a body): answer 408 before closing, as nginx
  // and Envoy do, if nothing else is being written. Best effort: one non-blocking write.
  if (!idle_ && !closing_ && out_.empty()) {
    keepAlive_ = false;
    serialize(server_.errorResponse(408, "request not received in time"));
    noteRejected(408, "request not received in time");
    boost::system::error_code ec;
    socket_.write_some(asio::buffer(out_), ec);
    out_.clear();
  }
  abort();
}

asio::awaitable<void> Connection::reject(int status, std::string_view detail) {
  noteRejected(status, detail);
  keepAlive_ = false;
  if (!headSent_) {
    serialize(server_.errorResponse(status, detail));
    co_await flush();
  }
  co_await closeGracefully();
}

asio::awaitable<bool> Connection::sendContinueIfNeeded() {
  if (!req_.expectContinue || continueSent_ || !in_.empty()) co_return true;
  continueSent_ = true;
  out_ += "HTTP/1.1 100 Continue\r\n\r\n";
  co_return co_await flush();
}

void Connection::startBody() {
  continueSent_ = false;
  bodyError_ = false;
  if (req_.chunked) {
    chunked_ = ChunkedDecoder(server_.options.limits.maxBodyBytes,
                              server_.options.limits.maxHeadBytes);
    bodyDone_ = false;
  } else {
    bodyLeft_ = req_.contentLength.value_or(0);
    bodyDone_ = bodyLeft_ == 0;
  }
}

asio::awaitable<Result<std::string_view>> Connection::read() {
  if (bodyDone_) co_return std::string_view();
  if (bodyError_) co_return fail(ErrorCode::kFailedPrecondition, "400 request body failed");
  for (;;) {
    if (!in_.empty()) {
      if (req_.chunked) {
        chunkScratch_.clear();
        ParseResult r = chunked_.decode(in_.view(), chunkScratch_);
        if (r.failed()) {
          bodyError_ = true;
          co_return fail(ErrorCode::kInvalidArgument,
                         std::to_string(r.errorStatus) + " " + r.error);
        }
        in_.consume(r.consumed);
        if (r.complete()) bodyDone_ = true;
        if (!chunkScratch_.empty() || bodyDone_) co_return std::string_view(chunkScratch_);
      } else {
        std::string_view piece = in_.takeUpTo(bodyLeft_);
        if (bodyLeft_ == 0) bodyDone_ = true;
        co_return piece;
      }
    }
    if (!co_await sendContinueIfNeeded()) {
      bodyError_ = true;
      co_return fail(ErrorCode::kFailedPrecondition, "connection closed");
    }
    if (!co_await readSome()) {
      bodyError_ = true;
      co_return fail(ErrorCode::kTimeout, "408 request body not received in time");
    }
  }
}

asio::awaitable<Result<std::string_view>> Connection::readStreamed() {
  busy_ = false;  // a stalled body times out like any other read
  setDeadline(server_.options.bodyTimeout);
  auto piece = co_await read();
  busy_ = true;
  co_return piece;
}

asio::awaitable<Result<void>> Connection::readAll(std::string& out) {
  while (!bodyDone_) {
    auto piece = co_await read();
    if (!piece) co_return fail(piece.error());
    if (out.size() + piece->size() > server_.options.limits.maxBodyBytes) {
      bodyError_ = true;
      co_return fail(ErrorCode::kInvalidArgument, "413 body too large");
    }
    out.append(*piece);
  }
  co_return Result<void>();
}

asio::awaitable<bool> Connection::readFullBody() {
  if (bodyDone_) co_return true;
  if (!req_.chunked && in_.size() >= bodyLeft_) {  // the common case: all of it is here
    req_.body.assign(in_.view().substr(0, static_cast<size_t>(bodyLeft_)));
    in_.consume(static_cast<size_t>(bodyLeft_));
    bodyDone_ = true;
    co_return true;
  }
  setDeadline(server_.options.bodyTimeout);
  auto r = co_await readAll(req_.body);
  if (!r) {
    // (No temporaries around co_await here: GCC 12 mishandles them in coroutine frames.)
    std::string detail = r.error().message();
    int status = 400;
    if (detail.size() > 4 && detail[3] == ' ') {
      std::from_chars(detail.data(), detail.data() + 3, status);
      detail.erase(0, 4);
    }
    if (closed_ || status == 408) {
      abort();
      co_return false;
    }
    co_await reject(status, detail);
    co_return false;
  }
  co_return true;
}

asio::awaitable<Result<void>> Connection::writeHead(int status, const Headers& headers,
                                                    std::optional<uint64_t> contentLength) {
  if (headSent_) return failed(Error(ErrorCode::kFailedPrecondition, "response head already sent"));
  headSent_ = true;
  respNoBody_ = !bodyAllowed(status) || req_.method == "HEAD";
  appendStatusLine(out_, status);
  for (const Header& h : headers) {
    if (isFramingHeader(h.name)) continue;
    out_ += h.name;
    out_ += ": ";
    out_ += h.value;
    out_ += "\r\n";
  }
  out_ += "Date: ";
  out_ += httpDate();
  out_ += "\r\n";
  respChunked_ = false;
  respLeft_.reset();
  if (bodyAllowed(status)) {
    if (contentLength) {
      out_ += "Content-Length: ";
      appendNumber(out_, *contentLength);
      out_ += "\r\n";
      respLeft_ = respNoBody_ ? 0 : *contentLength;
    } else if (req_.versionMinor == 1) {
      out_ += "Transfer-Encoding: chunked\r\n";
      respChunked_ = !respNoBody_;
    } else {
      keepAlive_ = false;  // HTTP/1.0: the body ends with the connection
    }
  }
  if (!keepAlive_) out_ += "Connection: close\r\n";
  out_ += "\r\n";
  return flushResult();
}

asio::awaitable<Result<void>> Connection::flushResult() {
  bool ok = co_await flush();
  if (!ok) co_return fail(ErrorCode::kFailedPrecondition, "client went away");
  co_return Result<void>();
}

asio::awaitable<Result<void>> Connection::failed(Error e) { co_return fail(std::move(e)); }

// Not a coroutine: it validates and frames synchronously, then returns the flush coroutine.
// (GCC 12 miscompiled the coroutine version of this function.)
asio::awaitable<Result<void>> Connection::write(std::string_view piece) {
  if (!headSent_) return failed(Error(ErrorCode::kFailedPrecondition, "write before writeHead"));
  if (respFinished_) return failed(Error(ErrorCode::kFailedPrecondition, "write after finish"));
  if (piece.empty() || respNoBody_) return flushResult();
  if (respLeft_) {
    if (piece.size() > *respLeft_)
      return failed(Error(ErrorCode::kInvalidArgument, "body longer than Content-Length"));
    *respLeft_ -= piece.size();
  }
  if (respChunked_) {
    appendHex(out_, piece.size());
    out_ += "\r\n";
    out_ += piece;
    out_ += "\r\n";
  } else {
    out_ += piece;
  }
  return flushResult();
}

asio::awaitable<Result<void>> Connection::finish() {
  if (!headSent_) return failed(Error(ErrorCode::kFailedPrecondition, "finish before writeHead"));
  if (respFinished_) return flushResult();
  respFinished_ = true;
  if (respChunked_) out_ += "0\r\n\r\n";
  if (respLeft_ && *respLeft_ != 0) keepAlive_ = false;  // short body: framing is broken
  return flushResult();
}

asio::awaitable<Result<void>> Connection::send(Response response) {
  if (headSent_) return failed(Error(ErrorCode::kFailedPrecondition, "response head already sent"));
  headSent_ = true;
  respFinished_ = true;
  serialize(response);
  return flushResult();
}

asio::awaitable<bool> Connection::serveStream() {
  if (!co_await flush()) co_return false;  // keep pipelined responses in order
  startBody();
  headSent_ = respFinished_ = false;
  busy_ = true;
  bool threw = false;
  try {
    ConnectionBodyReader reader(*this);
    ConnectionResponseWriter writer(*this);
    co_await server_.streamHandler(req_, reader, writer);
  } catch (const std::exception&) {
    threw = true;
  }
  busy_ = false;
  if (threw) {
    keepAlive_ = false;
    if (!headSent_) {
      Response err = server_.errorResponse(500, "internal error");
      co_await send(std::move(err));
    }
  }
  if (!headSent_) {
    Response err = server_.errorResponse(500, "handler sent no response");
    co_await send(std::move(err));
  }
  if (!respFinished_) co_await finish();
  if (!bodyDone_ || bodyError_) keepAlive_ = false;
  co_return !closed_;
}

asio::awaitable<bool> Connection::streamBody(Response& resp) {
  std::shared_ptr<BodySource> src = std::move(resp.bodySource);
  headSent_ = respFinished_ = false;
  std::optional<uint64_t> length = src->length();
  auto head = co_await writeHead(resp.status, resp.headers, length);
  if (!head) co_return false;
  // A client that hangs up while the producer is quiet (server-sent events between events)
  // is noticed now, not at the next write: the source is told to give up (a proxy then lets
  // its upstream go). Data instead (a pipelined request) just ends the watch.
  socket_.async_wait(tcp::socket::wait_read, [self = shared_from_this(), src](boost::system::error_code ec) {
    if (ec || self->closed_) return;  // cancelled when the body is over
    char c;
    ssize_t n = ::recv(self->socket_.native_handle(), &c, 1, MSG_PEEK | MSG_DONTWAIT);
    if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK)) src->cancel();
  });
  struct StopWatch {
    tcp::socket& s;
    ~StopWatch() {
      boost::system::error_code ignored;
      s.cancel(ignored);  // only the wait is pending here: the body's writes are done
    }
  } stopWatch{socket_};
  for (;;) {
    busy_ = true;  // waiting on the producer, which keeps its own time (the watchdog waits)
    auto piece = co_await src->next();
    busy_ = false;
    if (closed_) co_return false;
    if (!piece || (piece->empty() && respLeft_ && *respLeft_ != 0)) {
      abort();  // cut short: the client must not take a partial body for a whole one
      co_return false;
    }
    if (piece->empty()) break;
    auto w = co_await write(*piece);
    if (!w) {
      abort();
      co_return false;
    }
  }
  auto f = co_await finish();
  co_return f.has_value() && !closed_;
}

asio::awaitable<void> Connection::run(std::shared_ptr<Connection> self) {
  const ServerOptions& opt = server_.options;
  uint64_t served = 0;
  // With streamed request bodies a long Content-Length is not refused at the head: past
  // streamRequestBodiesAbove the body goes to the handler as it comes, with no size limit.
  const bool mayStreamBodies = opt.streamRequestBodiesAbove > 0 && !server_.handler && server_.asyncHandler;
  Limits headLimits = opt.limits;
  if (mayStreamBodies) headLimits.maxBodyBytes = std::numeric_limits<uint64_t>::max();
  for (;;) {
    ParseResult r;
    bool headerDeadline = false;
    for (;;) {
      if (!in_.empty()) {
        if (opt.h2cHandoff && served == 0 && in_.view()[0] == 'P') {
          // h2c prior knowledge: wait for the 24-byte preface, then hand the socket over.
          constexpr std::string_view kH2Preface = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
          std::string_view v = in_.view();
          size_t n = std::min(v.size(), kH2Preface.size());
          if (v.substr(0, n) == kH2Preface.substr(0, n)) {
            if (n == kH2Preface.size()) {
              boost::system::error_code ec;
              int fd = socket_.release(ec);
              if (!ec) opt.h2cHandoff(fd, v);
              abort();
              co_return;
            }
            if (!co_await readSome()) break;
            continue;
          }
        }
        r = parseRequestHead(in_.view(), headLimits, req_);
        if (!r.incomplete()) break;
      }
      // The hot path is written out here rather than through flush()/readSome(): every
      // coroutine call is a frame, and frames held across the yield below outrun Asio's
      // two-slot frame cache when many connections interleave (a malloc per request each).
      if (!out_.empty()) {
#if BERTH_IO_URING
        // On the ring, the write is one more SQE in the batch the next io_uring_enter submits
        // (a direct send here would be a syscall of its own).
        setDeadline(opt.idleTimeout);
        auto [wec, wn] = co_await asio::async_write(socket_, asio::buffer(out_), kAwait);
        clearOut();
        if (wec) break;
#else
        int w = writeNow();
        if (w < 0) break;
        if (w == 0 && !co_await flush()) break;
        if (w > 0) {  // see flush()
          auto ex = socket_.get_executor();  // named: GCC 12 and temporaries in co_await
          co_await asio::post(ex, asio::use_awaitable);
        }
#endif
      }
      if (worker_.draining && in_.empty()) break;
      idle_ = in_.empty();
      if (idle_) {
        setDeadline(opt.idleTimeout);
      } else if (!headerDeadline) {
        setDeadline(opt.headerTimeout);
        headerDeadline = true;
      }
      auto buf = in_.prepare(kInitialBuffer);
      auto [ec, n] = co_await socket_.async_read_some(buf, kAwait);
      if (ec || n == 0) {
        r = ParseResult{};
        break;
      }
      in_.commit(n);
      idle_ = false;
    }
    if (r.incomplete()) break;  // closed, timed out, or draining
    if (r.failed()) {
      co_await reject(r.errorStatus, r.error);
      break;
    }
    in_.consume(r.consumed);
    ++served;
    server_.requests.fetch_add(1, std::memory_order_relaxed);
    keepAlive_ = req_.keepAlive && !worker_.draining;

    if (server_.streamHandler) {
      if (!co_await serveStream()) break;
    } else {
      startBody();
      if (!bodyDone_ && !req_.chunked && in_.size() >= bodyLeft_) {  // all of it is here
        req_.body.assign(in_.view().substr(0, static_cast<size_t>(bodyLeft_)));
        in_.consume(static_cast<size_t>(bodyLeft_));
        bodyDone_ = true;
      }
      if (!bodyDone_ && mayStreamBodies && (req_.chunked || bodyLeft_ > opt.streamRequestBodiesAbove)) {
        streamed_ = std::make_shared<RequestBodySource>(*this);
        req_.bodySource = streamed_;
        if (req_.chunked)  // no size limit on a streamed body
          chunked_ = ChunkedDecoder(std::numeric_limits<uint64_t>::max(), opt.limits.maxHeadBytes);
      } else if (!bodyDone_ && !co_await readFullBody()) {
        break;
      }
      Response resp;
      busy_ = true;
      bool threw = false;
      try {
        if (server_.handler) resp = server_.handler(req_);
        else if (server_.asyncHandler) resp = co_await server_.asyncHandler(req_);
        else resp = server_.errorResponse(404, "no handler");
      } catch (const std::exception&) {
        threw = true;
      }
      if (threw) resp = server_.errorResponse(500, "internal error");
      if (streamed_) {  // what the handler left of a streamed body is not read
        co_await streamed_->detach(socket_);
        streamed_.reset();
        req_.bodySource.reset();
        if (!bodyDone_ || bodyError_) keepAlive_ = false;
      }
      busy_ = false;
      if (closed_) break;
      if (worker_.draining || server_.draining.load(std::memory_order_relaxed)) keepAlive_ = false;
      if (resp.bodySource && bodyAllowed(resp.status) && req_.method != "HEAD") {
        if (!co_await streamBody(resp)) break;
      } else {
        serialize(resp);
        if (out_.size() >= kFlushAt && !co_await flush()) break;
      }
    }
    if (!keepAlive_) {
      co_await flush();
      co_await closeGracefully();
      break;
    }
  }
  abort();
}

}  // namespace berth::http::detail
