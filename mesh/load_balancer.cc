#include "mesh/load_balancer.h"

#include <algorithm>
#include <cmath>

namespace berth::mesh {

uint64_t ringHash(std::string_view s) {
  uint64_t h = 0xcbf29ce484222325ull;
  for (unsigned char c : s) {
    h ^= c;
    h *= 0x100000001b3ull;
  }
  h ^= h >> 33;
  h *= 0xff51afd7ed558ccdull;
  h ^= h >> 33;
  h *= 0xc4ceb9fe1a85ec53ull;
  h ^= h >> 33;
  return h;
}

namespace {

bool uneven(const std::vector<Host*>& avail) {
  for (Host* h : avail)
    if (h->weight != avail[0]->weight) return true;
  return false;
}

// Smooth weighted round robin (nginx's): every pick adds each host's effective weight to its
// current value, takes the largest and subtracts the total from it. Exact proportions, spread
// out (3:1 gives a a b a, not a a a b). `byLoad` divides each weight by (active requests + 1),
// the least-request flavour of Envoy's weighted scheduling.
Host* smoothWeighted(const std::vector<Host*>& avail, bool byLoad) {
  double total = 0;
  Host* best = nullptr;
  for (Host* h : avail) {
    double w = byLoad ? double(h->weight) / double(h->activeRequests + 1) : double(h->weight);
    h->wrrCurrent += w;
    total += w;
    if (!best || h->wrrCurrent > best->wrrCurrent) best = h;
  }
  best->wrrCurrent -= total;
  return best;
}

class RoundRobin final : public LoadBalancer {
 public:
  Host* pick(const std::vector<Host*>& avail, const std::vector<HostPtr>&,
             const LbContext&) override {
    if (avail.empty()) return nullptr;
    if (uneven(avail)) return smoothWeighted(avail, false);
    return avail[next_++ % avail.size()];
  }

 private:
  uint64_t next_ = 0;
};

// Two distinct random indexes in [0, n), n >= 2.
std::pair<size_t, size_t> twoChoices(Rng& rng, size_t n) {
  size_t a = rng.below(n);
  size_t b = rng.below(n - 1);
  if (b >= a) ++b;
  return {a, b};
}

class LeastRequest final : public LoadBalancer {
 public:
  explicit LeastRequest(Rng& rng) : rng_(rng) {}
  Host* pick(const std::vector<Host*>& avail, const std::vector<HostPtr>&,
             const LbContext&) override {
    if (avail.empty()) return nullptr;
    if (avail.size() == 1) return avail[0];
    if (uneven(avail)) return smoothWeighted(avail, true);
    auto [a, b] = twoChoices(rng_, avail.size());
    return avail[b]->activeRequests < avail[a]->activeRequests ? avail[b] : avail[a];
  }

 private:
  Rng& rng_;
};

class RingHash final : public LoadBalancer {
 public:
  RingHash(uint32_t size, Rng& rng) : size_(size), rng_(rng) {}

  void rebuild(const std::vector<HostPtr>& all) override {
    ring_.clear();
    if (all.empty()) return;
    size_t perHost = std::max<size_t>(1, size_ / all.size());
    ring_.reserve(perHost * all.size());
    for (auto& h : all)
      for (size_t i = 0; i < perHost; ++i)
        ring_.push_back({ringHash(h->id + "_" + std::to_string(i)), h.get()});
    std::sort(ring_.begin(), ring_.end(),
              [](const Entry& x, const Entry& y) { return x.hash < y.hash; });
  }

  Host* pick(const std::vector<Host*>& avail, const std::vector<HostPtr>&,
             const LbContext& ctx) override {
    if (avail.empty()) return nullptr;
    if (!ctx.hasHashKey || ring_.empty()) return avail[rng_.below(avail.size())];
    uint64_t h = ringHash(ctx.hashKey);
    auto it = std::lower_bound(ring_.begin(), ring_.end(), h,
                               [](const Entry& e, uint64_t v) { return e.hash < v; });
    size_t start = it == ring_.end() ? 0 : static_cast<size_t>(it - ring_.begin());
    // Walk clockwise to the first available host: only the keys of unavailable hosts move.
    for (size_t i = 0; i < ring_.size(); ++i) {
      Host* cand = ring_[(start + i) % ring_.size()].host;
      if (cand->available()) return cand;
    }
    return avail[0];
  }

 private:
  struct Entry {
    uint64_t hash;
    Host* host;
  };
  uint32_t size_;
  Rng& rng_;
  std::vector<Entry> ring_;
};

class PeakEwma final : public LoadBalancer {
 public:
  PeakEwma(Duration decay, const Clock& clock, Rng& rng)
      : tau_(static_cast<double>(decay.count())), clock_(clock), rng_(rng) {}

  Host* pick(const std::vector<Host*>& avail, const std::vector<HostPtr>&,
             const LbContext&) override {
    if (avail.empty()) return nullptr;
    if (avail.size() == 1) return avail[0];
    auto [a, b] = twoChoices(rng_, avail.size());
    MonoTime now = clock_.now();
    return cost(*avail[b], now) < cost(*avail[a], now) ? avail[b] : avail[a];
  }

  void onResult(Host& h, MonoTime rtt) override {
    MonoTime now = clock_.now();
    double sample = static_cast<double>(rtt.count());
    double cur = decayed(h, now);
    // Peak-sensitive: a slower sample takes over at once; faster ones blend in.
    if (sample > cur) {
      h.ewmaNanos = sample;
    } else {
      double td = static_cast<double>((now - h.ewmaStamp).count());
      double w = std::exp(-td / tau_);
      h.ewmaNanos = cur * w + sample * (1 - w);
    }
    h.ewmaStamp = now;
  }

 private:
  static constexpr double kPenalty = 1e12;  // an unmeasured busy host: avoid

  double decayed(const Host& h, MonoTime now) const {
    if (h.ewmaNanos == 0) return 0;
    double td = static_cast<double>((now - h.ewmaStamp).count());
    return h.ewmaNanos * std::exp(-std::max(0.0, td) / tau_);
  }
  double cost(const Host& h, MonoTime now) const {
    double e = decayed(h, now);
    if (e == 0 && h.activeRequests > 0) return kPenalty + h.activeRequests;
    return e * (h.activeRequests + 1);
  }

  double tau_;
  const Clock& clock_;
  Rng& rng_;
};

}  // namespace

std::unique_ptr<LoadBalancer> makeLoadBalancer(const ClusterConfig& cfg, const Clock& clock,
                                               Rng& rng) {
  switch (cfg.lb) {
    case LbPolicy::kRoundRobin: return std::make_unique<RoundRobin>();
    case LbPolicy::kLeastRequest: return std::make_unique<LeastRequest>(rng);
    case LbPolicy::kRingHash: return std::make_unique<RingHash>(cfg.ringSize, rng);
    case LbPolicy::kPeakEwma: return std::make_unique<PeakEwma>(cfg.ewmaDecay, clock, rng);
  }
  return std::make_unique<LeastRequest>(rng);
}

}  // namespace berth::mesh
