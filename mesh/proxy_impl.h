#pragma once
/// Internal to berth_mesh: the Proxy's shared state, used by proxy.cc (lifecycle and data
/// path), admin.cc (admin API) and control.cc (health checks, DNS, timers, reload, spans).

#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "http/h2_server.h"
#include "http/server.h"
#include "mesh/access_log.h"
#include "mesh/admin_unix.h"
#include "mesh/cluster.h"
#include "mesh/proxy.h"
#include "mesh/router.h"
#include "telemetry/trace.h"

namespace berth::mesh {

/// One immutable generation of routing state. Requests hold a shared_ptr to the generation
/// they started with, so a reload never pulls anything from under them.
struct State {
  Config cfg;
  std::map<std::string, std::shared_ptr<Cluster>> clusters;
  std::map<std::string, std::shared_ptr<Router>> routers;  ///< by listener address
};

struct AtomicCounters {
  std::atomic<uint64_t> downstream{0}, noRoute{0}, rateLimited{0}, reloads{0}, reloadFailures{0};
};

class Control;

struct Proxy::Impl {
  ProxyOptions options;
  const Clock& clock = SystemClock::instance();

  mutable std::mutex stateMu;
  std::shared_ptr<const State> state;
  std::shared_ptr<const State> load() const {
    std::lock_guard lk(stateMu);
    return state;
  }

  std::mutex applyMu;  ///< one apply() at a time; guards listeners and admin
  struct Listener {
    std::string key;  ///< configured address "host:port"
    std::unique_ptr<http::H2Server> h2;     ///< h2c connections handed over by `server`
    std::unique_ptr<http::Server> server;   ///< destroyed first (its workers run h2's)
  };
  std::vector<Listener> listeners;
  std::unique_ptr<http::Server> admin;
  std::unique_ptr<UnixAdmin> adminUnix;  ///< admin_socket
  bool started = false;

  AtomicCounters counters;
  std::mutex logMu;
  AccessLog accessLog;

  // Spans go to telemetry's OTLP/HTTP exporter when tracing.otlp_endpoint is set.
  std::atomic<bool> tracing{false};
  mutable std::mutex exporterMu;
  std::string exporterEndpoint;
  std::shared_ptr<telemetry::SpanExporter> exporter;
  void setExporter(const TracingConfig& t);
  std::shared_ptr<telemetry::SpanExporter> currentExporter() const {
    std::lock_guard lk(exporterMu);
    return exporter;
  }

  std::unique_ptr<Control> control;

  // Build a new generation from cfg, reusing live clusters by name.
  Result<std::shared_ptr<State>> buildState(const Config& cfg);
  // Start servers for listeners that are new in `st`, drain those that are gone.
  Result<void> syncListeners(const State& st);
  Result<void> startAdmin(const Config& cfg);
  /// Swap in a new generation built from cfg (serialized by applyMu).
  Result<void> applyConfig(Config cfg);
  /// Read options.configPath and applyConfig() it.
  Result<void> reloadFile();

  // The data path (proxy.cc).
  http::AsyncHandler handlerFor(std::string listenerKey);

  // Admin API (admin.cc).
  http::Response adminHandle(http::Request& req);
  std::vector<Cluster::Snapshot> snapshots() const;
  ProxyCounters proxyCounters() const;
};

/// The control thread (control.cc): health checks, DNS, outlier timers, config watch.
class Control {
 public:
  explicit Control(Proxy::Impl& proxy);
  ~Control();  ///< stops and joins
  void start();
  void stop();

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace berth::mesh
