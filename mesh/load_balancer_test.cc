#include "mesh/load_balancer.h"

#include <gtest/gtest.h>

#include <map>
#include <set>

namespace berth::mesh {
namespace {

using namespace std::chrono_literals;

struct Pool {
  std::vector<HostPtr> all;
  std::vector<Host*> avail;
  explicit Pool(int n) {
    for (int i = 0; i < n; ++i) {
      auto h = std::make_shared<Host>();
      h->address = {"127.0.0.1", static_cast<uint16_t>(9000 + i)};
      h->id = h->address.str();
      all.push_back(h);
    }
    refresh();
  }
  void refresh() {
    avail.clear();
    for (auto& h : all)
      if (h->available()) avail.push_back(h.get());
  }
};

ClusterConfig cfgFor(LbPolicy p) {
  ClusterConfig c;
  c.name = "t";
  c.lb = p;
  c.hashHeader = "x-user";
  return c;
}

TEST(LoadBalancer, RoundRobinCyclesAndSkipsUnavailable) {
  ManualClock clock;
  Rng rng(1);
  Pool p(3);
  auto lb = makeLoadBalancer(cfgFor(LbPolicy::kRoundRobin), clock, rng);
  std::map<Host*, int> n;
  for (int i = 0; i < 30; ++i) ++n[lb->pick(p.avail, p.all, {})];
  for (auto& h : p.all) EXPECT_EQ(n[h.get()], 10);
  p.all[1]->flags |= kHostEjected;
  p.refresh();
  for (int i = 0; i < 20; ++i) EXPECT_NE(lb->pick(p.avail, p.all, {}), p.all[1].get());
  p.avail.clear();
  EXPECT_EQ(lb->pick(p.avail, p.all, {}), nullptr);
}

TEST(LoadBalancer, LeastRequestPrefersIdleHosts) {
  ManualClock clock;
  Rng rng(7);
  Pool p(2);
  auto lb = makeLoadBalancer(cfgFor(LbPolicy::kLeastRequest), clock, rng);
  p.all[0]->activeRequests = 10;
  for (int i = 0; i < 50; ++i) EXPECT_EQ(lb->pick(p.avail, p.all, {}), p.all[1].get());
}

TEST(LoadBalancer, LeastRequestSpreadsEvenLoad) {
  ManualClock clock;
  Rng rng(3);
  Pool p(4);
  auto lb = makeLoadBalancer(cfgFor(LbPolicy::kLeastRequest), clock, rng);
  std::map<Host*, int> n;
  for (int i = 0; i < 4000; ++i) ++n[lb->pick(p.avail, p.all, {})];
  for (auto& h : p.all) {
    EXPECT_GT(n[h.get()], 800);
    EXPECT_LT(n[h.get()], 1200);
  }
}

TEST(LoadBalancer, RingHashIsStickyAndMovesOnlyTheLostHostsKeys) {
  ManualClock clock;
  Rng rng(5);
  Pool p(4);
  auto lb = makeLoadBalancer(cfgFor(LbPolicy::kRingHash), clock, rng);
  lb->rebuild(p.all);
  std::map<std::string, Host*> first;
  std::map<Host*, int> share;
  for (int i = 0; i < 400; ++i) {
    std::string key = "user" + std::to_string(i);
    LbContext ctx{key, true};
    Host* h = lb->pick(p.avail, p.all, ctx);
    first[key] = h;
    ++share[h];
    EXPECT_EQ(lb->pick(p.avail, p.all, ctx), h);  // same key, same host
  }
  for (auto& h : p.all) EXPECT_GT(share[h.get()], 40) << h->id;  // roughly balanced
  // Host 2 goes away: only its keys move.
  p.all[2]->flags |= kHostFailedHealthCheck;
  p.refresh();
  for (auto& [key, h] : first) {
    Host* now = lb->pick(p.avail, p.all, LbContext{key, true});
    if (h != p.all[2].get()) EXPECT_EQ(now, h) << key;
    else EXPECT_NE(now, h);
  }
  // No header: any available host.
  EXPECT_NE(lb->pick(p.avail, p.all, {}), nullptr);
}

TEST(LoadBalancer, PeakEwmaAvoidsTheSlowHostAndReprobesIt) {
  ManualClock clock;
  Rng rng(11);
  Pool p(2);
  auto cfg = cfgFor(LbPolicy::kPeakEwma);
  cfg.ewmaDecay = 1s;
  auto lb = makeLoadBalancer(cfg, clock, rng);
  lb->onResult(*p.all[0], 50ms);
  lb->onResult(*p.all[1], 1ms);
  for (int i = 0; i < 20; ++i) EXPECT_EQ(lb->pick(p.avail, p.all, {}), p.all[1].get());
  // Peak sensitivity: one slow sample on host 1 takes over at once.
  lb->onResult(*p.all[1], 200ms);
  EXPECT_EQ(lb->pick(p.avail, p.all, {}), p.all[0].get());
  // Load shifts traffic: the fast host with enough requests in flight costs more.
  p.all[0]->activeRequests = 5;  // 50 ms * 6 > 200 ms * 1
  EXPECT_EQ(lb->pick(p.avail, p.all, {}), p.all[1].get());
  p.all[0]->activeRequests = 0;
  // Long after the peak, a fast sample on host 1 replaces it almost entirely.
  clock.advance(20s);
  lb->onResult(*p.all[1], 1ms);
  EXPECT_LT(p.all[1]->ewmaNanos, 1.5e6);
  // Host 0 sat idle for 20 s: its EWMA decayed toward 0, so it gets probed again.
  EXPECT_EQ(lb->pick(p.avail, p.all, {}), p.all[0].get());
}

TEST(LoadBalancer, PeakEwmaPenalisesUnmeasuredBusyHost) {
  ManualClock clock;
  Rng rng(2);
  Pool p(2);
  auto lb = makeLoadBalancer(cfgFor(LbPolicy::kPeakEwma), clock, rng);
  lb->onResult(*p.all[0], 5ms);
  p.all[1]->activeRequests = 1;  // no sample yet, but busy
  for (int i = 0; i < 20; ++i) EXPECT_EQ(lb->pick(p.avail, p.all, {}), p.all[0].get());
}

TEST(LoadBalancer, RingHashFunctionIsStable) {
  EXPECT_EQ(ringHash("abc"), ringHash("abc"));
  EXPECT_NE(ringHash("abc"), ringHash("abd"));
}

TEST(LoadBalancer, RoundRobinHonoursWeightsSmoothly) {
  ManualClock clock;
  Rng rng(1);
  Pool p(3);
  p.all[0]->weight = 3;
  p.all[1]->weight = 1;
  p.all[2]->weight = 2;
  auto lb = makeLoadBalancer(cfgFor(LbPolicy::kRoundRobin), clock, rng);
  std::map<Host*, int> n;
  std::string seq;
  for (int i = 0; i < 600; ++i) {
    Host* h = lb->pick(p.avail, p.all, {});
    ++n[h];
    if (i < 6) seq += char('a' + (h == p.all[0].get() ? 0 : h == p.all[1].get() ? 1 : 2));
  }
  EXPECT_EQ(n[p.all[0].get()], 300);
  EXPECT_EQ(n[p.all[1].get()], 100);
  EXPECT_EQ(n[p.all[2].get()], 200);
  EXPECT_EQ(seq, "acabca");  // spread out, not aaabcc
}

TEST(LoadBalancer, LeastRequestHonoursWeightsAndLoad) {
  ManualClock clock;
  Rng rng(1);
  Pool p(2);
  p.all[0]->weight = 4;
  p.all[1]->weight = 1;
  auto lb = makeLoadBalancer(cfgFor(LbPolicy::kLeastRequest), clock, rng);
  std::map<Host*, int> n;
  for (int i = 0; i < 500; ++i) ++n[lb->pick(p.avail, p.all, {})];
  EXPECT_EQ(n[p.all[0].get()], 400);  // idle hosts: exactly by weight
  EXPECT_EQ(n[p.all[1].get()], 100);
  // The heavy host busy with 9 requests weighs 4/10 against 1/1: the light one gets most.
  p.all[0]->activeRequests = 9;
  n.clear();
  for (int i = 0; i < 140; ++i) ++n[lb->pick(p.avail, p.all, {})];
  EXPECT_EQ(n[p.all[1].get()], 100);
  EXPECT_EQ(n[p.all[0].get()], 40);
}

}  // namespace
}  // namespace berth::mesh
