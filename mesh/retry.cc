#include "mesh/retry.h"

#include <algorithm>

namespace berth::mesh {

bool isIdempotent(std::string_view m) {
  return m == "GET" || m == "HEAD" || m == "OPTIONS" || m == "TRACE" || m == "PUT" ||
         m == "DELETE";
}

bool retriable(const RetryConfig& cfg, std::string_view method, Outcome outcome, int status) {
  // A failed connect sent nothing, so it is safe to retry whatever the method.
  if (outcome == Outcome::kConnectFailure) return cfg.has(RetryOn::kConnectFailure);
  if (!cfg.allowNonIdempotent && !isIdempotent(method)) return false;
  switch (outcome) {
    case Outcome::kConnectFailure: return cfg.has(RetryOn::kConnectFailure);
    case Outcome::kReset: return cfg.has(RetryOn::kReset);
    case Outcome::kTimeout: return cfg.has(RetryOn::kPerTryTimeout);
    case Outcome::kHttp5xx:
    case Outcome::kSuccess:
      if (status == 502 && cfg.has(RetryOn::k502)) return true;
      if (status == 503 && cfg.has(RetryOn::k503)) return true;
      if (status == 504 && cfg.has(RetryOn::k504)) return true;
      return std::find(cfg.retriableStatusCodes.begin(), cfg.retriableStatusCodes.end(),
                       status) != cfg.retriableStatusCodes.end();
  }
  return false;
}

Duration backoff(const RetryConfig& cfg, uint32_t retry, Rng& rng) {
  if (retry == 0) return Duration(0);
  int64_t cap = cfg.backoffMax.count();
  int64_t d = cfg.backoffBase.count();
  for (uint32_t i = 1; i < retry && d < cap; ++i) d *= 2;
  d = std::min(d, cap);
  if (d <= 0) return Duration(0);
  return Duration(static_cast<int64_t>(rng.below(static_cast<uint64_t>(d) + 1)));
}

RetryBudget::RetryBudget(double percent, uint32_t minPerSecond, Duration window,
                         const Clock& clock)
    : percent_(percent), minPerSecond_(minPerSecond), window_(window), clock_(clock) {
  size_t n = window >= std::chrono::seconds(10)
                 ? static_cast<size_t>(std::chrono::duration_cast<std::chrono::seconds>(window).count())
                 : 10;
  n = std::clamp<size_t>(n, 1, 600);
  width_ = window / static_cast<int64_t>(n);
  if (width_.count() <= 0) width_ = Duration(1);
  buckets_.resize(n);
}

RetryBudget::Bucket& RetryBudget::current() {
  int64_t epoch = clock_.now().count() / width_.count();
  Bucket& b = buckets_[static_cast<size_t>(epoch) % buckets_.size()];
  if (b.epoch != epoch) b = Bucket{epoch, 0, 0};
  return b;
}

void RetryBudget::sum(uint64_t& req, uint64_t& ret) {
  int64_t epoch = clock_.now().count() / width_.count();
  int64_t oldest = epoch - static_cast<int64_t>(buckets_.size()) + 1;
  req = ret = 0;
  for (auto& b : buckets_)
    if (b.epoch >= oldest && b.epoch <= epoch) {
      req += b.requests;
      ret += b.retries;
    }
}

void RetryBudget::onRequest() { ++current().requests; }

bool RetryBudget::tryRetry() {
  uint64_t req, ret;
  sum(req, ret);
  double windowSec = std::chrono::duration<double>(window_).count();
  double allowed = percent_ / 100.0 * static_cast<double>(req) + minPerSecond_ * windowSec;
  if (static_cast<double>(ret) + 1 > allowed) {
    ++exhausted_;
    return false;
  }
  ++current().retries;
  return true;
}

uint64_t RetryBudget::requestsInWindow() {
  uint64_t req, ret;
  sum(req, ret);
  return req;
}

uint64_t RetryBudget::retriesInWindow() {
  uint64_t req, ret;
  sum(req, ret);
  return ret;
}

}  // namespace berth::mesh
