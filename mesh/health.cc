#include "mesh/health.h"

#include <algorithm>

namespace berth::mesh {

HealthChange applyHealthCheck(Host& h, bool success, const HealthCheckConfig& cfg) {
  bool pending = h.flags & kHostPendingFirstCheck;
  bool failed = h.flags & kHostFailedHealthCheck;
  if (success) {
    h.hcFailures = 0;
    ++h.hcSuccesses;
    if (pending) {
      h.flags &= ~(kHostPendingFirstCheck | kHostFailedHealthCheck);
      return HealthChange::kBecameHealthy;
    }
    if (failed && h.hcSuccesses >= cfg.healthyThreshold) {
      h.flags &= ~kHostFailedHealthCheck;
      return HealthChange::kBecameHealthy;
    }
    return HealthChange::kNone;
  }
  h.hcSuccesses = 0;
  ++h.hcFailures;
  if (pending) {
    h.flags = (h.flags & ~kHostPendingFirstCheck) | kHostFailedHealthCheck;
    return HealthChange::kBecameUnhealthy;
  }
  if (!failed && h.hcFailures >= cfg.unhealthyThreshold) {
    h.flags |= kHostFailedHealthCheck;
    return HealthChange::kBecameUnhealthy;
  }
  return HealthChange::kNone;
}

bool healthyStatus(const HealthCheckConfig& cfg, int status) {
  for (auto [lo, hi] : cfg.expectedStatuses)
    if (status >= lo && status <= hi) return true;
  return false;
}

bool OutlierDetector::onOutcome(Host& h, Outcome o, size_t hosts, size_t ejected) {
  if (o == Outcome::kSuccess) {
    h.consecutive5xx = 0;
    h.consecutiveConnectFailures = 0;
    return false;
  }
  ++h.consecutive5xx;
  if (o == Outcome::kConnectFailure) ++h.consecutiveConnectFailures;
  else h.consecutiveConnectFailures = 0;
  if (!cfg_.enabled || (h.flags & kHostEjected)) return false;
  bool trip = (cfg_.consecutive5xx && h.consecutive5xx >= cfg_.consecutive5xx) ||
              (cfg_.consecutiveConnectFailures &&
               h.consecutiveConnectFailures >= cfg_.consecutiveConnectFailures);
  if (!trip) return false;
  // At most max_ejection_percent of the hosts, but one host may always go.
  if (ejected > 0 && (ejected + 1) * 100 > static_cast<size_t>(cfg_.maxEjectionPercent) * hosts)
    return false;
  ++h.ejectionMultiplier;
  auto t = cfg_.baseEjectionTime * h.ejectionMultiplier;
  auto cap = std::max(cfg_.maxEjectionTime, cfg_.baseEjectionTime);
  if (t > cap) t = cap;
  MonoTime now = clock_.now();
  h.ejectedUntil = now + t;
  h.lastDecay = now;
  h.flags |= kHostEjected;
  h.consecutive5xx = 0;
  h.consecutiveConnectFailures = 0;
  ++h.counters.ejections;
  return true;
}

bool OutlierDetector::tick(const std::vector<HostPtr>& hosts) {
  MonoTime now = clock_.now();
  bool changed = false;
  for (auto& hp : hosts) {
    Host& h = *hp;
    if (h.flags & kHostEjected) {
      if (now >= h.ejectedUntil) {
        h.flags &= ~kHostEjected;
        h.lastDecay = now;
        changed = true;
      }
    } else if (h.ejectionMultiplier > 0 && now - h.lastDecay >= cfg_.interval) {
      --h.ejectionMultiplier;
      h.lastDecay = now;
    }
  }
  return changed;
}

MonoTime OutlierDetector::nextDeadline(const std::vector<HostPtr>& hosts) const {
  MonoTime next = MonoTime::max();
  for (auto& h : hosts)
    if (h->flags & kHostEjected) next = std::min(next, h->ejectedUntil);
  return next;
}

}  // namespace berth::mesh
