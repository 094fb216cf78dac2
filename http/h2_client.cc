// h2c client connections on Asio coroutines; the protocol itself is h2::Session.

#include "http/h2_client.h"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <unordered_map>

#include "http/h2_body.h"
#include "http/h2_util.h"

namespace berth::http {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using Clock = std::chrono::steady_clock;

namespace {

constexpr auto kAwait = asio::as_tuple(asio::use_awaitable);

// A request waiting for its response: woken by cancelling its timer.
struct Pending {
  asio::steady_timer* timer;
  std::optional<Result<Response>> result;
  const StreamIf* streamIf = nullptr;
};

h2::SessionOptions withHeadersEvents(h2::SessionOptions o) {
  o.headersEvents = true;
  return o;
}

class ClientConn : public h2detail::StreamBody::Owner,
                   public h2detail::BodySender,
                   public std::enable_shared_from_this<ClientConn> {
 public:
  ClientConn(asio::any_io_executor ex, const H2ClientOptions& o)
      : sock_(ex),
        session_(h2::Role::kClient, withHeadersEvents(o.session)),
        connectTimeout_(o.connectTimeout),
        streamIdle_(o.streamIdleTimeout) {}

  std::string take(uint32_t id) override {
    std::string data = session_.takeData(id);
    kick();  // the window it gives back
    return data;
  }
  void release(uint32_t id, bool ended) override {
    bodies_.drop(id, false);
    if (!ended && !dead_) cancel(id);
  }

  bool usable() const { return !dead_ && (connecting_ || session_.canOpenStream()); }
  bool dead() const { return dead_; }
  bool connecting() const { return connecting_; }
  size_t streams() const { return pending_.size(); }

  asio::awaitable<void> run(std::shared_ptr<ClientConn> self, Endpoint to) {
    std::string err = co_await connect(to);
    connecting_ = false;
    if (!err.empty()) {
      fail(Error(ECONNREFUSED, "connect " + to.key() + ": " + err));
      co_return;
    }
    boost::system::error_code ec;
    sock_.set_option(tcp::no_delay(true), ec);
    session_.start();
    wakeWaiters();
    kick();
    std::vector<char> buf(64 * 1024);
    for (;;) {
      auto [rec, n] = co_await sock_.async_read_some(asio::buffer(buf), kAwait);
      if (rec || n == 0) break;
      bool ok = session_.receive({buf.data(), n});
      process();
      kick();
      wakeSenders();
      if (!ok) break;
    }
    std::string why = session_.failed() ? session_.failure() : "connection closed";
    fail(Error(ECONNRESET, "h2 stream reset: " + why));
  }

  // Wait until connected (or failed) or the deadline passes.
  asio::awaitable<void> waitReady(Clock::time_point deadline) {
    asio::steady_timer t(sock_.get_executor());
    t.expires_at(deadline);
    waiters_.push_back(&t);
    co_await t.async_wait(kAwait);
    std::erase(waiters_, &t);
  }

  uint32_t submit(const h2::Message& m, Pending* p, bool more) {
    uint32_t id = session_.submitRequest(m, more);
    if (id) {
      pending_[id] = p;
      kick();
    }
    return id;
  }

  // Send a streamed request body as it comes from `src`, as the window allows. Runs beside
  // the wait for the response (a bidirectional call's answer may come before the end).
  asio::awaitable<void> pump(std::shared_ptr<ClientConn> self, uint32_t id,
                             std::shared_ptr<BodySource> src,
                             std::vector<h2::HeaderField> trailers) {
    auto sent = co_await sendBody(id, *src, std::move(trailers));
    if (!sent && !dead_)
      failStream(id, Error(ErrorCode::kRequestBody, "request body: " + sent.error().message()));
  }

  void cancel(uint32_t id) {
    pending_.erase(id);
    if (auto* body = bodies_.take(id)) body->fail(Error(ECONNRESET, "h2 stream cancelled"));
    session_.resetStream(id, h2::H2Error::kCancel);
    kick();
  }

  const Error& error() const { return error_; }

  void close() {
    boost::system::error_code ec;
    sock_.close(ec);
  }

 private:
  asio::awaitable<std::string> connect(const Endpoint& to) {
    boost::system::error_code ec;
    auto addr = asio::ip::make_address(to.host, ec);
    std::vector<tcp::endpoint> eps;
    if (!ec) {
      eps.emplace_back(addr, to.port);
    } else {
      tcp::resolver r(sock_.get_executor());
      auto [rec, res] = co_await r.async_resolve(to.host, std::to_string(to.port), kAwait);
      if (rec) co_return "resolve " + to.host + ": " + rec.message();
      for (auto& e : res) eps.push_back(e.endpoint());
    }
    asio::steady_timer t(sock_.get_executor());
    t.expires_after(connectTimeout_);
    bool timedOut = false;
    t.async_wait([this, &timedOut](boost::system::error_code e) {
      if (!e) {
        timedOut = true;
        boost::system::error_code ignored;
        sock_.close(ignored);
      }
    });
    auto [cec, ep] = co_await asio::async_connect(sock_, eps, kAwait);
    t.cancel();
    if (timedOut) co_return "timed out";
    if (cec) co_return cec.message();
    co_return "";
  }

  void process() {
    auto events = std::move(session_.events());
    session_.events().clear();
    for (size_t i = 0; i < events.size(); ++i) {
      const h2::Event& e = events[i];
      if (bodies_.route(session_, e)) continue;  // a response being streamed to its reader
      auto it = pending_.find(e.streamId);
      if (e.kind == h2::Event::kHeaders) {
        if (it == pending_.end() || !it->second->streamIf ||
            h2detail::endsInBatch(events, i, e.streamId))
          continue;
        const h2::Message head{*session_.peekHeaders(e.streamId), {}, {}};
        Response r = h2detail::fromResponseMessage(head);
        auto length = session_.declaredLength(e.streamId);
        const StreamIf& si = *it->second->streamIf;
        if (!si.decide(si.ctx, r, length)) continue;  // read whole: kMessage comes later
        session_.streamBody(e.streamId);
        auto b = std::make_shared<h2detail::StreamBody>(shared_from_this(), e.streamId,
                                                        sock_.get_executor(), length, streamIdle_);
        bodies_.add(e.streamId, b.get());
        r.bodySource = std::move(b);
        it->second->result = std::move(r);
      } else if (e.kind == h2::Event::kMessage) {
        h2::Message m = session_.takeMessage(e.streamId);
        if (it == pending_.end()) continue;
        it->second->result = h2detail::fromResponseMessage(std::move(m));
      } else if (e.kind == h2::Event::kReset) {
        if (it == pending_.end()) continue;
        it->second->result = tl::unexpected(
            Error(ECONNRESET, "h2 stream reset: " + std::string(h2::errorName(e.code))));
      } else {
        continue;
      }
      it->second->timer->cancel();
      pending_.erase(it);
    }
  }

  // One stream failed on our side (its request body): reset it, tell its waiter or reader.
  void failStream(uint32_t id, Error e) {
    if (auto it = pending_.find(id); it != pending_.end()) {
      it->second->result = tl::unexpected(e);
      it->second->timer->cancel();
      pending_.erase(it);
    }
    if (auto* body = bodies_.take(id)) body->fail(e);
    session_.resetStream(id, h2::H2Error::kCancel);
    kick();
  }

  void fail(Error e) {
    dead_ = true;
    error_ = e;
    for (auto& [id, p] : pending_) {
      p->result = tl::unexpected(e);
      p->timer->cancel();
    }
    pending_.clear();
    bodies_.failAll(e);
    wakeSenders();
    wakeWaiters();
    close();
  }

  void wakeWaiters() {
    for (auto* t : waiters_) t->cancel();
  }

  h2::Session& session() override { return session_; }
  bool gone() const override { return dead_; }
  size_t inFlight() const override { return writing_ ? wbuf_.size() : 0; }
  asio::any_io_executor executor() override { return sock_.get_executor(); }

  void kick() override {
    if (writing_ || dead_ || connecting_ || session_.output().empty()) return;
    writing_ = true;
    asio::co_spawn(sock_.get_executor(), writeLoop(shared_from_this()), asio::detached);
  }

  asio::awaitable<void> writeLoop(std::shared_ptr<ClientConn> self) {
    while (!dead_ && !session_.output().empty()) {
      wbuf_.clear();
      wbuf_.swap(session_.output());
      auto [ec, n] = co_await asio::async_write(sock_, asio::buffer(wbuf_), kAwait);
      if (ec) {
        fail(Error(ECONNRESET, "h2 stream reset: write: " + ec.message()));
        break;
      }
      wbuf_.clear();
      wakeSenders();
    }
    writing_ = false;
  }

  tcp::socket sock_;
  h2::Session session_;
  std::chrono::milliseconds connectTimeout_;
  std::chrono::milliseconds streamIdle_;
  std::unordered_map<uint32_t, Pending*> pending_;
  h2detail::StreamBodies bodies_;  // streamed responses
  std::vector<asio::steady_timer*> waiters_;
  std::string wbuf_;
  Error error_;
  bool connecting_ = true;
  bool dead_ = false;
  bool writing_ = false;
};

}  // namespace

struct H2Client::Impl {
  asio::any_io_executor ex;
  H2ClientOptions options;
  std::unordered_map<std::string, std::vector<std::shared_ptr<ClientConn>>> pool;

  std::shared_ptr<ClientConn> pick(const Endpoint& to) {
    auto& v = pool[to.key()];
    std::erase_if(v, [](const auto& c) { return c->dead(); });
    std::shared_ptr<ClientConn> best;
    for (auto& c : v)
      if (c->usable() && (!best || c->streams() < best->streams())) best = c;
    if (best) return best;
    auto c = std::make_shared<ClientConn>(ex, options);
    v.push_back(c);
    asio::co_spawn(ex, c->run(c, to), asio::detached);
    return c;
  }
};

H2Client::H2Client(asio::any_io_executor executor, H2ClientOptions options)
    : impl_(std::make_shared<Impl>()) {
  impl_->ex = std::move(executor);
  impl_->options = options;
}

H2Client::~H2Client() { close(); }

void H2Client::close() {
  for (auto& [k, v] : impl_->pool)
    for (auto& c : v) c->close();
  impl_->pool.clear();
}

size_t H2Client::connections() const {
  size_t n = 0;
  for (auto& [k, v] : impl_->pool)
    for (auto& c : v) n += !c->dead();
  return n;
}

asio::awaitable<Result<Response>> H2Client::request(
    Endpoint to, Request req, std::optional<std::chrono::milliseconds> timeout,
    const StreamIf* streamIf) {
  auto impl = impl_;
  auto deadline = Clock::now() + timeout.value_or(impl->options.requestTimeout);
  std::string authority = to.key();
  std::shared_ptr<BodySource> src = std::move(req.bodySource);
  h2::Message m = h2detail::toRequestMessage(req, authority, src.get());
  for (int tries = 0; tries < 3; ++tries) {
    auto conn = impl->pick(to);
    if (conn->connecting()) co_await conn->waitReady(deadline);
    if (conn->dead()) co_return tl::unexpected(conn->error());
    if (conn->connecting())
      co_return fail(ErrorCode::kTimeout, "connect " + to.key() + ": timed out");
    asio::steady_timer timer(impl->ex);
    Pending p{&timer, std::nullopt, streamIf};
    uint32_t id = conn->submit(m, &p, src != nullptr);
    if (!id) continue;  // the connection filled up or is going away: pick again
    if (src)
      asio::co_spawn(impl->ex, conn->pump(conn, id, std::move(src), std::move(m.trailers)),
                     asio::detached);
    timer.expires_at(deadline);
    co_await timer.async_wait(kAwait);
    if (p.result) co_return std::move(*p.result);
    conn->cancel(id);
    co_return fail(ErrorCode::kTimeout, "h2 request to " + to.key() + " timed out");
  }
  co_return tl::unexpected(Error(ECONNRESET, "h2 stream reset: no stream available"));
}

}  // namespace berth::http
