#pragma once
/// berth's microservice SDK: a JSON HTTP service in a page of code.
///
///   int main(int argc, char** argv) {
///     berth::sdk::Service svc("calc");
///     svc.post("/add", [](berth::sdk::Context& c) {
///       auto in = c.json();
///       return berth::sdk::jsonResponse(200, {{"result", ...}});
///     });
///     return svc.run(argc, argv);
///   }
///
/// Every service gets: GET /healthz (liveness), GET /readyz (readiness hooks; 503 while
/// draining), GET /metrics (Prometheus text: http_requests_total{method,route,status},
/// http_request_duration_seconds{route}, http_requests_in_flight, process_*), W3C traceparent
/// propagation with OTLP/HTTP JSON span export when OTEL_EXPORTER_OTLP_ENDPOINT is set, JSON
/// access logs on stdout, config from env and flags (sdk/config.h), typed errors as JSON
/// (sdk/errors.h), and SIGTERM/SIGINT drain: stop accepting, finish in-flight requests, exit 0.

#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "http/message.h"
#include "sdk/config.h"
#include "sdk/errors.h"
#include "sdk/json.h"
#include "sdk/router.h"
#include "telemetry/metrics.h"
#include "telemetry/trace.h"

namespace berth::sdk {

/// What a handler sees of one request.
class Context {
 public:
  Context(http::Request& req, const Params& params, const telemetry::TraceContext& trace)
      : request_(req), params_(params), trace_(trace) {}
  ~Context();
  Context(const Context&) = delete;
  Context& operator=(const Context&) = delete;
  http::Request& request() { return request_; }
  /// A path parameter ("{id}"), percent-decoded; empty if absent.
  std::string_view param(std::string_view name) const;
  /// The body as JSON (parsed once): throws 415/400/422 as sdk/json.h says. The reference is
  /// valid until the handler returns (copy the Json to keep it longer).
  const Json& json();
  /// This request's span context; pass traceparent() on to outgoing calls.
  const telemetry::TraceContext& trace() const { return trace_; }
  std::string traceparent() const { return trace_.traceparent(); }

 private:
  http::Request& request_;
  const Params& params_;
  const telemetry::TraceContext& trace_;
  std::optional<Json> json_;
  const Json* parsed_ = nullptr;
  bool usesScratch_ = false;  // parsed_ is this worker thread's reused Json
};

using Handler = std::function<http::Response(Context&)>;

class Service {
 public:
  /// `name` is the service name in logs and spans (OTEL_SERVICE_NAME overrides).
  explicit Service(std::string name);
  ~Service();

  /// Register a route; `pattern` as in sdk/router.h. Aborts on a malformed pattern (a
  /// programming error).
  void route(std::string method, std::string pattern, Handler handler);
  void get(std::string pattern, Handler h) { route("GET", std::move(pattern), std::move(h)); }
  void post(std::string pattern, Handler h) { route("POST", std::move(pattern), std::move(h)); }
  void put(std::string pattern, Handler h) { route("PUT", std::move(pattern), std::move(h)); }
  void del(std::string pattern, Handler h) { route("DELETE", std::move(pattern), std::move(h)); }

  /// A readiness check run by GET /readyz; the service is ready when all return true.
  void readiness(std::string name, std::function<bool()> check);
  /// The metrics registry (add the service's own metrics here).
  telemetry::Registry& metrics();
  Config& config();

  /// Read env and flags, listen, serve until SIGTERM/SIGINT, drain, return the exit code
  /// (0 after a clean drain; 2 for bad configuration; 1 if it cannot listen).
  int run(int argc, char** argv);

  /// For tests and embedding: listen and serve in background threads (config as set).
  Result<void> start();
  /// The bound port after start().
  uint16_t port() const;
  /// Drain and stop (what SIGTERM does); returns when stopped.
  void shutdown();

  /// Handle one request as the server would (routing, errors, metrics, logs, spans).
  http::Response handle(http::Request& req);

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace berth::sdk
