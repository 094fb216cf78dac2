#pragma once
/// Circuit breakers of a cluster:
/// - ResourceGuard: Envoy's thresholds on concurrent connections, pending requests, active
///   requests and active retries. Over a threshold a request is refused at once.
/// - FailureBreaker: resilience4j's count-based closed/open/half-open breaker over the last N
///   calls' failure rate.
/// Not thread-safe: used under the owning cluster's lock.

#include <cstdint>
#include <vector>

#include "mesh/clock.h"
#include "mesh/config.h"

namespace berth::mesh {

enum class Resource { kConnections, kPending, kRequests, kRetries };

class ResourceGuard {
 public:
  explicit ResourceGuard(const ResourceLimits& l) : limits_(l) {}
  /// Take one unit of `r`; false (and an overflow counted) when at the threshold.
  bool tryAcquire(Resource r);
  void release(Resource r);
  uint32_t inUse(Resource r) const { return used_[idx(r)]; }
  uint64_t overflows(Resource r) const { return overflow_[idx(r)]; }
  uint32_t limit(Resource r) const;
  void setLimits(const ResourceLimits& l) { limits_ = l; }

 private:
  static int idx(Resource r) { return static_cast<int>(r); }
  ResourceLimits limits_;
  uint32_t used_[4] = {0, 0, 0, 0};
  uint64_t overflow_[4] = {0, 0, 0, 0};
};

enum class BreakerState { kClosed = 0, kOpen = 1, kHalfOpen = 2 };
const char* breakerStateName(BreakerState s);

/// resilience4j model. CLOSED: record the last `slidingWindowSize` outcomes; once at least
/// `minimumCalls` are recorded and the failure rate >= threshold, go OPEN. OPEN: refuse
/// calls until `waitInOpen` has passed, then HALF_OPEN. HALF_OPEN: admit
/// `permittedCallsInHalfOpen` calls; when they have all finished, go OPEN again if their
/// failure rate >= threshold, else CLOSED with an empty window.
class FailureBreaker {
 public:
  /// A ticket from tryAcquire(); results from an older state generation are ignored.
  struct Permit {
    uint64_t generation = 0;
    bool admitted = false;
  };

  FailureBreaker(const FailureBreakerConfig& cfg, const Clock& clock);

  /// May a call go ahead now? When the breaker is disabled, always yes.
  Permit tryAcquire();
  /// Report the result of an admitted call exactly once.
  void onResult(const Permit& p, bool success);
  /// Current state (moves OPEN -> HALF_OPEN once the wait is over).
  BreakerState state();
  /// Failure rate in percent of the current window (-1 below minimum calls).
  double failureRate() const;
  uint64_t timesOpened() const { return opened_; }
  bool enabled() const { return cfg_.enabled; }
  void setConfig(const FailureBreakerConfig& cfg);

 private:
  void transition(BreakerState to);
  void record(bool failure);

  FailureBreakerConfig cfg_;
  const Clock& clock_;
  BreakerState state_ = BreakerState::kClosed;
  uint64_t generation_ = 1;
  MonoTime openedAt_{0};
  uint64_t opened_ = 0;
  // Closed: ring buffer of outcomes.
  std::vector<uint8_t> window_;
  size_t head_ = 0, count_ = 0, failures_ = 0;
  // Half-open: admitted calls and their results.
  uint32_t halfAdmitted_ = 0, halfDone_ = 0, halfFailed_ = 0;
};

}  // namespace berth::mesh
