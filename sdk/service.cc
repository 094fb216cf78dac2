#include "sdk/service.h"

#include <pthread.h>
#include <signal.h>
#include <sys/resource.h>

#include <array>
#include <charconv>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <mutex>

#include "common/log.h"
#include "http/server.h"
#include "sdk/access_log.h"

namespace berth::sdk {

namespace {

using Clock = std::chrono::steady_clock;

struct RouteData {
  Handler handler;
  telemetry::Histogram* latency = nullptr;
  std::array<std::atomic<telemetry::Counter*>, 600> byStatus{};
};

std::string_view methodLabel(std::string_view m) {
  for (std::string_view known : {"GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS"}) {
    if (m == known) return known;
  }
  return "other";
}

/// Append `s` JSON-escaped; the common case (nothing to escape) is one append.
void appendEscaped(std::string& out, std::string_view s) {
  size_t i = 0;
  for (; i < s.size(); ++i) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    if (c < 0x20 || c == '"' || c == '\\') break;
  }
  if (i == s.size()) {
    out += s;
    return;
  }
  out += log::jsonEscape(s);
}

void appendField(std::string& out, std::string_view key, std::string_view value) {
  out += ",\"";
  out += key;
  out += "\":\"";
  appendEscaped(out, value);
  out += '"';
}

void appendInt(std::string& out, std::string_view key, uint64_t v) {
  char buf[24];
  auto [p, ec] = std::to_chars(buf, buf + sizeof buf, v);
  out += ",\"";
  out += key;
  out += "\":";
  out.append(buf, p);
}

void appendHexField(std::string& out, std::string_view key, const uint8_t* data, size_t n) {
  static constexpr char kDigits[] = "0123456789abcdef";
  out += ",\"";
  out += key;
  out += "\":\"";
  for (size_t i = 0; i < n; ++i) {
    out += kDigits[data[i] >> 4];
    out += kDigits[data[i] & 15];
  }
  out += '"';
}

/// Milliseconds with three decimals, without printf.
void appendMillis(std::string& out, std::string_view key, double secs) {
  char buf[48];
  auto [p, ec] = std::to_chars(buf, buf + sizeof buf, secs * 1000, std::chars_format::fixed, 3);
  out += ",\"";
  out += key;
  out += "\":";
  out.append(buf, p);
}

/// The common fields of an access log line, in a per-thread buffer reused from request to
/// request (logging allocates nothing); the caller appends more fields and the closing brace.
std::string& accessLine(const http::Request& req, std::string_view route, int status,
                        double secs, size_t bytesOut) {
  thread_local std::string line;
  line.clear();
  char tbuf[32];
  line += "{\"time\":\"";
  line += isoTimeNow(tbuf);
  line += "\",\"level\":\"info\",\"msg\":\"request\"";
  appendField(line, "method", req.method);
  appendField(line, "path", req.path().substr(0, 512));
  appendField(line, "route", route);
  appendInt(line, "status", static_cast<uint64_t>(status));
  appendMillis(line, "duration_ms", secs);
  appendInt(line, "bytes_in", req.body.size());
  appendInt(line, "bytes_out", bytesOut);
  appendField(line, "remote", req.remoteAddr);
  return line;
}

}  // namespace

std::string_view Context::param(std::string_view name) const {
  for (const auto& [k, v] : params_) {
    if (k == name) return v;
  }
  return {};
}

namespace {
// Per worker thread: the Json that flat request bodies are parsed into, reused from request to
// request so that its nodes are too (no allocation in the steady state). Busy while a Context
// holds it (a handler that handles another request inline gets a Json of its own).
thread_local Json tScratchJson;
thread_local bool tScratchBusy = false;
}  // namespace

Context::~Context() {
  if (usesScratch_) tScratchBusy = false;
}

const Json& Context::json() {
  if (parsed_) return *parsed_;
  if (!tScratchBusy && jsonContentType(request_.headers.get("content-type")) &&
      parseFlatObject(request_.body, tScratchJson)) {
    tScratchBusy = usesScratch_ = true;
    parsed_ = &tScratchJson;
  } else {
    json_ = parseJsonBody(request_);
    parsed_ = &*json_;
  }
  return *parsed_;
}

struct Service::Impl {
  std::string name;
  Config config;
  Router<std::unique_ptr<RouteData>> router;
  telemetry::Registry registry;
  telemetry::CounterFamily* requests = nullptr;
  telemetry::HistogramFamily* latency = nullptr;
  telemetry::Gauge* inFlight = nullptr;
  std::mutex readyMu;
  std::vector<std::pair<std::string, std::function<bool()>>> readiness;
  std::atomic<bool> draining{false};
  std::unique_ptr<AccessLog> accessLog;
  std::unique_ptr<telemetry::OtlpHttpExporter> exporter;
  std::unique_ptr<http::Server> server;
  RouteData unmatched;

  void logLine(std::string_view msg, std::string_view extra = {}) {
    char tbuf[32];
    std::string line = "{\"time\":\"";
    line += isoTimeNow(tbuf);
    line += "\",\"level\":\"info\",\"service\":\"";
    line += log::jsonEscape(name);
    line += "\",\"msg\":\"";
    line += log::jsonEscape(msg);
    line += '"';
    line += extra;
    line += "}\n";
    if (accessLog) accessLog->flush();
    std::fwrite(line.data(), 1, line.size(), stdout);
    std::fflush(stdout);
  }
};

Service::Service(std::string name) : impl_(std::make_unique<Impl>()) {
  impl_->name = name;
  impl_->config.serviceName = std::move(name);
  auto& reg = impl_->registry;
  impl_->requests = &reg.counter("http_requests_total", "HTTP requests handled, by method, route and status.",
                                 {"method", "route", "status"});
  impl_->latency = &reg.histogram("http_request_duration_seconds",
                                  "Time to handle a request, by route.", {"route"});
  impl_->inFlight = &reg.gauge("http_requests_in_flight", "Requests being handled now.").with({});
  impl_->unmatched.latency = &impl_->latency->with({"unmatched"});
  telemetry::registerProcessMetrics(reg);
  Impl* impl = impl_.get();
  reg.callback("http_server_rejected_total",
               "Requests rejected by the HTTP layer (malformed, too large, timeouts).",
               [impl] { return impl->server ? static_cast<double>(impl->server->stats().rejected) : 0.0; },
               true);
  reg.callback("http_server_connections", "Open client connections.",
               [impl] { return impl->server ? static_cast<double>(impl->server->stats().connections) : 0.0; });

  get("/healthz", [](Context&) { return jsonResponse(200, {{"status", "ok"}}); });
  get("/readyz", [impl](Context&) {
    if (impl->draining) return jsonResponse(503, {{"status", "draining"}});
    Json failed = Json::array();
    {
      std::lock_guard<std::mutex> lock(impl->readyMu);
      for (auto& [n, check] : impl->readiness) {
        bool ok = false;
        try {
          ok = check();
        } catch (const std::exception&) {
          ok = false;
        }
        if (!ok) failed.push_back(n);
      }
    }
    if (!failed.empty()) return jsonResponse(503, {{"status", "not ready"}, {"failed", failed}});
    return jsonResponse(200, {{"status", "ready"}});
  });
  get("/metrics", [impl](Context&) {
    return http::Response(200, impl->registry.expose(), "text/plain; version=0.0.4; charset=utf-8");
  });
}

Service::~Service() {
  if (impl_->server) {
    impl_->server->stop();
    impl_->server->wait();
  }
}

void Service::route(std::string method, std::string pattern, Handler handler) {
  auto rd = std::make_unique<RouteData>();
  rd->handler = std::move(handler);
  rd->latency = &impl_->latency->with({pattern});
  std::string p = pattern;
  if (!impl_->router.add(std::move(method), std::move(pattern), std::move(rd))) {
    std::fprintf(stderr, "berth sdk: malformed route pattern '%s'\n", p.c_str());
    std::abort();
  }
}

void Service::readiness(std::string name, std::function<bool()> check) {
  std::lock_guard<std::mutex> lock(impl_->readyMu);
  impl_->readiness.emplace_back(std::move(name), std::move(check));
}

telemetry::Registry& Service::metrics() { return impl_->registry; }
Config& Service::config() { return impl_->config; }
uint16_t Service::port() const { return impl_->server ? impl_->server->port() : 0; }

http::Response Service::handle(http::Request& req) {
  Impl& s = *impl_;
  auto t0 = Clock::now();
  uint64_t startNanos = s.exporter ? telemetry::unixNanos() : 0;
  s.inFlight->inc();

  std::optional<telemetry::TraceContext> parent;
  if (const http::Header* tp = req.headers.find("traceparent")) parent = telemetry::TraceContext::parse(tp->value);
  telemetry::TraceContext trace = parent ? parent->child() : telemetry::TraceContext::newRoot();

  auto m = s.router.match(req.method, req.path());
  RouteData* rd = m.route ? m.route->target.get() : &s.unmatched;
  std::string_view routeLabel = m.route ? std::string_view(m.route->pattern) : "unmatched";
  http::Response resp;
  std::string internal;
  if (m.status == 404) {
    resp = errorResponse(404, "no route for " + std::string(req.path().substr(0, 200)));
  } else if (m.status == 405) {
    resp = errorResponse(405, "method " + req.method + " is not allowed here", m.allow);
  } else {
    Context ctx(req, m.params, trace);
    try {
      resp = rd->handler(ctx);
    } catch (const HttpError& e) {
      resp = errorResponse(e);
    } catch (const std::exception& e) {
      internal = e.what();
      resp = errorResponse(500, {});
    } catch (...) {
      internal = "unknown exception";
      resp = errorResponse(500, {});
    }
  }
  s.inFlight->dec();
  double secs = std::chrono::duration<double>(Clock::now() - t0).count();
  rd->latency->observe(secs);
  int status = resp.status >= 100 && resp.status < 600 ? resp.status : 500;
  if (m.route) {
    telemetry::Counter* c = rd->byStatus[status].load(std::memory_order_relaxed);
    if (!c) {
      c = &s.requests->with({m.route->method, m.route->pattern, std::to_string(status)});
      rd->byStatus[status].store(c, std::memory_order_relaxed);
    }
    c->inc();
  } else {
    s.requests->with({methodLabel(req.method), "unmatched", std::to_string(status)}).inc();
  }

  if (s.accessLog) {
    std::string& line = accessLine(req, routeLabel, status, secs, resp.body.size());
    appendHexField(line, "trace_id", trace.traceId.data(), trace.traceId.size());
    line += '}';
    s.accessLog->write(line);
  }
  if (s.exporter && trace.sampled()) {
    telemetry::Span span;
    span.name = req.method + " " + std::string(routeLabel);
    span.context = trace;
    if (parent) span.parentSpanId = parent->spanId;
    span.startUnixNano = startNanos;
    span.endUnixNano = telemetry::unixNanos();
    span.stringAttributes = {{"http.request.method", req.method},
                             {"http.route", std::string(routeLabel)},
                             {"url.path", std::string(req.path().substr(0, 512))}};
    span.intAttributes = {{"http.response.status_code", status}};
    span.error = status >= 500;
    s.exporter->submit(std::move(span));
  }
  if (!internal.empty()) {
    log::error("handler for " + std::string(routeLabel) + " failed: " + internal);
  }
  return resp;
}

Result<void> Service::start() {
  Impl& s = *impl_;
  if (s.server) return {};
  if (s.config.accessLog) s.accessLog = std::make_unique<AccessLog>(1);
  if (!s.config.otlpEndpoint.empty()) {
    s.exporter = std::make_unique<telemetry::OtlpHttpExporter>(s.config.otlpEndpoint,
                                                                s.config.serviceName);
  }
  http::ServerOptions opt = s.config.serverOptions();
  opt.errorResponse = [](int status, std::string_view detail) { return errorResponse(status, detail); };
  if (s.accessLog) {
    // Requests the HTTP layer answers itself (malformed, too large, timed out) are logged too.
    AccessLog* log = s.accessLog.get();
    opt.onRejected = [log](int status, std::string_view detail, const http::Request& req) {
      std::string& line = accessLine(req, "rejected", status, 0, 0);
      appendField(line, "error", detail.substr(0, 200));
      line += '}';
      log->write(line);
    };
  }
  s.server = std::make_unique<http::Server>(opt);
  s.server->setHandler([this](http::Request& r) { return handle(r); });
  auto r = s.server->start();
  if (!r) {
    s.server.reset();
    return fail(std::move(r).error());
  }
  return {};
}

void Service::shutdown() {
  Impl& s = *impl_;
  s.draining = true;
  if (s.server) {
    s.server->drain();
    s.server->wait();
  }
  if (s.accessLog) s.accessLog->flush();
  if (s.exporter) s.exporter->shutdown();
}

int Service::run(int argc, char** argv) {
  Impl& s = *impl_;
  std::string program = argc > 0 ? argv[0] : s.name;
  auto r = s.config.applyEnv();
  if (r) r = s.config.applyArgs(argc, argv);
  if (!r) {
    std::fprintf(stderr, "%s: %s\n", s.name.c_str(), r.error().message().c_str());
    return 2;
  }
  if (s.config.help) {
    std::fputs(Config::usage(program).c_str(), stdout);
    return 0;
  }
  ::signal(SIGPIPE, SIG_IGN);
  // One fd per connection: take the soft limit up to the hard one (no privilege needed).
  struct rlimit nofile;
  if (::getrlimit(RLIMIT_NOFILE, &nofile) == 0 && nofile.rlim_cur < nofile.rlim_max) {
    nofile.rlim_cur = nofile.rlim_max;
    ::setrlimit(RLIMIT_NOFILE, &nofile);
  }
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  // Block before the workers start so that they inherit the mask and only sigwait sees them.
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  auto started = start();
  if (!started) {
    std::fprintf(stderr, "%s: cannot listen: %s\n", s.name.c_str(), started.error().message().c_str());
    return 1;
  }
  s.logLine("listening", ",\"address\":\"" + log::jsonEscape(s.config.host) + "\",\"port\":" +
                             std::to_string(port()) + ",\"workers\":" + std::to_string(s.config.workers));
  int sig = 0;
  sigwait(&set, &sig);
  s.logLine("draining", std::string(",\"signal\":\"") + (sig == SIGTERM ? "SIGTERM" : "SIGINT") + "\"");
  shutdown();
  s.logLine("stopped");
  return 0;
}

}  // namespace berth::sdk
