#include "mesh/stats.h"

#include <algorithm>

namespace berth::mesh {

void Histogram::record(Duration d) {
  double ms = static_cast<double>(d.count()) / 1e6;
  size_t i = static_cast<size_t>(
      std::lower_bound(kBoundsMs.begin(), kBoundsMs.end(), ms) - kBoundsMs.begin());
  ++buckets_[i];
  ++count_;
  sumNanos_ += static_cast<uint64_t>(std::max<int64_t>(0, d.count()));
}

uint64_t Histogram::cumulative(size_t i) const {
  uint64_t c = 0;
  for (size_t k = 0; k <= i && k < buckets_.size(); ++k) c += buckets_[k];
  return c;
}

double Histogram::quantileMs(double q) const {
  if (count_ == 0) return 0;
  double rank = q * static_cast<double>(count_);
  uint64_t seen = 0;
  for (size_t i = 0; i < buckets_.size(); ++i) {
    if (buckets_[i] == 0) continue;
    if (static_cast<double>(seen + buckets_[i]) >= rank) {
      double lo = i == 0 ? 0 : kBoundsMs[i - 1];
      double hi = i < kBoundsMs.size() ? kBoundsMs[i] : kBoundsMs.back();
      double frac = (rank - static_cast<double>(seen)) / static_cast<double>(buckets_[i]);
      return lo + (hi - lo) * std::clamp(frac, 0.0, 1.0);
    }
    seen += buckets_[i];
  }
  return kBoundsMs.back();
}

void RateMeter::mark(MonoTime now) {
  int64_t sec = std::chrono::duration_cast<std::chrono::seconds>(now).count();
  if (start_.count() < 0) start_ = now;
  size_t i = static_cast<size_t>(sec) % epoch_.size();
  if (epoch_[i] != sec) {
    epoch_[i] = sec;
    count_[i] = 0;
  }
  ++count_[i];
}

double RateMeter::perSecond(MonoTime now) const {
  if (start_.count() < 0) return 0;
  int64_t sec = std::chrono::duration_cast<std::chrono::seconds>(now).count();
  int64_t first = std::chrono::duration_cast<std::chrono::seconds>(start_).count();
  // Whole seconds before the current one, at most kSeconds, not before the first mark.
  int64_t from = std::max(sec - kSeconds, first);
  uint64_t n = 0;
  for (size_t i = 0; i < epoch_.size(); ++i)
    if (epoch_[i] >= from && epoch_[i] < sec) n += count_[i];
  int64_t span = sec - from;
  if (span <= 0) {
    // Less than a second of data: count the current second over the elapsed time.
    double el = std::chrono::duration<double>(now - start_).count();
    uint64_t cur = 0;
    for (size_t i = 0; i < epoch_.size(); ++i)
      if (epoch_[i] == sec) cur += count_[i];
    return el > 0 ? static_cast<double>(cur) / std::max(el, 1e-3) : 0;
  }
  return static_cast<double>(n) / static_cast<double>(span);
}

void updateAvailability(Host& h, MonoTime now) {
  // A host waiting for its first health check has no history yet.
  if (h.periodStart.count() == 0 && (h.flags & kHostPendingFirstCheck)) return;
  bool up = !(h.flags & (kHostFailedHealthCheck | kHostEjected | kHostPendingFirstCheck));
  if (h.periodStart.count() == 0) {
    h.periodStart = now;
    h.wasUp = up;
    return;
  }
  if (up == h.wasUp) return;
  MonoTime span = now - h.periodStart;
  if (h.wasUp) {
    h.upTime += span;
    ++h.failuresSeen;
  } else {
    h.downTime += span;
    ++h.repairsSeen;
  }
  h.wasUp = up;
  h.periodStart = now;
}

Availability availabilityOf(const Host& h, MonoTime now) {
  Availability a;
  MonoTime up = h.upTime, down = h.downTime;
  if (h.periodStart.count() != 0) (h.wasUp ? up : down) += now - h.periodStart;
  double upS = std::chrono::duration<double>(up).count();
  double downS = std::chrono::duration<double>(down).count();
  a.failures = h.failuresSeen;
  // MTBF = up time per failure, MTTR = down time per outage (an outage that started before
  // the host was ever up counts as one); their ratio is the share of time the host was up.
  uint32_t outages = std::max(h.failuresSeen, downS > 0 ? 1u : 0u);
  a.mtbfSeconds = upS / std::max(1u, h.failuresSeen);
  a.mttrSeconds = outages ? downS / outages : 0;
  a.availability = upS + downS > 0 ? upS / (upS + downS) : 1;
  return a;
}

}  // namespace berth::mesh
