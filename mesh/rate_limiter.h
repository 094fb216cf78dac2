#pragma once
/// Token bucket for local rate limiting: `rate` tokens per second up to `burst`; a request
/// takes one token or is refused (429). Starts full. Not thread-safe: used under a lock.

#include <algorithm>

#include "mesh/clock.h"

namespace berth::mesh {

class TokenBucket {
 public:
  TokenBucket(double rate, double burst, const Clock& clock)
      : rate_(rate), burst_(burst), tokens_(burst), last_(clock.now()), clock_(clock) {}

  /// Take one token if there is one.
  bool tryTake() {
    refill();
    if (tokens_ < 1.0) {
      ++refused_;
      return false;
    }
    tokens_ -= 1.0;
    return true;
  }
  double tokens() {
    refill();
    return tokens_;
  }
  uint64_t refused() const { return refused_; }

 private:
  void refill() {
    MonoTime now = clock_.now();
    double dt = std::chrono::duration<double>(now - last_).count();
    if (dt > 0) tokens_ = std::min(burst_, tokens_ + dt * rate_);
    last_ = now;
  }
  double rate_, burst_, tokens_;
  MonoTime last_;
  const Clock& clock_;
  uint64_t refused_ = 0;
};

}  // namespace berth::mesh
