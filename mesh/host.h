#pragma once
/// Host: one endpoint (replica) of a cluster and the state every policy keeps about it.
/// A Host is owned by its Cluster (shared_ptr, so an in-flight request keeps a removed host
/// alive) and is only touched under the cluster's lock.

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "mesh/clock.h"
#include "mesh/config.h"

namespace berth::mesh {

/// Why a host is not taking new requests (a bit set; 0 means available).
enum HostFlag : uint32_t {
  kHostFailedHealthCheck = 1u << 0,  ///< active health check says unhealthy
  kHostEjected = 1u << 1,            ///< outlier detection ejected it
  kHostDraining = 1u << 2,           ///< admin drain: finish in-flight, take no new
  kHostPendingFirstCheck = 1u << 3,  ///< added with health checks on, not yet checked
};

/// Per-host outcome counters exported as metrics.
struct HostCounters {
  uint64_t requests = 0;
  uint64_t failures = 0;  ///< 5xx or connection-level failure
  uint64_t connectFailures = 0;
  uint64_t ejections = 0;
};

struct Host {
  HostPort address;  ///< resolved numeric address and port
  std::string id;    ///< address.str(), the key used by admin and metrics
  std::string origin;  ///< "static", "dns" or "admin"
  uint32_t flags = 0;

  uint32_t weight = 1;       ///< from the endpoint's config (admin-added hosts: 1)
  double wrrCurrent = 0;     ///< smooth weighted round robin state
  uint32_t activeRequests = 0;
  uint32_t connections = 0;

  // Active health checking (HealthChecker).
  uint32_t hcSuccesses = 0;  ///< consecutive
  uint32_t hcFailures = 0;   ///< consecutive

  // Outlier detection (OutlierDetector).
  uint32_t consecutive5xx = 0;
  uint32_t consecutiveConnectFailures = 0;
  uint32_t ejectionMultiplier = 0;  ///< times ejected, decays while healthy
  MonoTime ejectedUntil{0};
  MonoTime lastDecay{0};

  // Peak EWMA of the upstream round trip (LoadBalancer kPeakEwma).
  double ewmaNanos = 0;
  MonoTime ewmaStamp{0};

  // Availability: up/down periods from health transitions (ClusterStats).
  bool wasUp = true;
  MonoTime periodStart{0};
  MonoTime upTime{0}, downTime{0};
  uint32_t failuresSeen = 0;  ///< up -> down transitions
  uint32_t repairsSeen = 0;   ///< down -> up transitions

  HostCounters counters;

  bool available() const { return flags == 0; }
};

using HostPtr = std::shared_ptr<Host>;

}  // namespace berth::mesh
