#pragma once
/// Time and randomness for the mesh's policies, both injectable so unit tests drive them
/// (a ManualClock advanced by hand, a seeded Rng) and never sleep.

#include <chrono>
#include <cstdint>

namespace berth::mesh {

/// Monotonic time since an arbitrary epoch.
using MonoTime = std::chrono::nanoseconds;

class Clock {
 public:
  virtual ~Clock() = default;
  /// Monotonic now; never goes backwards.
  virtual MonoTime now() const = 0;
  /// Wall-clock now in nanoseconds since the Unix epoch (access logs, spans).
  virtual int64_t wallNanos() const = 0;
};

/// steady_clock / system_clock.
class SystemClock final : public Clock {
 public:
  MonoTime now() const override {
    return std::chrono::duration_cast<MonoTime>(
        std::chrono::steady_clock::now().time_since_epoch());
  }
  int64_t wallNanos() const override {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
  }
  /// Process-wide instance.
  static SystemClock& instance() {
    static SystemClock c;
    return c;
  }
};

/// A clock tests move by hand. Starts at 1000 s so "time 0" is never a valid stamp.
class ManualClock final : public Clock {
 public:
  MonoTime now() const override { return now_; }
  int64_t wallNanos() const override { return 1'700'000'000'000'000'000 + now_.count(); }
  void advance(std::chrono::nanoseconds d) { now_ += d; }

 private:
  MonoTime now_ = std::chrono::seconds(1000);
};

/// Small fast PRNG (xoshiro256**), seeded with splitmix64. Not thread-safe: one per owner.
class Rng {
 public:
  explicit Rng(uint64_t seed = 0x9e3779b97f4a7c15ull) { reseed(seed); }
  void reseed(uint64_t seed) {
    for (auto& w : s_) {
      seed += 0x9e3779b97f4a7c15ull;
      uint64_t z = seed;
      z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
      z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
      w = z ^ (z >> 31);
    }
  }
  uint64_t next() {
    uint64_t r = rotl(s_[1] * 5, 7) * 9, t = s_[1] << 17;
    s_[2] ^= s_[0];
    s_[3] ^= s_[1];
    s_[1] ^= s_[2];
    s_[0] ^= s_[3];
    s_[2] ^= t;
    s_[3] = rotl(s_[3], 45);
    return r;
  }
  /// Uniform in [0, n); n > 0.
  uint64_t below(uint64_t n) { return static_cast<uint64_t>((static_cast<unsigned __int128>(next()) * n) >> 64); }
  /// Uniform in [0, 1).
  double unit() { return static_cast<double>(next() >> 11) * 0x1.0p-53; }

 private:
  static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
  uint64_t s_[4];
};

}  // namespace berth::mesh
