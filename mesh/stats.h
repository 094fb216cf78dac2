#pragma once
/// Per-cluster statistics: latency histograms (upstream = network + backend processing, and
/// proxy overhead), a throughput meter, response counters, and availability from host health
/// transitions (MTBF / (MTBF + MTTR)). Not thread-safe: updated under the cluster's lock.

#include <array>
#include <cstdint>
#include <map>
#include <string>

#include "mesh/clock.h"
#include "mesh/host.h"

namespace berth::mesh {

/// Latency histogram with fixed bucket bounds (milliseconds), Prometheus-compatible.
class Histogram {
 public:
  static constexpr std::array<double, 26> kBoundsMs = {
      0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.5, 0.75, 1,   1.5,  2,    3,
      5,     7.5,  10,    15,  25,   50,  100, 250, 500,  1000, 2500, 5000, 10000};
  void record(Duration d);
  uint64_t count() const { return count_; }
  double sumSeconds() const { return static_cast<double>(sumNanos_) / 1e9; }
  /// Observations <= kBoundsMs[i] (cumulative).
  uint64_t cumulative(size_t i) const;
  /// Estimated quantile (0..1) in milliseconds by linear interpolation in the bucket; 0 if
  /// empty.
  double quantileMs(double q) const;
  double meanMs() const { return count_ ? static_cast<double>(sumNanos_) / 1e6 / count_ : 0; }

 private:
  std::array<uint64_t, kBoundsMs.size() + 1> buckets_{};  // last: +Inf
  uint64_t count_ = 0;
  uint64_t sumNanos_ = 0;
};

/// Events per second over a sliding window of one-second buckets.
class RateMeter {
 public:
  static constexpr int kSeconds = 10;
  void mark(MonoTime now);
  /// Events per second over the last full seconds of the window (up to kSeconds).
  double perSecond(MonoTime now) const;

 private:
  std::array<int64_t, kSeconds + 1> epoch_{};
  std::array<uint64_t, kSeconds + 1> count_{};
  MonoTime start_{-1};
};

/// Availability bookkeeping: call when a host's up/down state may have changed, and before
/// reading its figures. A host is "up" unless it failed health checks or is ejected (a drain
/// is an operator action, not a failure).
void updateAvailability(Host& h, MonoTime now);

struct Availability {
  double mtbfSeconds = 0;  ///< mean up time between failures (total up / failures)
  double mttrSeconds = 0;  ///< mean time to repair (total down / failures)
  double availability = 1;  ///< MTBF / (MTBF + MTTR); 1 with no failure seen
  uint32_t failures = 0;
};
Availability availabilityOf(const Host& h, MonoTime now);

struct ClusterStats {
  uint64_t requests = 0;        ///< downstream requests routed to the cluster
  uint64_t attempts = 0;        ///< upstream attempts (requests + retries)
  uint64_t retries = 0;
  uint64_t retryBudgetExhausted = 0;
  uint64_t noHealthyHost = 0;   ///< answered 503 for lack of an available host
  uint64_t breakerRejected = 0; ///< answered 503 by an open failure breaker
  uint64_t overflow = 0;        ///< answered 503 by a resource threshold
  uint64_t timeouts = 0;        ///< answered 504
  uint64_t connectFailures = 0;
  uint64_t resets = 0;
  uint64_t ejections = 0;
  std::map<int, uint64_t> responses;  ///< downstream status -> count
  Histogram upstream;   ///< per attempt: request sent .. response read
  Histogram overhead;   ///< per request: total - upstream time of the last attempt
  Histogram total;      ///< per request, as the client saw it
  RateMeter throughput;
};

}  // namespace berth::mesh
