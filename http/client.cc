#include "http/client.h"

#include <sys/socket.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

#include <charconv>
#include <limits>
#include <unordered_map>

#include "common/strings.h"
#include "http/body_source.h"
#include "http/connection.h"

namespace berth::http {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using Clock = std::chrono::steady_clock;

namespace {
constexpr auto kAwait = asio::as_tuple(asio::use_awaitable);

constexpr size_t kNotBusy = static_cast<size_t>(-1);

struct ClientConn {
  explicit ClientConn(asio::any_io_executor ex) : socket(ex) {}
  tcp::socket socket;
  detail::InBuffer in;
  Clock::time_point idleSince;
  // While an exchange is in flight: its deadline and its place in Client::Impl::busy.
  Clock::time_point deadline;
  size_t busyIndex = kNotBusy;
  bool timedOut = false;
};

/// A pooled connection may be reused without a MSG_PEEK check (one syscall) when it was
/// idle briefly and the method may be re-sent: a connection the server closed meanwhile then
/// fails before any response byte and the request is retried once on a new one.
constexpr auto kTrustIdleFor = std::chrono::seconds(1);

/// Closes the socket when the deadline passes, unless disarmed first.
struct Deadline {
  struct State {
    tcp::socket* socket = nullptr;
    bool active = true;
    bool fired = false;
  };
  Deadline(asio::any_io_executor ex, Clock::time_point at, tcp::socket& s)
      : timer(ex), state(std::make_shared<State>()) {
    state->socket = &s;
    timer.expires_at(at);
    timer.async_wait([st = state](boost::system::error_code ec) {
      if (ec || !st->active) return;
      st->fired = true;
      boost::system::error_code ignored;
      st->socket->close(ignored);
    });
  }
  ~Deadline() {
    state->active = false;
    timer.cancel();
  }
  bool fired() const { return state->fired; }
  asio::steady_timer timer;
  std::shared_ptr<State> state;
};

bool idempotent(std::string_view m) {
  return m == "GET" || m == "HEAD" || m == "PUT" || m == "DELETE" || m == "OPTIONS" ||
         m == "TRACE";
}

void appendDecimal(std::string& out, uint64_t v) {
  char buf[24];
  auto [p, ec] = std::to_chars(buf, buf + sizeof buf, v);
  out.append(buf, p);
}

/// One chunk of a chunked body: size in hex, CRLF, the data, CRLF.
void appendChunk(std::string& out, std::string_view data) {
  char buf[24];
  auto [p, ec] = std::to_chars(buf, buf + sizeof buf, data.size(), 16);
  out.append(buf, p);
  out += "\r\n";
  out += data;
  out += "\r\n";
}

/// The request's bytes on the wire, into `out` (cleared; its capacity is reused).
void serializeRequest(const Request& req, const Endpoint& to, std::string& out) {
  out.clear();
  out.reserve(256 + req.body.size());
  out += req.method;
  out += ' ';
  out += req.target.empty() ? "/" : req.target;
  out += " HTTP/1.1\r\n";
  if (!req.headers.has("host")) {
    out += "Host: ";
    bool v6 = to.host.find(':') != std::string::npos;
    if (v6) out += '[';
    out += to.host;
    if (v6) out += ']';
    if (to.port != 80) {
      out += ':';
      appendDecimal(out, to.port);
    }
    out += "\r\n";
  }
  bool chunked = false;
  for (const Header& h : req.headers) {
    if (iequals(h.name, "content-length")) continue;
    if (iequals(h.name, "transfer-encoding")) {
      chunked = true;
      continue;
    }
    out += h.name;
    out += ": ";
    out += h.value;
    out += "\r\n";
  }
  if (req.bodySource) {  // the head only: exchange() sends the body as the source yields it
    if (auto len = req.bodySource->length()) {
      out += "Content-Length: ";
      appendDecimal(out, *len);
      out += "\r\n\r\n";
    } else {
      out += "Transfer-Encoding: chunked\r\n\r\n";
    }
    return;
  }
  if (chunked) {
    out += "Transfer-Encoding: chunked\r\n\r\n";
    if (!req.body.empty()) appendChunk(out, req.body);
    out += "0\r\n\r\n";
    return;
  }
  if (!req.body.empty() || req.method == "POST" || req.method == "PUT" || req.method == "PATCH") {
    out += "Content-Length: ";
    appendDecimal(out, req.body.size());
    out += "\r\n";
  }
  out += "\r\n";
  out += req.body;
}

bool stillUsable(ClientConn& c) {
  char b;
  ssize_t n = ::recv(c.socket.native_handle(), &b, 1, MSG_PEEK | MSG_DONTWAIT);
  return n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
}
}  // namespace

std::string Endpoint::key() const { return host + ":" + std::to_string(port); }

Result<Url> parseUrl(std::string_view url) {
  constexpr std::string_view kScheme = "http://";
  if (url.size() < kScheme.size() || !iequals(url.substr(0, kScheme.size()), kScheme))
    return fail(ErrorCode::kInvalidArgument, "URL '" + std::string(url) + "' is not http://");
  std::string_view rest = url.substr(kScheme.size());
  size_t slash = rest.find_first_of("/?");
  std::string_view authority = rest.substr(0, slash);
  Url u;
  u.target = slash == std::string_view::npos ? "/" : std::string(rest.substr(slash));
  if (!u.target.empty() && u.target[0] == '?') u.target.insert(0, "/");
  std::string_view host = authority, port;
  if (!authority.empty() && authority[0] == '[') {
    size_t close = authority.find(']');
    if (close == std::string_view::npos) return fail(ErrorCode::kInvalidArgument, "URL has a bad IPv6 address");
    host = authority.substr(1, close - 1);
    if (close + 1 < authority.size()) {
      if (authority[close + 1] != ':') return fail(ErrorCode::kInvalidArgument, "URL has a bad port");
      port = authority.substr(close + 2);
    }
  } else if (size_t colon = authority.rfind(':'); colon != std::string_view::npos) {
    host = authority.substr(0, colon);
    port = authority.substr(colon + 1);
  }
  if (host.empty()) return fail(ErrorCode::kInvalidArgument, "URL '" + std::string(url) + "' has no host");
  u.endpoint.host = std::string(host);
  if (!port.empty()) {
    auto p = str::parseU64(port);
    if (!p || *p == 0 || *p > 65535) return fail(ErrorCode::kInvalidArgument, "URL has a bad port");
    u.endpoint.port = static_cast<uint16_t>(*p);
  }
  return u;
}

/// One request in flight: the serialized request and where it goes. Pooled by the client so
/// the steady state allocates nothing for them.
struct ClientJob {
  Endpoint to;
  std::string key;     ///< to.key(), the pool key
  std::string wire;    ///< request line, headers and body as sent
  std::string method, target;
  Clock::time_point deadline;
  std::shared_ptr<BodySource> bodySource;  ///< the body, sent after `wire` (the head)
};

struct Client::Impl {
  explicit Impl(asio::any_io_executor e) : ex(std::move(e)), sweep(ex) {}
  asio::any_io_executor ex;
  ClientOptions options;
  std::unordered_map<std::string, std::vector<std::unique_ptr<ClientConn>>> idle;
  std::vector<std::unique_ptr<ClientJob>> freeJobs;

  // Request deadlines: one timer per client, armed for the earliest deadline among the
  // exchanges in flight (`busy`), instead of a timer armed and cancelled per request. With
  // deadlines seconds away it fires about once per timeout period, closes the sockets of
  // exchanges past their deadline and re-arms for the next; it is cancelled whenever nothing
  // is in flight.
  std::vector<ClientConn*> busy;
  asio::steady_timer sweep;
  Clock::time_point sweepAt = Clock::time_point::max();

  void watch(ClientConn& c, Clock::time_point deadline) {
    c.deadline = deadline;
    c.timedOut = false;
    c.busyIndex = busy.size();
    busy.push_back(&c);
    if (deadline < sweepAt) armSweep(deadline);
  }
  void unwatch(ClientConn& c) {
    if (c.busyIndex == kNotBusy) return;
    ClientConn* last = busy.back();
    busy[c.busyIndex] = last;
    last->busyIndex = c.busyIndex;
    busy.pop_back();
    c.busyIndex = kNotBusy;
    if (busy.empty() && sweepAt != Clock::time_point::max()) {
      // Nothing in flight: a timer left armed would keep a caller's io_context.run() going.
      sweepAt = Clock::time_point::max();
      sweep.cancel();
    }
  }
  void armSweep(Clock::time_point at) {
    sweepAt = at;
    sweep.expires_at(at);  // a wait already pending completes with operation_aborted
    // `this` outlives the wait: destroying the timer completes it with operation_aborted.
    sweep.async_wait([this](boost::system::error_code ec) {
      if (!ec) onSweep();
    });
  }
  void onSweep() {
    auto now = Clock::now();
    auto next = Clock::time_point::max();
    for (ClientConn* c : busy) {
      if (c->deadline <= now) {
        if (!c->timedOut) {
          c->timedOut = true;
          boost::system::error_code ignored;
          c->socket.close(ignored);
        }
      } else {
        next = std::min(next, c->deadline);
      }
    }
    sweepAt = Clock::time_point::max();
    if (next != Clock::time_point::max()) armSweep(next);
  }

  std::unique_ptr<ClientJob> takeJob() {
    if (freeJobs.empty()) return std::make_unique<ClientJob>();
    auto j = std::move(freeJobs.back());
    freeJobs.pop_back();
    return j;
  }
  void giveJob(std::unique_ptr<ClientJob> j) {
    j->bodySource.reset();
    if (freeJobs.size() >= 64 || j->wire.capacity() > (64u << 10)) return;
    freeJobs.push_back(std::move(j));
  }

  std::unique_ptr<ClientConn> takeIdle(const std::string& key, bool mayTrust) {
    auto it = idle.find(key);
    if (it == idle.end()) return nullptr;
    auto now = Clock::now();
    while (!it->second.empty()) {
      auto c = std::move(it->second.back());
      it->second.pop_back();
      if (now - c->idleSince >= options.idleTimeout) continue;
      if ((mayTrust && now - c->idleSince < kTrustIdleFor) || stillUsable(*c)) return c;
    }
    return nullptr;
  }

  void putIdle(const std::string& key, std::unique_ptr<ClientConn> c) {
    auto& list = idle[key];
    if (list.size() >= options.maxIdlePerEndpoint) return;
    c->idleSince = Clock::now();
    list.push_back(std::move(c));
  }

  asio::awaitable<Result<std::unique_ptr<ClientConn>>> connect(const Endpoint& to,
                                                                Clock::time_point deadline) {
    auto c = std::make_unique<ClientConn>(ex);
    std::vector<tcp::endpoint> eps;
    boost::system::error_code ec;
    auto addr = asio::ip::make_address(to.host, ec);
    if (!ec) {
      eps.emplace_back(addr, to.port);
    } else {
      tcp::resolver resolver(ex);
      auto [rec, results] = co_await resolver.async_resolve(to.host, std::to_string(to.port), kAwait);
      if (rec) co_return fail(Error(rec.value(), "resolve " + to.host + ": " + rec.message()));
      for (const auto& r : results) eps.push_back(r.endpoint());
    }
    auto cdl = std::min(deadline, Clock::now() + options.connectTimeout);
    Deadline guard(ex, cdl, c->socket);
    auto [cec, ep] = co_await asio::async_connect(c->socket, eps, kAwait);
    if (guard.fired()) co_return fail(ErrorCode::kTimeout, "connect " + to.key() + ": timed out");
    if (cec) co_return fail(Error(cec.value(), "connect " + to.key() + ": " + cec.message()));
    c->socket.set_option(tcp::no_delay(true), ec);
    co_return c;
  }

  /// Write the request and read the whole response.
  asio::awaitable<Result<Response>> exchange(ClientConn& c, const std::string& wire,
                                             std::string_view method, Clock::time_point deadline,
                                             bool& gotBytes, const StreamIf* streamIf,
                                             BodyFraming& streamed, BodySource* bodySource) {
    watch(c, deadline);
    struct Unwatch {
      Impl* impl;
      ClientConn& c;
      ~Unwatch() { impl->unwatch(c); }
    } unwatchAtEnd{this, c};
    auto timeoutOr = [&](boost::system::error_code ec, std::string what) -> Error {
      if (c.timedOut) return Error(ErrorCode::kTimeout, "request timed out");
      return Error(ec ? ec.value() : static_cast<int>(ErrorCode::kCorrupt),
                   what + (ec ? ": " + ec.message() : std::string()));
    };
    auto [wec, wn] = co_await asio::async_write(c.socket, asio::buffer(wire), kAwait);
    if (bodySource && !wec) {  // the body, as it comes (chunked unless its length is known)
      const bool chunked = !bodySource->length();
      std::string frame;
      for (;;) {
        auto piece = co_await bodySource->next();
        if (!piece) co_return fail(ErrorCode::kRequestBody, "request body: " + piece.error().message());
        frame.clear();
        if (piece->empty()) {
          if (!chunked) break;
          frame = "0\r\n\r\n";
        } else if (chunked) {
          appendChunk(frame, *piece);
        }
        std::string_view out = frame.empty() ? *piece : std::string_view(frame);
        auto [bec, bn] = co_await asio::async_write(c.socket, asio::buffer(out.data(), out.size()), kAwait);
        if (bec) {  // an early answer (413) may be waiting: read it below
          wec = bec;
          break;
        }
        if (piece->empty()) break;
      }
    }
    // A server may answer early (413) and close before reading the whole body: on a write
    // error still read what it sent, and report the write error only if there is nothing.
    if (wec && c.timedOut) co_return fail(timeoutOr(wec, "write request"));
    Response resp;
    resp.headers.reserve(16);
    const Limits& lim = options.limits;
    for (;;) {  // head, skipping 1xx interim responses
      ParseResult r;
      if (!c.in.empty()) r = parseResponseHead(c.in.view(), lim, resp);
      if (r.failed()) co_return fail(ErrorCode::kCorrupt, std::string("malformed response: ") + r.error);
      if (r.complete()) {
        c.in.consume(r.consumed);
        if (resp.status >= 100 && resp.status < 200 && resp.status != 101) continue;
        break;
      }
      auto [ec, n] = co_await c.socket.async_read_some(c.in.prepare(4096), kAwait);
      if (ec || n == 0) co_return fail(timeoutOr(wec ? wec : ec, wec ? "write request" : "read response"));
      gotBytes = true;
      c.in.commit(n);
    }
    BodyFraming framing;
    ParseResult fr;
    if (streamIf) {  // a streamed body has no size limit: decide before applying it
      Limits unlimited = lim;
      unlimited.maxBodyBytes = std::numeric_limits<uint64_t>::max();
      fr = responseFraming(resp, method, unlimited, framing);
      if (!fr.failed() && framing.kind != BodyFraming::kNone &&
          streamIf->decide(streamIf->ctx, resp,
                           framing.kind == BodyFraming::kLength ? std::optional<uint64_t>(framing.length)
                                                                : std::nullopt)) {
        streamed = framing;
        if (wec) resp.keepAlive = false;
        co_return resp;
      }
      if (!fr.failed() && framing.kind == BodyFraming::kLength && framing.length > lim.maxBodyBytes)
        fr = responseFraming(resp, method, lim, framing);  // the usual error
    } else {
      fr = responseFraming(resp, method, lim, framing);
    }
    if (fr.failed()) co_return fail(ErrorCode::kCorrupt, std::string("malformed response: ") + fr.error);
    ChunkedDecoder dec(lim.maxBodyBytes, lim.maxHeadBytes);
    for (;;) {
      if (framing.kind == BodyFraming::kNone) break;
      if (framing.kind == BodyFraming::kLength) {
        size_t take = static_cast<size_t>(std::min<uint64_t>(framing.length - resp.body.size(), c.in.size()));
        resp.body.append(c.in.view().substr(0, take));
        c.in.consume(take);
        if (resp.body.size() == framing.length) break;
      } else if (framing.kind == BodyFraming::kChunked) {
        ParseResult r = dec.decode(c.in.view(), resp.body);
        if (r.failed()) co_return fail(ErrorCode::kCorrupt, std::string("malformed chunked response: ") + r.error);
        c.in.consume(r.consumed);
        if (r.complete()) break;
      } else {
        resp.body.append(c.in.view());
        c.in.consume(c.in.size());
        if (resp.body.size() > lim.maxBodyBytes) co_return fail(ErrorCode::kCorrupt, "response body too large");
      }
      auto [ec, n] = co_await c.socket.async_read_some(c.in.prepare(16384), kAwait);
      if (framing.kind == BodyFraming::kUntilClose && (ec == asio::error::eof || n == 0) && !c.timedOut) {
        resp.keepAlive = false;
        break;
      }
      if (ec || n == 0) co_return fail(timeoutOr(ec, "read response body"));
      c.in.commit(n);
    }
    if (framing.kind == BodyFraming::kUntilClose || !c.in.empty() || wec) resp.keepAlive = false;
    co_return resp;
  }
};

Client::Client(asio::any_io_executor executor, ClientOptions options)
    : impl_(std::make_shared<Impl>(std::move(executor))) {
  impl_->options = std::move(options);
}

Client::~Client() = default;

void Client::closeIdle() { impl_->idle.clear(); }

size_t Client::idleConnections() const {
  size_t n = 0;
  for (auto& [k, v] : impl_->idle) n += v.size();
  return n;
}

namespace {
/// The body of a streamed response, read from its connection piece by piece.
class ClientBodySource final : public BodySource {
 public:
  ClientBodySource(std::shared_ptr<Client::Impl> impl, std::unique_ptr<ClientConn> c,
                   std::string key, BodyFraming framing, bool keepAlive, Clock::duration wait)
      : impl_(std::move(impl)), c_(std::move(c)), key_(std::move(key)), framing_(framing),
        left_(framing.length), keepAlive_(keepAlive), wait_(wait),
        dec_(std::numeric_limits<uint64_t>::max(), impl_->options.limits.maxHeadBytes) {
    done_ = framing.kind == BodyFraming::kLength && framing.length == 0;
  }
  ~ClientBodySource() override {
    if (c_) impl_->unwatch(*c_);
  }
  // Not a coroutine itself (GCC 12 and virtual coroutines); returns pull()'s.
  asio::awaitable<Result<std::string_view>> next() override { return pull(); }
  void cancel() override {  // the reader went away: a waiting read ends now (not pooled)
    keepAlive_ = false;
    if (!c_) return;
    boost::system::error_code ec;
    c_->socket.close(ec);
  }
  std::optional<uint64_t> length() const override {
    if (framing_.kind == BodyFraming::kLength) return framing_.length;
    return std::nullopt;
  }

 private:
  /// The body has ended: the connection goes back to the pool if it can carry another.
  void release() {
    if (!c_) return;
    if (keepAlive_ && framing_.kind != BodyFraming::kUntilClose && c_->in.empty())
      impl_->putIdle(key_, std::move(c_));
    c_.reset();
  }

  asio::awaitable<Result<std::string_view>> pull() {
    if (failed_) co_return fail(ErrorCode::kFailedPrecondition, "response body already failed");
    if (done_) {  // the previous call returned the last piece (still in c_->in until now)
      release();
      co_return std::string_view();
    }
    for (;;) {
      detail::InBuffer& in = c_->in;
      if (!in.empty()) {
        if (framing_.kind == BodyFraming::kLength) {
          std::string_view piece = in.takeUpTo(left_);
          if (left_ == 0) done_ = true;
          co_return piece;
        }
        if (framing_.kind == BodyFraming::kChunked) {
          scratch_.clear();
          ParseResult r = dec_.decode(in.view(), scratch_);
          if (r.failed()) {
            failed_ = true;
            c_.reset();
            co_return fail(ErrorCode::kCorrupt, std::string("malformed chunked response: ") + r.error);
          }
          in.consume(r.consumed);
          if (r.complete()) done_ = true;
          if (!scratch_.empty()) co_return std::string_view(scratch_);
          if (done_) {
            release();
            co_return std::string_view();
          }
        } else {  // until close
          std::string_view piece = in.view();
          in.consume(in.size());
          co_return piece;
        }
      }
      impl_->watch(*c_, Clock::now() + wait_);
      auto [ec, n] = co_await c_->socket.async_read_some(c_->in.prepare(16384), kAwait);
      impl_->unwatch(*c_);
      bool timedOut = c_->timedOut;
      if (framing_.kind == BodyFraming::kUntilClose && (ec == asio::error::eof || n == 0) && !timedOut) {
        done_ = true;
        keepAlive_ = false;
        release();
        co_return std::string_view();
      }
      if (ec || n == 0) {
        failed_ = true;
        c_.reset();
        if (timedOut) co_return fail(ErrorCode::kTimeout, "response body timed out");
        co_return fail(Error(ec ? ec.value() : static_cast<int>(ErrorCode::kCorrupt),
                             "read response body: " + (ec ? ec.message() : std::string("connection closed"))));
      }
      c_->in.commit(n);
    }
  }

  std::shared_ptr<Client::Impl> impl_;
  std::unique_ptr<ClientConn> c_;
  std::string key_;
  BodyFraming framing_;
  uint64_t left_;
  bool keepAlive_;
  Clock::duration wait_;
  ChunkedDecoder dec_;
  std::string scratch_;
  bool done_ = false;
  bool failed_ = false;
};

asio::awaitable<Result<Response>> runJob(std::shared_ptr<Client::Impl> impl,
                                         std::unique_ptr<ClientJob> job, const StreamIf* streamIf,
                                         Clock::duration timeout) {
  struct GiveBack {
    Client::Impl& impl;
    std::unique_ptr<ClientJob>& job;
    ~GiveBack() { impl.giveJob(std::move(job)); }
  } giveBack{*impl, job};
  const bool mayResend = idempotent(job->method) && !job->bodySource;  // a source is read once
  for (int attempt = 0;; ++attempt) {
    std::unique_ptr<ClientConn> c = impl->takeIdle(job->key, mayResend && attempt == 0);
    bool reused = c != nullptr;
    if (!c) {
      auto r = co_await impl->connect(job->to, job->deadline);
      if (!r) co_return fail(std::move(r).error());
      c = std::move(*r);
    }
    bool gotBytes = false;
    BodyFraming streamed;
    auto res = co_await impl->exchange(*c, job->wire, job->method, job->deadline, gotBytes,
                                       streamIf, streamed, job->bodySource.get());
    if (res) {
      if (streamed.kind != BodyFraming::kNone) {
        res->bodySource = std::make_shared<ClientBodySource>(impl, std::move(c), job->key, streamed,
                                                             res->keepAlive, timeout);
      } else if (res->keepAlive) {
        impl->putIdle(job->key, std::move(c));
      }
      co_return res;
    }
    if (attempt == 0 && reused && !gotBytes && mayResend && !res.error().is(ErrorCode::kTimeout) &&
        Clock::now() < job->deadline) {
      continue;
    }
    if (res.error().is(ErrorCode::kRequestBody))
      co_return fail(std::move(res).error());  // the caller's source failed, not the server
    co_return fail(std::move(res).error().context(job->method + " " + job->key + job->target));
  }
}
}  // namespace

// Neither is a coroutine: the request is serialized into a pooled job first. (GCC 12 also
// destroys by-value coroutine parameters that were passed as temporaries twice, PR 99576-like,
// and callers naturally write `co_await client.request(ep, Request{...})`.)
asio::awaitable<Result<Response>> Client::request(Endpoint to, Request req,
                                                  std::optional<std::chrono::milliseconds> timeout) {
  return send(to, req, timeout);
}

asio::awaitable<Result<Response>> Client::send(const Endpoint& to, const Request& req,
                                               std::optional<std::chrono::milliseconds> timeout,
                                               const StreamIf* streamIf) {
  std::unique_ptr<ClientJob> job = impl_->takeJob();
  Clock::duration wait = timeout.value_or(impl_->options.requestTimeout);
  job->deadline = Clock::now() + wait;
  if (job->to.host != to.host || job->to.port != to.port || job->key.empty()) {
    job->to = to;
    job->key = to.key();
  }
  serializeRequest(req, to, job->wire);
  job->bodySource = req.bodySource;
  job->method = req.method;
  job->target = req.target;
  return runJob(impl_, std::move(job), streamIf && streamIf->decide ? streamIf : nullptr, wait);
}

asio::awaitable<Result<void>> drainBody(BodySource& src, std::string& out, uint64_t limit) {
  for (;;) {
    auto piece = co_await src.next();
    if (!piece) co_return fail(std::move(piece).error());
    if (piece->empty()) co_return Result<void>();
    if (out.size() + piece->size() > limit)
      co_return fail(ErrorCode::kInvalidArgument, "body longer than " + std::to_string(limit) + " bytes");
    out.append(*piece);
  }
}

Result<Response> fetch(std::string_view url, Request req, std::chrono::milliseconds timeout) {
  BERTH_ASSIGN(Url u, parseUrl(url));
  req.target = u.target;
  asio::io_context io(1);
  Client client(io.get_executor());
  Result<Response> out = fail(ErrorCode::kInternal, "no response");
  asio::co_spawn(io, client.request(u.endpoint, std::move(req), timeout),
                 [&out](std::exception_ptr e, Result<Response> r) {
                   if (e) out = fail(ErrorCode::kInternal, "request failed with an exception");
                   else out = std::move(r);
                 });
  io.run();
  return out;
}

}  // namespace berth::http
