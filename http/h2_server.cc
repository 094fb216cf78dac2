// h2c server connections on Asio coroutines; the protocol itself is h2::Session.

#include "http/h2_server.h"

#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <mutex>
#include <optional>
#include <unordered_map>

#include "http/body_source.h"
#include "http/h2_body.h"
#include "http/h2_util.h"

namespace berth::http {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;

namespace {
constexpr auto kAwait = asio::as_tuple(asio::use_awaitable);
class ServerConn;

h2::SessionOptions withHeadersEvents(h2::SessionOptions o, uint64_t streamAbove) {
  o.headersEvents = streamAbove != UINT64_MAX;
  return o;
}
}  // namespace

struct H2Server::Shared {
  AsyncHandler handler;
  H2ServerOptions options;
  std::mutex mu;
  std::unordered_map<ServerConn*, std::weak_ptr<ServerConn>> conns;
  std::atomic<bool> draining{false};
};

namespace {

class ServerConn : public h2detail::StreamBody::Owner,
                   public h2detail::BodySender,
                   public std::enable_shared_from_this<ServerConn> {
 public:
  ServerConn(std::shared_ptr<H2Server::Shared> shared, tcp::socket s)
      : shared_(std::move(shared)),
        sock_(std::move(s)),
        timer_(sock_.get_executor()),
        session_(h2::Role::kServer, withHeadersEvents(shared_->options.session,
                                                      shared_->options.streamRequestBodiesAbove)) {
    boost::system::error_code ec;
    auto ep = sock_.remote_endpoint(ec);
    if (!ec) remote_ = ep.address().to_string() + ":" + std::to_string(ep.port());
  }
  ~ServerConn() {
    std::lock_guard lk(shared_->mu);
    shared_->conns.erase(this);
  }

  asio::awaitable<void> run(std::shared_ptr<ServerConn> self, std::string initial) {
    session_.start();
    bool ok = session_.receive(initial);
    process();
    kick();
    std::vector<char> buf(64 * 1024);
    while (ok && !closed_) {
      auto [ec, n] = co_await sock_.async_read_some(asio::buffer(buf), kAwait);
      if (ec || n == 0) break;
      lastRead_ = std::chrono::steady_clock::now();
      ok = session_.receive({buf.data(), n});
      process();
      kick();
      wakeSenders();
      if (finished()) break;
    }
    failBodies("connection closed");
    for (auto& [id, src] : sending_) src->cancel();  // a quiet upstream must not hold them
    closeAfterFlush();
  }

  asio::awaitable<void> watchdog(std::shared_ptr<ServerConn> self) {
    auto idle = shared_->options.idleTimeout;
    while (!closed_) {
      timer_.expires_after(std::max(idle / 4, std::chrono::milliseconds(10)));
      co_await timer_.async_wait(kAwait);
      if (closed_) break;
      if (session_.activeStreams() == 0 && handlers_ == 0 &&
          std::chrono::steady_clock::now() - lastRead_ > idle) {
        session_.goAway(h2::H2Error::kNoError, "idle");
        kick();
        closeAfterFlush();
      }
    }
  }

  asio::any_io_executor executor() override { return sock_.get_executor(); }

  std::string take(uint32_t id) override {
    std::string data = session_.takeData(id);
    kick();  // the window it gives back
    return data;
  }
  // A handler that drops a request body unread: the stream's window stays shut and the
  // answer resets the rest (RFC 9113 8.1).
  void release(uint32_t id, bool) override { bodies_.drop(id, true); }

  void drain() {
    session_.goAway(h2::H2Error::kNoError, "draining");
    kick();
    if (finished()) {
      closeAfterFlush();
      return;
    }
    if (drainTimer_) return;
    drainTimer_.emplace(sock_.get_executor(), shared_->options.drainTimeout);
    drainTimer_->async_wait([weak = weak_from_this()](boost::system::error_code ec) {
      auto self = weak.lock();
      if (ec || !self || self->closed_) return;
      self->failBodies("draining");  // what is still open after the drain timeout is cut
      for (auto& [id, src] : self->sending_) src->cancel();
      self->close();
    });
  }

 private:
  bool finished() const {
    return session_.failed() ||
           (session_.goingAway() && session_.activeStreams() == 0 && handlers_ == 0);
  }

  void failBodies(const std::string& why) {
    bodies_.failAll(Error(ECONNRESET, "h2 stream reset: " + why));
    wakeSenders();
  }

  void process() {
    auto events = std::move(session_.events());
    session_.events().clear();
    for (size_t i = 0; i < events.size(); ++i) {
      const h2::Event& e = events[i];
      if (bodies_.route(session_, e)) continue;  // a streamed request body
      if (e.kind == h2::Event::kHeaders) {
        // A body still to come streams to the handler if its length is unknown or long;
        // one that is all here (or short) is read whole, as without streaming.
        auto length = session_.declaredLength(e.streamId);
        if (h2detail::endsInBatch(events, i, e.streamId) ||
            (length && *length <= shared_->options.streamRequestBodiesAbove))
          continue;
        session_.streamBody(e.streamId);
        auto b = std::make_shared<h2detail::StreamBody>(shared_from_this(), e.streamId,
                                                        sock_.get_executor(), length,
                                                        shared_->options.streamIdleTimeout);
        bodies_.add(e.streamId, b.get());
        h2::Message head;
        head.headers = session_.takeHeaders(e.streamId);
        ++handlers_;
        asio::co_spawn(sock_.get_executor(),
                       serveStream(shared_from_this(), e.streamId, std::move(head), std::move(b)),
                       asio::detached);
      } else if (e.kind == h2::Event::kMessage) {
        ++handlers_;
        asio::co_spawn(
            sock_.get_executor(),
            serveStream(shared_from_this(), e.streamId, session_.takeMessage(e.streamId), nullptr),
            asio::detached);
      } else if (e.kind == h2::Event::kTooLarge) {
        Response r(e.status, std::string(reasonPhrase(e.status)) + "\n");
        session_.submitResponse(e.streamId, h2detail::toResponseMessage(r, false));
      }
    }
  }

  asio::awaitable<void> serveStream(std::shared_ptr<ServerConn> self, uint32_t id, h2::Message m,
                                    std::shared_ptr<h2detail::StreamBody> body) {
    Request req;
    std::string why = h2detail::fromRequestMessage(std::move(m), req);
    Response resp;
    if (!why.empty()) {
      resp = Response(400, "Bad Request: " + why + "\n");
    } else {
      req.remoteAddr = remote_;
      if (body) {
        req.contentLength = body->length().value_or(0);
        req.bodySource = std::move(body);
      }
      bool threw = false;
      try {
        resp = co_await shared_->handler(req);
      } catch (const std::exception&) {
        threw = true;
      }
      if (threw) resp = Response(500, "Internal Server Error\n");
    }
    req.bodySource.reset();  // a handler keeping it (a proxy's upstream call) keeps it alive
    bool head = req.method == "HEAD";
    bool streamed =
        resp.bodySource && !head && resp.status >= 200 && resp.status != 204 && resp.status != 304;
    if (!closed_) {
      session_.submitResponse(
          id, h2detail::toResponseMessage(resp, head, streamed ? resp.bodySource.get() : nullptr),
          streamed);
      kick();
      if (streamed) {
        // A failing source resets the stream, so the client never takes a cut body for a
        // whole one.
        sending_[id] = resp.bodySource.get();
        auto sent = co_await sendBody(id, *resp.bodySource, h2detail::trailerFields(resp.trailers));
        sending_.erase(id);
        if (!sent && !closed_) {
          session_.resetStream(id, h2::H2Error::kInternalError);
          kick();
        }
      }
    }
    resp.bodySource.reset();
    --handlers_;
    if (closed_) co_return;
    if (session_.unsent(id) == SIZE_MAX) {  // answered before the request ended: closed
      if (auto* rest = bodies_.take(id))
        rest->fail(Error(ECONNRESET, "h2 stream closed: answered before the request ended"));
    }
    if (finished()) closeAfterFlush();
  }

  h2::Session& session() override { return session_; }
  bool gone() const override { return closed_; }
  size_t inFlight() const override { return writing_ ? wbuf_.size() : 0; }

  void kick() override {
    if (writing_ || closed_ || session_.output().empty()) return;
    writing_ = true;
    asio::co_spawn(sock_.get_executor(), writeLoop(shared_from_this()), asio::detached);
  }

  asio::awaitable<void> writeLoop(std::shared_ptr<ServerConn> self) {
    while (!closed_ && !session_.output().empty()) {
      wbuf_.clear();
      wbuf_.swap(session_.output());
      auto [ec, n] = co_await asio::async_write(sock_, asio::buffer(wbuf_), kAwait);
      if (ec) {
        close();
        break;
      }
      wbuf_.clear();
      wakeSenders();
    }
    writing_ = false;
    if (closing_ && !closed_) close();
  }

  void closeAfterFlush() {
    closing_ = true;
    if (!writing_) {
      if (!session_.output().empty() && !closed_)
        kick();
      else
        close();
    }
  }

  void close() {
    if (closed_) return;
    closed_ = true;
    boost::system::error_code ec;
    sock_.shutdown(tcp::socket::shutdown_both, ec);
    sock_.close(ec);
    timer_.cancel();
    if (drainTimer_) drainTimer_->cancel();
  }

  std::shared_ptr<H2Server::Shared> shared_;
  tcp::socket sock_;
  asio::steady_timer timer_;
  std::optional<asio::steady_timer> drainTimer_;
  h2::Session session_;
  std::string remote_;
  std::string wbuf_;
  h2detail::StreamBodies bodies_;                      // streamed request bodies
  std::unordered_map<uint32_t, BodySource*> sending_;  // streamed response bodies
  std::chrono::steady_clock::time_point lastRead_ = std::chrono::steady_clock::now();
  size_t handlers_ = 0;
  bool writing_ = false;
  bool closing_ = false;
  bool closed_ = false;
};

void serveOn(const std::shared_ptr<H2Server::Shared>& shared, int fd, std::string_view received) {
  asio::any_io_executor ex = currentWorkerExecutor();
  if (!ex) {
    ::close(fd);
    return;
  }
  boost::system::error_code ec;
  tcp::socket s(ex);
  sockaddr_storage sa{};
  socklen_t len = sizeof sa;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&sa), &len);
  s.assign(sa.ss_family == AF_INET6 ? tcp::v6() : tcp::v4(), fd, ec);
  if (ec) {
    ::close(fd);
    return;
  }
  s.set_option(tcp::no_delay(true), ec);
  auto c = std::make_shared<ServerConn>(shared, std::move(s));
  {
    std::lock_guard lk(shared->mu);
    shared->conns.emplace(c.get(), c);
  }
  if (shared->draining.load()) c->drain();
  asio::co_spawn(ex, c->run(c, std::string(received)), asio::detached);
  asio::co_spawn(ex, c->watchdog(c), asio::detached);
}

}  // namespace

H2Server::H2Server(AsyncHandler handler, H2ServerOptions options)
    : shared_(std::make_shared<Shared>()) {
  shared_->handler = std::move(handler);
  shared_->options = options;
}

H2Server::~H2Server() = default;

void H2Server::serve(int fd, std::string_view received) { serveOn(shared_, fd, received); }

std::function<void(int, std::string_view)> H2Server::handoff() {
  return [shared = shared_](int fd, std::string_view received) { serveOn(shared, fd, received); };
}

void H2Server::drain() {
  shared_->draining = true;
  std::lock_guard lk(shared_->mu);
  for (auto& [p, w] : shared_->conns) {
    // Run on the connection's own worker thread.
    if (auto c = w.lock()) asio::post(c->executor(), [c] { c->drain(); });
  }
}

size_t H2Server::connections() const {
  std::lock_guard lk(shared_->mu);
  return shared_->conns.size();
}

}  // namespace berth::http
