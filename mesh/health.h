#pragma once
/// Host health: the active health check state machine and passive outlier detection.
/// Both only change Host flags and counters; the cluster rebuilds its available set when
/// they report a change. Not thread-safe: called under the owning cluster's lock.

#include <cstddef>
#include <vector>

#include "mesh/clock.h"
#include "mesh/config.h"
#include "mesh/host.h"

namespace berth::mesh {

enum class HealthChange { kNone, kBecameHealthy, kBecameUnhealthy };

/// Apply one active check result (a timeout is a failure). A host still waiting for its first
/// check needs one success to be healthy and one failure to be unhealthy (Envoy); later it takes
/// `healthyThreshold` consecutive successes to come back and `unhealthyThreshold` consecutive
/// failures to go.
HealthChange applyHealthCheck(Host& h, bool success, const HealthCheckConfig& cfg);

/// True if a health-check response status counts as healthy.
bool healthyStatus(const HealthCheckConfig& cfg, int status);

/// The outcome of one upstream attempt, as outlier detection and breakers see it.
enum class Outcome {
  kSuccess,         ///< any response below 500
  kHttp5xx,         ///< a 5xx response
  kConnectFailure,  ///< connect refused / timed out
  kReset,           ///< connection closed or reset mid-exchange
  kTimeout,         ///< no response within the (per-try) timeout
};
inline bool isFailure(Outcome o) { return o != Outcome::kSuccess; }

/// Envoy-style consecutive-error outlier detection. Every non-success counts toward
/// consecutive_5xx (local-origin errors are folded into 5xx as Envoy does by default); connect
/// failures also count toward consecutive_connect_failures; a success resets both. Reaching a
/// threshold ejects the host for base * (times ejected), capped at max_ejection_time, unless
/// that would eject more than max_ejection_percent of the hosts (one host may always be
/// ejected).
class OutlierDetector {
 public:
  OutlierDetector(const OutlierConfig& cfg, const Clock& clock) : cfg_(cfg), clock_(clock) {}

  /// Record an outcome for `h`; `hosts` is the cluster's host count, `ejected` how many are
  /// ejected now. Returns true if `h` was ejected by this call.
  bool onOutcome(Host& h, Outcome o, size_t hosts, size_t ejected);

  /// Bring back hosts whose ejection time is over and decay multipliers of healthy hosts.
  /// Returns true if any host's ejection state changed.
  bool tick(const std::vector<HostPtr>& hosts);

  /// When the next ejection ends (for timer scheduling); MonoTime::max() if none.
  MonoTime nextDeadline(const std::vector<HostPtr>& hosts) const;

  const OutlierConfig& config() const { return cfg_; }
  void setConfig(const OutlierConfig& c) { cfg_ = c; }

 private:
  OutlierConfig cfg_;
  const Clock& clock_;
};

}  // namespace berth::mesh
