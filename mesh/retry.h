#pragma once
/// Retry policy: which attempts may be retried, how long to wait, and the retry budget that
/// keeps retries from multiplying an outage. Not thread-safe: the budget is used under its
/// owner's lock.

#include <cstdint>
#include <string_view>
#include <vector>

#include "mesh/clock.h"
#include "mesh/config.h"
#include "mesh/health.h"

namespace berth::mesh {

/// RFC 9110 9.2.2 idempotent methods: GET, HEAD, OPTIONS, TRACE, PUT, DELETE.
bool isIdempotent(std::string_view method);

/// May an attempt that ended with `outcome` (and `status` for kHttp5xx or a listed code) be
/// retried under `cfg` for `method`? Non-idempotent methods only with allow_non_idempotent,
/// except after a connect failure (nothing was sent). Does not look at counts or budgets. A response status in
/// retriable_status_codes is retriable even below 500 (pass Outcome::kSuccess with it).
bool retriable(const RetryConfig& cfg, std::string_view method, Outcome outcome, int status);

/// Exponential backoff with full jitter before retry number `retry` (1-based):
/// uniform in [0, min(max, base * 2^(retry-1))].
Duration backoff(const RetryConfig& cfg, uint32_t retry, Rng& rng);

/// Retries may be at most `percent` % of the requests seen in the last `window`, plus
/// `minPerSecond` * window seconds (Finagle/Linkerd's retry budget). Counted in one-second
/// buckets (or window/10 for windows under 10 s).
class RetryBudget {
 public:
  RetryBudget(double percent, uint32_t minPerSecond, Duration window, const Clock& clock);
  /// Count a new request (not a retry).
  void onRequest();
  /// Take one retry from the budget; false when it is spent.
  bool tryRetry();
  uint64_t requestsInWindow();
  uint64_t retriesInWindow();
  uint64_t exhausted() const { return exhausted_; }

 private:
  struct Bucket {
    int64_t epoch = -1;
    uint64_t requests = 0, retries = 0;
  };
  Bucket& current();
  void sum(uint64_t& req, uint64_t& ret);

  double percent_;
  uint32_t minPerSecond_;
  Duration window_;
  Duration width_;
  const Clock& clock_;
  std::vector<Bucket> buckets_;
  uint64_t exhausted_ = 0;
};

}  // namespace berth::mesh
