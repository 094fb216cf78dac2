// The proxy's data path: listener -> route -> cluster -> host (load balancer) -> upstream
// request with timeouts and retries -> response. Runs on the listener's worker threads; each
// worker has its own pooled http::Client.

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <cerrno>

#include "common/strings.h"
#include "http/body_source.h"
#include "http/client.h"
#include "http/h2_client.h"
#include "mesh/proxy_impl.h"
#include "mesh/retry.h"
#include "telemetry/trace.h"

namespace berth::mesh {

namespace asio = boost::asio;
using std::chrono::duration_cast;
using std::chrono::milliseconds;

namespace {

constexpr auto kAwait = asio::as_tuple(asio::use_awaitable);

Rng& threadRng() {
  thread_local Rng rng(ringHash(str::randomHex(8)));
  return rng;
}

// One pooled client per worker thread and per (connect timeout, idle cap). The worker's
// io_context outlives its thread's thread_locals, which die when the thread ends.
http::Client& clientFor(Duration connectTimeout, uint32_t maxIdle) {
  struct Entry {
    int64_t ct;
    uint32_t idle;
    std::unique_ptr<http::Client> client;
  };
  thread_local std::vector<Entry> clients;
  int64_t ct = duration_cast<milliseconds>(connectTimeout).count();
  for (auto& e : clients)
    if (e.ct == ct && e.idle == maxIdle) return *e.client;
  http::ClientOptions o;
  o.connectTimeout = milliseconds(std::max<int64_t>(1, ct));
  o.maxIdlePerEndpoint = maxIdle;
  o.idleTimeout = std::chrono::seconds(55);
  clients.push_back({ct, maxIdle, std::make_unique<http::Client>(http::currentWorkerExecutor(), o)});
  return *clients.back().client;
}

// One HTTP/2 client per worker thread and connect timeout (clusters with protocol: h2c).
http::H2Client& h2ClientFor(Duration connectTimeout) {
  struct Entry {
    int64_t ct;
    std::unique_ptr<http::H2Client> client;
  };
  thread_local std::vector<Entry> clients;
  int64_t ct = duration_cast<milliseconds>(connectTimeout).count();
  for (auto& e : clients)
    if (e.ct == ct) return *e.client;
  http::H2ClientOptions o;
  o.connectTimeout = milliseconds(std::max<int64_t>(1, ct));
  clients.push_back({ct, std::make_unique<http::H2Client>(http::currentWorkerExecutor(), o)});
  return *clients.back().client;
}

// RFC 9110 7.6.1: fields a proxy must not forward, plus those named in Connection. Runs for
// every field of every message: dispatch on the length before comparing.
bool isHopByHop(std::string_view n) {
  using http::iequals;
  switch (n.size()) {
    case 2: return iequals(n, "te");
    case 6: return iequals(n, "expect");
    case 7: return iequals(n, "trailer") || iequals(n, "upgrade");
    case 10: return iequals(n, "connection") || iequals(n, "keep-alive");
    case 14: return iequals(n, "content-length");
    case 16: return iequals(n, "proxy-connection");
    case 17: return iequals(n, "transfer-encoding");
    case 18: return iequals(n, "proxy-authenticate");
    case 19: return iequals(n, "proxy-authorization");
    default: return false;
  }
}

// Calls `f` on each comma-separated token of every Connection field until it returns true.
// (No allocation.)
template <typename F>
bool anyConnectionToken(const http::Headers& h, F f) {
  for (const auto& field : h) {
    if (field.name.size() != 10 || !http::iequals(field.name, "connection")) continue;
    std::string_view v = field.value;
    while (!v.empty()) {
      size_t comma = v.find(',');
      if (f(str::trim(v.substr(0, comma)))) return true;
      if (comma == std::string_view::npos) break;
      v.remove_prefix(comma + 1);
    }
  }
  return false;
}

// Is `name` one of the tokens of a Connection field?
bool namedInConnection(const http::Headers& h, std::string_view name) {
  return anyConnectionToken(h, [&](std::string_view tok) { return http::iequals(tok, name); });
}

// Connection options other than keep-alive/close name further hop-by-hop fields.
bool namesOtherFields(const http::Headers& h) {
  return anyConnectionToken(h, [](std::string_view tok) {
    return !tok.empty() && !http::iequals(tok, "keep-alive") && !http::iequals(tok, "close");
  });
}

bool dropWhenForwarding(const http::Headers& all, bool checkConnection, const http::Header& f) {
  return isHopByHop(f.name) || (checkConnection && namedInConnection(all, f.name));
}

void copyEndToEnd(const http::Headers& from, http::Headers& to) {
  bool checkConnection = namesOtherFields(from);
  to.reserve(from.size() + 3);
  for (const auto& f : from) {
    if (dropWhenForwarding(from, checkConnection, f)) continue;
    to.add(f.name, f.value);
  }
}

// The same, in place (a response passed back downstream keeps its strings).
void keepEndToEnd(http::Headers& h) {
  bool checkConnection = namesOtherFields(h);
  if (!checkConnection) {
    h.removeIf([](const http::Header& f) { return isHopByHop(f.name); });
    return;
  }
  // Decide against the original list before removing anything.
  std::vector<bool> drop;
  drop.reserve(h.size());
  for (const auto& f : h) drop.push_back(dropWhenForwarding(h, true, f));
  size_t i = 0;
  h.removeIf([&](const http::Header&) { return drop[i++]; });
}

Outcome classify(const Error& e) {
  const std::string& m = e.message();
  bool connecting = str::startsWith(m, "connect ") || str::startsWith(m, "resolve ");
  if (connecting) return Outcome::kConnectFailure;
  if (e.is(ErrorCode::kTimeout)) return Outcome::kTimeout;
  return Outcome::kReset;
}

http::Response localReply(int status, const char* reason) {
  http::Response r(status, std::string(http::reasonPhrase(status)) + " (" + reason + ")\n");
  r.headers.set("x-berth-reason", reason);
  return r;
}

struct Failure {
  int status;
  const char* reason;
};

Failure failureFor(Outcome o, const Error* e) {
  switch (o) {
    case Outcome::kConnectFailure: return {503, "upstream-connect-failure"};
    case Outcome::kTimeout: return {504, "upstream-timeout"};
    default:
      if (e && e->is(ErrorCode::kCorrupt)) return {502, "upstream-bad-response"};
      return {502, "upstream-reset"};
  }
}

// A request queued for a connection slot: the cluster cancels the timer (on the waiter's own
// executor) to wake it. Shared: the posted wake-up may outlive the request's coroutine.
struct SlotWaiter final : Cluster::PendingWaiter, std::enable_shared_from_this<SlotWaiter> {
  explicit SlotWaiter(asio::any_io_executor ex) : timer(std::move(ex)) {}
  void onGranted() override {
    asio::post(timer.get_executor(), [self = shared_from_this()] { self->timer.cancel(); });
  }
  asio::steady_timer timer;
};

// Leaves the queue (giving back a slot granted meanwhile) if the coroutine is destroyed while
// waiting, as when its listener's server is torn down.
struct PendingGuard {
  Cluster* cluster;
  SlotWaiter* waiter;
  ~PendingGuard() {
    if (cluster && cluster->leavePending(*waiter)) cluster->releaseGrantedSlot();
  }
};

// Responses with a body of unknown length, or longer than this, are relayed as they arrive
// (server-sent events, downloads) instead of being read whole first; shorter ones are read
// whole, which costs nothing extra and keeps the common case on the fast path.
constexpr uint64_t kStreamAbove = 256 * 1024;

// What decides, at the head of an upstream response, whether to stream its body.
struct StreamPolicy {
  const RetryConfig* rc;
  const std::string* method;
  const uint32_t* retries;
  bool mayRetry;
  static bool decide(const void* ctx, const http::Response& head, std::optional<uint64_t> length) {
    const auto& p = *static_cast<const StreamPolicy*>(ctx);
    if (length && *length <= kStreamAbove) return false;
    // A response this try will retry is read whole and dropped, not relayed.
    if (head.status >= 500 && p.mayRetry && *p.retries < p.rc->maxRetries &&
        retriable(*p.rc, *p.method, Outcome::kHttp5xx, head.status))
      return false;
    return true;
  }
};

struct Ctx {
  Proxy::Impl* proxy;
  std::shared_ptr<const State> st;
  MonoTime t0;
  int64_t wall0 = 0;
  Route* route = nullptr;
  Cluster* cluster = nullptr;
  std::string upstreamHost;
  uint32_t attempts = 0;
  uint64_t bytesIn = 0;
  Duration lastUpstream{0};
  telemetry::TraceContext trace;
  std::optional<std::array<uint8_t, 8>> parentSpan;
  bool traced = false;
};

void finish(Ctx& c, http::Request& req, const http::Response& resp, const char* reason) {
  Proxy::Impl& p = *c.proxy;
  MonoTime end = p.clock.now();
  Duration total = end - c.t0;
  if (c.cluster) c.cluster->endRequest(resp.status, total, c.lastUpstream);
  if (p.accessLog.enabled()) {
    AccessLogEntry e;
    e.startWallNanos = c.wall0;
    e.method = req.method;
    e.path = std::string(req.target);
    e.authority = std::string(req.headers.get("host"));
    e.remote = req.remoteAddr;
    e.status = resp.status;
    if (reason) e.reason = reason;
    if (c.route) e.route = c.route->cfg.name;
    if (c.cluster) e.cluster = c.cluster->name();
    e.upstreamHost = c.upstreamHost;
    e.attempts = c.attempts;
    e.durationMs = static_cast<double>(total.count()) / 1e6;
    e.upstreamMs = static_cast<double>(c.lastUpstream.count()) / 1e6;
    e.bytesIn = c.bytesIn;
    e.bytesOut = resp.bodySource ? resp.bodySource->length().value_or(0) : resp.body.size();
    if (c.traced) {
      e.traceId = c.trace.traceIdHex();
      e.spanId = c.trace.spanIdHex();
    }
    p.accessLog.write(e);
  }
  if (c.traced && p.tracing.load(std::memory_order_relaxed)) {
    if (auto ex = p.currentExporter()) {
      telemetry::Span s;
      s.name = req.method + " " + (c.route ? c.route->cfg.name : std::string("no-route"));
      s.context = c.trace;
      s.parentSpanId = c.parentSpan;
      s.kind = 2;
      s.startUnixNano = static_cast<uint64_t>(c.wall0);
      s.endUnixNano = static_cast<uint64_t>(c.wall0 + total.count());
      s.stringAttributes = {{"http.method", req.method},
                            {"http.target", req.target},
                            {"berth.cluster", c.cluster ? c.cluster->name() : ""},
                            {"berth.upstream", c.upstreamHost}};
      if (reason) s.stringAttributes.emplace_back("berth.reason", reason);
      s.intAttributes = {{"http.status_code", resp.status}, {"berth.attempts", c.attempts}};
      s.error = resp.status >= 500;
      ex->submit(std::move(s));
    }
  }
}

asio::awaitable<http::Response> handle(Proxy::Impl* proxy, const std::string& listenerKey,
                                       http::Request& req) {
  Ctx c;
  c.proxy = proxy;
  c.t0 = proxy->clock.now();
  if (proxy->accessLog.enabled() || proxy->tracing) c.wall0 = proxy->clock.wallNanos();
  proxy->counters.downstream.fetch_add(1, std::memory_order_relaxed);
  c.st = proxy->load();
  Rng& rng = threadRng();

  auto rit = c.st->routers.find(listenerKey);
  if (rit == c.st->routers.end()) {  // listener being removed by a reload
    auto r = localReply(503, "listener-removed");
    finish(c, req, r, "listener-removed");
    co_return r;
  }
  HeaderLookup lookup = [&req](std::string_view n) -> std::optional<std::string_view> {
    const http::Header* h = req.headers.find(n);
    if (!h) return std::nullopt;
    return std::string_view(h->value);
  };
  c.route = rit->second->match(req.headers.get("host"), req.path(), lookup);
  if (!c.route) {
    proxy->counters.noRoute.fetch_add(1, std::memory_order_relaxed);
    auto r = localReply(404, "no-route");
    finish(c, req, r, "no-route");
    co_return r;
  }
  Route& route = *c.route;
  if (!route.admit()) {
    proxy->counters.rateLimited.fetch_add(1, std::memory_order_relaxed);
    auto r = localReply(429, "rate-limited");
    finish(c, req, r, "rate-limited");
    co_return r;
  }
  Cluster* cluster = Router::pickCluster(route, rng.next());
  if (Reject rj = cluster->beginRequest(); rj != Reject::kNone) {
    auto r = localReply(503, rejectName(rj));
    r.headers.set("x-berth-overloaded", "true");
    cluster->countResponse(503);  // beginRequest refused: no slot to release
    c.cluster = nullptr;
    finish(c, req, r, rejectName(rj));
    co_return r;
  }
  c.cluster = cluster;
  route.countRequest();
  auto params = cluster->dataPathParams();
  const RetryConfig& rc = route.cfg.retry;

  // The upstream request: end-to-end fields only, plus forwarding and trace context.
  http::Request up;
  up.method = req.method;
  up.target = req.target;
  copyEndToEnd(req.headers, up.headers);
  if (!req.remoteAddr.empty()) {
    std::string_view ip = req.remoteAddr;
    if (auto colon = ip.rfind(':'); colon != std::string_view::npos) ip = ip.substr(0, colon);
    if (!ip.empty() && ip.front() == '[') ip = ip.substr(1, ip.size() - 2);
    std::string_view prior = req.headers.get("x-forwarded-for");
    up.headers.set("x-forwarded-for", prior.empty() ? std::string(ip)
                                                    : std::string(prior) + ", " + std::string(ip));
  }
  // W3C trace context: continue the caller's trace with a span of our own, or start one.
  if (auto in = telemetry::TraceContext::parse(req.headers.get("traceparent"))) {
    c.trace = in->child();
    c.parentSpan = in->spanId;
  } else {
    c.trace = telemetry::TraceContext::newRoot();
  }
  c.traced = true;
  up.headers.set("traceparent", c.trace.traceparent());
  c.bytesIn = req.bodySource ? req.bodySource->length().value_or(0) : req.body.size();
  up.body = std::move(req.body);
  up.bodySource = req.bodySource;  // a long body streams through (and is not retried)
  up.trailers = std::move(req.trailers);
  // gRPC over HTTP/2 needs "te: trailers" end to end (the only TE value HTTP/2 allows).
  if (params.h2c && http::iequals(req.headers.get("te"), "trailers")) up.headers.set("te", "trailers");

  LbContext lbctx;
  std::string hashValue;
  if (params.ringHash) {
    if (const http::Header* h = req.headers.find(params.hashHeader)) {
      hashValue = h->value;
      lbctx.hashKey = hashValue;
      lbctx.hasHashKey = true;
    }
  }

  http::Client* client = params.h2c ? nullptr : &clientFor(params.connectTimeout, params.maxIdle);
  http::H2Client* h2client = params.h2c ? &h2ClientFor(params.connectTimeout) : nullptr;
  const MonoTime deadline = c.t0 + route.cfg.timeout;
  const bool mayRetry = rc.maxRetries > 0 && (rc.allowNonIdempotent || isIdempotent(req.method)) &&
                        !up.bodySource;
  HostPtr prev;
  uint32_t retries = 0;
  const StreamPolicy streamPolicy{&rc, &req.method, &retries, mayRetry};
  const http::StreamIf streamIf{&StreamPolicy::decide, &streamPolicy};
  std::optional<http::Response> lastResp;
  Outcome lastOutcome = Outcome::kSuccess;
  std::optional<Error> lastError;
  const char* rejectReason = nullptr;
  bool clientBodyFailed = false;  // the client's own streamed body failed

  for (;;) {
    Duration remaining = deadline - proxy->clock.now();
    if (remaining <= Duration(0)) {
      lastResp.reset();
      lastOutcome = Outcome::kTimeout;
      lastError.reset();
      break;
    }
    auto attempt = cluster->beginAttempt(lbctx, prev.get(), retries > 0);
    if (!attempt && attempt.reject == Reject::kMaxConnections) {
      // Every connection slot is busy: wait as a pending request (max_pending_requests) until
      // the cluster hands this request a released slot or the route deadline passes; answer
      // 503 overflow-pending at once when the queue is full.
      auto waiter = std::make_shared<SlotWaiter>(co_await asio::this_coro::executor);
      Cluster::Pending pr = cluster->enqueuePending(waiter);
      bool granted = pr == Cluster::Pending::kGranted;
      if (pr == Cluster::Pending::kOverflow) {
        attempt.reject = Reject::kMaxPending;
      } else if (pr == Cluster::Pending::kQueued) {
        waiter->timer.expires_at(asio::steady_timer::clock_type::now() +
                                 (deadline - proxy->clock.now()));
        PendingGuard guard{cluster, waiter.get()};
        co_await waiter->timer.async_wait(kAwait);  // cancelled by onGranted()
        guard.cluster = nullptr;
        granted = cluster->leavePending(*waiter);
        if (!granted) {
          lastResp.reset();
          lastOutcome = Outcome::kTimeout;
          lastError.reset();
          break;
        }
      }
      if (granted) attempt = cluster->beginAttempt(lbctx, prev.get(), retries > 0, true);
    }
    if (!attempt) {
      if (retries == 0) rejectReason = rejectName(attempt.reject);
      // A retry that found no host/slot: answer with what the last try got.
      break;
    }
    ++c.attempts;
    Duration tryTimeout = remaining;
    if (rc.perTryTimeout.count() > 0 && rc.perTryTimeout < tryTimeout) tryTimeout = rc.perTryTimeout;
    auto ms = std::max<int64_t>(1, duration_cast<milliseconds>(tryTimeout).count());
    http::Endpoint ep{attempt.host->address.host, attempt.host->address.port};
    MonoTime ts = proxy->clock.now();
    // Named arguments: GCC 12 mishandles non-trivial temporaries inside co_await expressions.
    // The HTTP/1.1 client serializes `up` before it returns, so a retry re-sends it uncopied.
    Result<http::Response> res;
    std::optional<milliseconds> tryMs = milliseconds(ms);
    // A streamed request body (either protocol) goes to an h2c upstream as a stream; the call
    // may still be sending it when its answer comes and this handler returns, which the
    // client's server allows for (an HTTP/1.1 connection then detaches it).
    if (h2client) {
      http::Request attemptReq = mayRetry ? up : std::move(up);
      res = co_await h2client->request(std::move(ep), std::move(attemptReq), tryMs, &streamIf);
    } else {
      res = co_await client->send(ep, up, tryMs, &streamIf);
    }
    // (The h2c call took `up`'s source along: the error code says whose fault it was.)
    if (!res && res.error().is(ErrorCode::kRequestBody)) {
      // The client's own body failed (cut, stalled, malformed): not the upstream's fault.
      cluster->endAttempt(attempt, Outcome::kSuccess, 0, proxy->clock.now() - ts);
      clientBodyFailed = true;
      break;
    }
    Duration rtt = proxy->clock.now() - ts;
    c.lastUpstream = rtt;
    c.upstreamHost = attempt.host->id;
    int status = 0;
    Outcome outcome;
    if (res) {
      status = res->status;
      outcome = status >= 500 ? Outcome::kHttp5xx : Outcome::kSuccess;
      lastResp = std::move(*res);
      lastError.reset();
    } else {
      outcome = classify(res.error());
      lastResp.reset();
      lastError = std::move(res).error();
    }
    lastOutcome = outcome;
    prev = attempt.host;
    cluster->endAttempt(attempt, outcome, status, rtt);

    if (!mayRetry || retries >= rc.maxRetries || !retriable(rc, req.method, outcome, status)) break;
    if (!route.allowRetry()) {
      cluster->noteBudgetExhausted();
      break;
    }
    ++retries;
    Duration wait = backoff(rc, retries, rng);
    Duration left = deadline - proxy->clock.now();
    if (wait >= left) break;
    if (wait.count() > 0) {
      asio::steady_timer t(co_await asio::this_coro::executor, wait);
      co_await t.async_wait(kAwait);
    }
  }

  http::Response out;
  const char* reason = nullptr;
  if (clientBodyFailed) {
    reason = "downstream-body-failed";
    out = localReply(400, reason);
    out.headers.set("connection", "close");
  } else if (rejectReason) {
    out = localReply(503, rejectReason);
    if (std::string_view(rejectReason).starts_with("overflow")) out.headers.set("x-berth-overloaded", "true");
    reason = rejectReason;
  } else if (lastResp) {
    // The upstream response goes back as it is, minus its hop-by-hop fields (no copies). A
    // HEAD answer keeps the upstream's Content-Length (what a GET would have had).
    std::string headLength;
    if (req.method == "HEAD") headLength = lastResp->headers.get("content-length");
    out = std::move(*lastResp);
    keepEndToEnd(out.headers);
    if (!headLength.empty()) out.headers.add("content-length", headLength);
  } else {
    Failure f = failureFor(lastOutcome, lastError ? &*lastError : nullptr);
    out = localReply(f.status, f.reason);
    reason = f.reason;
  }
  finish(c, req, out, reason);
  co_return out;
}

}  // namespace

http::AsyncHandler Proxy::Impl::handlerFor(std::string listenerKey) {
  return [this, key = std::move(listenerKey)](http::Request& req) {
    return handle(this, key, req);
  };
}

}  // namespace berth::mesh
