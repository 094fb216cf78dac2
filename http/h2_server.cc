// h2c server connections on Asio coroutines; the protocol itself is h2::Session.

#include "http/h2_server.h"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <mutex>
#include <unordered_map>

#include "http/body_source.h"
#include "http/h2_util.h"

namespace berth::http {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;

namespace {
constexpr auto kAwait = asio::as_tuple(asio::use_awaitable);
/// A streamed handler body (Response::bodySource) is read whole for HTTP/2, up to this much.
constexpr uint64_t kMaxDrainedBody = 64ull << 20;
class ServerConn;
}  // namespace

struct H2Server::Shared {
  AsyncHandler handler;
  H2ServerOptions options;
  std::mutex mu;
  std::unordered_map<ServerConn*, std::weak_ptr<ServerConn>> conns;
  std::atomic<bool> draining{false};
};

namespace {

class ServerConn : public std::enable_shared_from_this<ServerConn> {
 public:
  ServerConn(std::shared_ptr<H2Server::Shared> shared, tcp::socket s)
      : shared_(std::move(shared)), sock_(std::move(s)), timer_(sock_.get_executor()),
        session_(h2::Role::kServer, shared_->options.session) {
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
      if (finished()) break;
    }
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

  asio::any_io_executor executor() { return sock_.get_executor(); }

  void drain() {
    session_.goAway(h2::H2Error::kNoError, "draining");
    kick();
    if (finished()) closeAfterFlush();
  }

 private:
  bool finished() const {
    return session_.failed() ||
           (session_.goingAway() && session_.activeStreams() == 0 && handlers_ == 0);
  }

  void process() {
    auto events = std::move(session_.events());
    session_.events().clear();
    for (const auto& e : events) {
      if (e.kind == h2::Event::kMessage) {
        ++handlers_;
        asio::co_spawn(sock_.get_executor(),
                       serveStream(shared_from_this(), e.streamId, session_.takeMessage(e.streamId)),
                       asio::detached);
      } else if (e.kind == h2::Event::kTooLarge) {
        Response r(e.status, std::string(reasonPhrase(e.status)) + "\n");
        session_.submitResponse(e.streamId, h2detail::toResponseMessage(r, false));
      }
    }
  }

  asio::awaitable<void> serveStream(std::shared_ptr<ServerConn> self, uint32_t id, h2::Message m) {
    Request req;
    std::string why = h2detail::fromRequestMessage(std::move(m), req);
    Response resp;
    if (!why.empty()) {
      resp = Response(400, "Bad Request: " + why + "\n");
    } else {
      req.remoteAddr = remote_;
      bool threw = false;
      try {
        resp = co_await shared_->handler(req);
      } catch (const std::exception&) {
        threw = true;
      }
      if (threw) resp = Response(500, "Internal Server Error\n");
      if (resp.bodySource) {  // HTTP/2 responses here are sent whole: read it all first
        std::shared_ptr<BodySource> src = std::move(resp.bodySource);
        auto whole = co_await drainBody(*src, resp.body, kMaxDrainedBody);
        if (!whole) resp = Response(502, "Bad Gateway\n");
      }
    }
    --handlers_;
    if (closed_) co_return;
    session_.submitResponse(id, h2detail::toResponseMessage(resp, req.method == "HEAD"));
    kick();
    if (finished()) closeAfterFlush();
  }

  void kick() {
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
    }
    writing_ = false;
    if (closing_ && !closed_) close();
  }

  void closeAfterFlush() {
    closing_ = true;
    if (!writing_) {
      if (!session_.output().empty() && !closed_) kick();
      else close();
    }
  }

  void close() {
    if (closed_) return;
    closed_ = true;
    boost::system::error_code ec;
    sock_.shutdown(tcp::socket::shutdown_both, ec);
    sock_.close(ec);
    timer_.cancel();
  }

  std::shared_ptr<H2Server::Shared> shared_;
  tcp::socket sock_;
  asio::steady_timer timer_;
  h2::Session session_;
  std::string remote_;
  std::string wbuf_;
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
