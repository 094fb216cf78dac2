#pragma once
/// Rendering of cluster snapshots: Prometheus text exposition (/metrics) and the operator
/// JSON (/stats: latency, throughput and availability per cluster).

#include <string>
#include <vector>

#include "mesh/cluster.h"

namespace berth::mesh {

/// Proxy-wide counters that belong to no cluster.
struct ProxyCounters {
  uint64_t downstreamRequests = 0;
  uint64_t noRoute = 0;       ///< 404 no-route
  uint64_t rateLimited = 0;   ///< 429 rate-limited
  uint64_t badRequests = 0;   ///< rejected by the HTTP parser
  uint64_t configReloads = 0;
  uint64_t configReloadFailures = 0;
};

/// Prometheus text format 0.0.4; each metric family once, with HELP and TYPE.
std::string renderPrometheus(const std::vector<Cluster::Snapshot>& clusters,
                             const ProxyCounters& proxy);

/// {"clusters": {"name": {"latency_ms": {...}, "throughput_rps": x, "availability": {...},
///   "requests": n, ...}}, "proxy": {...}}
std::string renderStatsJson(const std::vector<Cluster::Snapshot>& clusters,
                            const ProxyCounters& proxy);

/// {"name": ..., "lb": ..., "breaker": ..., "endpoints": [{"address", "state", ...}]} per
/// cluster, as a JSON array (admin GET /clusters).
std::string renderClustersJson(const std::vector<Cluster::Snapshot>& clusters);

/// "healthy", "draining", "ejected", "unhealthy" or "pending" for host flags.
const char* hostStateName(uint32_t flags);

}  // namespace berth::mesh
