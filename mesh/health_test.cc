#include "mesh/health.h"

#include <gtest/gtest.h>

namespace berth::mesh {
namespace {

using namespace std::chrono_literals;

TEST(HealthCheck, NewHostNeedsOneSuccess) {
  HealthCheckConfig cfg;
  cfg.healthyThreshold = 3;
  Host h;
  h.flags = kHostPendingFirstCheck;
  EXPECT_FALSE(h.available());
  EXPECT_EQ(applyHealthCheck(h, true, cfg), HealthChange::kBecameHealthy);
  EXPECT_TRUE(h.available());
}

TEST(HealthCheck, NewHostFailingFirstCheckIsUnhealthy) {
  HealthCheckConfig cfg;
  Host h;
  h.flags = kHostPendingFirstCheck;
  EXPECT_EQ(applyHealthCheck(h, false, cfg), HealthChange::kBecameUnhealthy);
  EXPECT_TRUE(h.flags & kHostFailedHealthCheck);
  EXPECT_FALSE(h.flags & kHostPendingFirstCheck);
}

TEST(HealthCheck, ThresholdsBothWays) {
  HealthCheckConfig cfg;
  cfg.healthyThreshold = 2;
  cfg.unhealthyThreshold = 3;
  Host h;
  EXPECT_EQ(applyHealthCheck(h, false, cfg), HealthChange::kNone);
  EXPECT_EQ(applyHealthCheck(h, false, cfg), HealthChange::kNone);
  EXPECT_EQ(applyHealthCheck(h, true, cfg), HealthChange::kNone);  // resets the run
  EXPECT_EQ(applyHealthCheck(h, false, cfg), HealthChange::kNone);
  EXPECT_EQ(applyHealthCheck(h, false, cfg), HealthChange::kNone);
  EXPECT_EQ(applyHealthCheck(h, false, cfg), HealthChange::kBecameUnhealthy);
  EXPECT_FALSE(h.available());
  EXPECT_EQ(applyHealthCheck(h, false, cfg), HealthChange::kNone);
  EXPECT_EQ(applyHealthCheck(h, true, cfg), HealthChange::kNone);
  EXPECT_EQ(applyHealthCheck(h, false, cfg), HealthChange::kNone);  // resets the run
  EXPECT_EQ(applyHealthCheck(h, true, cfg), HealthChange::kNone);
  EXPECT_EQ(applyHealthCheck(h, true, cfg), HealthChange::kBecameHealthy);
  EXPECT_TRUE(h.available());
}

TEST(HealthCheck, ExpectedStatuses) {
  HealthCheckConfig cfg;
  EXPECT_TRUE(healthyStatus(cfg, 200));
  EXPECT_TRUE(healthyStatus(cfg, 204));
  EXPECT_FALSE(healthyStatus(cfg, 301));
  EXPECT_FALSE(healthyStatus(cfg, 503));
  cfg.expectedStatuses = {{200, 200}, {300, 399}};
  EXPECT_TRUE(healthyStatus(cfg, 301));
  EXPECT_FALSE(healthyStatus(cfg, 204));
}

struct Hosts {
  std::vector<HostPtr> v;
  explicit Hosts(int n) {
    for (int i = 0; i < n; ++i) {
      v.push_back(std::make_shared<Host>());
      v.back()->id = "h" + std::to_string(i);
    }
  }
  size_t ejected() const {
    size_t n = 0;
    for (auto& h : v) n += (h->flags & kHostEjected) ? 1 : 0;
    return n;
  }
};

TEST(Outlier, FiveConsecutive5xxEject) {
  ManualClock clock;
  OutlierDetector od(OutlierConfig{}, clock);
  Hosts hs(3);
  Host& h = *hs.v[0];
  for (int i = 0; i < 4; ++i) EXPECT_FALSE(od.onOutcome(h, Outcome::kHttp5xx, 3, 0));
  EXPECT_FALSE(od.onOutcome(h, Outcome::kSuccess, 3, 0));  // resets
  for (int i = 0; i < 4; ++i) EXPECT_FALSE(od.onOutcome(h, Outcome::kHttp5xx, 3, 0));
  EXPECT_TRUE(od.onOutcome(h, Outcome::kReset, 3, 0));  // local errors count as 5xx
  EXPECT_TRUE(h.flags & kHostEjected);
  EXPECT_EQ(h.counters.ejections, 1u);
}

TEST(Outlier, ConnectFailuresEjectAndTimeGrowsPerEjection) {
  ManualClock clock;
  OutlierConfig cfg;
  cfg.consecutive5xx = 0;  // only connect failures
  OutlierDetector od(cfg, clock);
  Hosts hs(2);
  Host& h = *hs.v[0];
  for (int i = 0; i < 4; ++i) od.onOutcome(h, Outcome::kConnectFailure, 2, 0);
  EXPECT_TRUE(od.onOutcome(h, Outcome::kConnectFailure, 2, 0));
  EXPECT_EQ(h.ejectedUntil - clock.now(), 30s);
  clock.advance(29s);
  EXPECT_FALSE(od.tick(hs.v));
  EXPECT_TRUE(h.flags & kHostEjected);
  clock.advance(1s);
  EXPECT_TRUE(od.tick(hs.v));
  EXPECT_FALSE(h.flags & kHostEjected);
  // Second ejection: twice the base.
  for (int i = 0; i < 5; ++i) od.onOutcome(h, Outcome::kConnectFailure, 2, 0);
  EXPECT_TRUE(h.flags & kHostEjected);
  EXPECT_EQ(h.ejectedUntil - clock.now(), 60s);
  EXPECT_EQ(od.nextDeadline(hs.v), h.ejectedUntil);
}

TEST(Outlier, EjectionTimeCapped) {
  ManualClock clock;
  OutlierConfig cfg;
  cfg.baseEjectionTime = 100s;
  cfg.maxEjectionTime = 250s;
  OutlierDetector od(cfg, clock);
  Hosts hs(1);
  Host& h = *hs.v[0];
  for (int round = 0; round < 4; ++round) {
    for (int i = 0; i < 5; ++i) od.onOutcome(h, Outcome::kHttp5xx, 1, 0);
    ASSERT_TRUE(h.flags & kHostEjected);
    EXPECT_LE(h.ejectedUntil - clock.now(), 250s);
    clock.advance(300s);
    od.tick(hs.v);
  }
}

TEST(Outlier, MultiplierDecaysWhileHealthy) {
  ManualClock clock;
  OutlierDetector od(OutlierConfig{}, clock);
  Hosts hs(1);
  Host& h = *hs.v[0];
  for (int i = 0; i < 5; ++i) od.onOutcome(h, Outcome::kHttp5xx, 1, 0);
  EXPECT_EQ(h.ejectionMultiplier, 1u);
  clock.advance(30s);
  od.tick(hs.v);
  clock.advance(10s);
  od.tick(hs.v);
  EXPECT_EQ(h.ejectionMultiplier, 0u);
}

TEST(Outlier, MaxEjectionPercentButOneAlwaysAllowed) {
  ManualClock clock;
  OutlierDetector od(OutlierConfig{}, clock);  // 10 %
  Hosts hs(3);
  for (int i = 0; i < 5; ++i) od.onOutcome(*hs.v[0], Outcome::kHttp5xx, 3, hs.ejected());
  EXPECT_EQ(hs.ejected(), 1u);  // 1 of 3 > 10 %, but one may always go
  for (int i = 0; i < 10; ++i) od.onOutcome(*hs.v[1], Outcome::kHttp5xx, 3, hs.ejected());
  EXPECT_EQ(hs.ejected(), 1u);  // a second would be 66 %
  OutlierConfig half;
  half.maxEjectionPercent = 50;
  OutlierDetector od2(half, clock);
  Hosts four(4);
  for (int h = 0; h < 4; ++h)
    for (int i = 0; i < 5; ++i) od2.onOutcome(*four.v[h], Outcome::kHttp5xx, 4, four.ejected());
  EXPECT_EQ(four.ejected(), 2u);
}

TEST(Outlier, DisabledNeverEjects) {
  ManualClock clock;
  OutlierConfig cfg;
  cfg.enabled = false;
  OutlierDetector od(cfg, clock);
  Host h;
  for (int i = 0; i < 50; ++i) EXPECT_FALSE(od.onOutcome(h, Outcome::kHttp5xx, 1, 0));
}

}  // namespace
}  // namespace berth::mesh
