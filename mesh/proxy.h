#pragma once
/// Proxy: berth-proxy's engine. Listeners (http::Server each) route requests to clusters and
/// forward them with http::Client (one per worker thread, pooled); a control thread runs
/// active health checks, DNS refreshes, outlier timers, config-file reloads and the span
/// exporter; an admin server on loopback serves /metrics, /stats, /clusters and endpoint
/// changes. See docs/design/mesh.md.
///
/// Config reload keeps every connection: listeners whose address stays keep their sockets,
/// clusters keep their state (hosts, health, breakers) and take the new policies, and new
/// requests see the new routes. Added listeners start; removed ones drain.

#include <cstdint>
#include <memory>
#include <string>

#include "common/error.h"
#include "mesh/clock.h"
#include "mesh/config.h"
#include "mesh/metrics.h"

namespace berth::mesh {

struct ProxyOptions {
  std::string configPath;  ///< watched for changes when non-empty
  std::chrono::milliseconds watchInterval{1000};  ///< how often the file's mtime is checked
};

class Proxy {
 public:
  /// Validate `cfg` and prepare clusters (static DNS names are resolved here).
  static Result<std::unique_ptr<Proxy>> create(Config cfg, ProxyOptions options = {});
  ~Proxy();  ///< stops everything

  /// Bind every listener and the admin endpoint and start serving. Errors: bind failures.
  Result<void> start();
  /// Stop accepting, finish in-flight requests, then stop.
  void drain();
  void stop();
  /// Block until stopped.
  void wait();

  /// Re-read the config file now. On error the running config stays.
  Result<void> reload();
  /// Apply a new config (what reload() does after reading the file).
  Result<void> apply(Config cfg);

  /// Bound port of the listener with this configured address ("127.0.0.1:0" style allowed).
  uint16_t listenerPort(size_t index) const;
  uint16_t adminPort() const;

  /// Admin and metrics renderings (also served by the admin endpoint).
  std::string metricsText() const;
  std::string statsJson() const;

  struct Impl;

 private:
  explicit Proxy(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace berth::mesh
