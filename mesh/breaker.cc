#include "mesh/breaker.h"

namespace berth::mesh {

uint32_t ResourceGuard::limit(Resource r) const {
  switch (r) {
    case Resource::kConnections: return limits_.maxConnections;
    case Resource::kPending: return limits_.maxPendingRequests;
    case Resource::kRequests: return limits_.maxRequests;
    case Resource::kRetries: return limits_.maxRetries;
  }
  return 0;
}

bool ResourceGuard::tryAcquire(Resource r) {
  if (used_[idx(r)] >= limit(r)) {
    ++overflow_[idx(r)];
    return false;
  }
  ++used_[idx(r)];
  return true;
}

void ResourceGuard::release(Resource r) {
  if (used_[idx(r)] > 0) --used_[idx(r)];
}

const char* breakerStateName(BreakerState s) {
  switch (s) {
    case BreakerState::kClosed: return "closed";
    case BreakerState::kOpen: return "open";
    case BreakerState::kHalfOpen: return "half_open";
  }
  return "?";
}

FailureBreaker::FailureBreaker(const FailureBreakerConfig& cfg, const Clock& clock)
    : cfg_(cfg), clock_(clock), window_(cfg.slidingWindowSize, 0) {}

void FailureBreaker::setConfig(const FailureBreakerConfig& cfg) {
  bool resize = cfg.slidingWindowSize != cfg_.slidingWindowSize;
  cfg_ = cfg;
  if (resize) {
    window_.assign(cfg_.slidingWindowSize, 0);
    head_ = count_ = failures_ = 0;
  }
  if (!cfg_.enabled) transition(BreakerState::kClosed);
}

void FailureBreaker::transition(BreakerState to) {
  state_ = to;
  ++generation_;
  head_ = count_ = failures_ = 0;
  halfAdmitted_ = halfDone_ = halfFailed_ = 0;
  if (to == BreakerState::kOpen) {
    openedAt_ = clock_.now();
    ++opened_;
  }
}

BreakerState FailureBreaker::state() {
  if (state_ == BreakerState::kOpen && clock_.now() - openedAt_ >= cfg_.waitInOpen)
    transition(BreakerState::kHalfOpen);
  return state_;
}

FailureBreaker::Permit FailureBreaker::tryAcquire() {
  if (!cfg_.enabled) return {0, true};
  switch (state()) {
    case BreakerState::kClosed: return {generation_, true};
    case BreakerState::kOpen: return {generation_, false};
    case BreakerState::kHalfOpen:
      if (halfAdmitted_ >= cfg_.permittedCallsInHalfOpen) return {generation_, false};
      ++halfAdmitted_;
      return {generation_, true};
  }
  return {generation_, false};
}

void FailureBreaker::record(bool failure) {
  if (count_ == window_.size()) {
    failures_ -= window_[head_];
  } else {
    ++count_;
  }
  window_[head_] = failure ? 1 : 0;
  failures_ += window_[head_];
  head_ = (head_ + 1) % window_.size();
}

double FailureBreaker::failureRate() const {
  if (count_ < cfg_.minimumCalls || count_ == 0) return -1;
  return 100.0 * static_cast<double>(failures_) / static_cast<double>(count_);
}

void FailureBreaker::onResult(const Permit& p, bool success) {
  if (!cfg_.enabled || !p.admitted || p.generation != generation_) return;
  if (state_ == BreakerState::kClosed) {
    record(!success);
    double rate = failureRate();
    if (rate >= 0 && rate >= cfg_.failureRateThreshold) transition(BreakerState::kOpen);
  } else if (state_ == BreakerState::kHalfOpen) {
    ++halfDone_;
    if (!success) ++halfFailed_;
    if (halfDone_ >= cfg_.permittedCallsInHalfOpen) {
      double rate = 100.0 * halfFailed_ / halfDone_;
      transition(rate >= cfg_.failureRateThreshold ? BreakerState::kOpen
                                                   : BreakerState::kClosed);
    }
  }
}

}  // namespace berth::mesh
