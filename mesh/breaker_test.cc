#include "mesh/breaker.h"

#include <gtest/gtest.h>

namespace berth::mesh {
namespace {

using namespace std::chrono_literals;

TEST(ResourceGuard, ThresholdsAndOverflowCounts) {
  ResourceLimits l;
  l.maxRetries = 2;
  ResourceGuard g(l);
  EXPECT_TRUE(g.tryAcquire(Resource::kRetries));
  EXPECT_TRUE(g.tryAcquire(Resource::kRetries));
  EXPECT_FALSE(g.tryAcquire(Resource::kRetries));
  EXPECT_EQ(g.overflows(Resource::kRetries), 1u);
  g.release(Resource::kRetries);
  EXPECT_TRUE(g.tryAcquire(Resource::kRetries));
  EXPECT_EQ(g.inUse(Resource::kRetries), 2u);
  EXPECT_EQ(g.inUse(Resource::kRequests), 0u);
  g.release(Resource::kRequests);  // never below zero
  EXPECT_EQ(g.inUse(Resource::kRequests), 0u);
}

FailureBreakerConfig smallCfg() {
  FailureBreakerConfig c;
  c.enabled = true;
  c.failureRateThreshold = 50;
  c.slidingWindowSize = 10;
  c.minimumCalls = 4;
  c.waitInOpen = 5s;
  c.permittedCallsInHalfOpen = 2;
  return c;
}

void call(FailureBreaker& b, bool ok) {
  auto p = b.tryAcquire();
  ASSERT_TRUE(p.admitted);
  b.onResult(p, ok);
}

TEST(FailureBreaker, DisabledAlwaysAdmits) {
  ManualClock clock;
  FailureBreaker b(FailureBreakerConfig{}, clock);
  for (int i = 0; i < 200; ++i) call(b, false);
  EXPECT_EQ(b.state(), BreakerState::kClosed);
}

TEST(FailureBreaker, OpensOnlyAfterMinimumCalls) {
  ManualClock clock;
  FailureBreaker b(smallCfg(), clock);
  call(b, false);
  call(b, false);
  call(b, false);
  EXPECT_EQ(b.state(), BreakerState::kClosed);  // 3 < minimum 4
  EXPECT_LT(b.failureRate(), 0);
  call(b, false);
  EXPECT_EQ(b.state(), BreakerState::kOpen);
  EXPECT_FALSE(b.tryAcquire().admitted);
  EXPECT_EQ(b.timesOpened(), 1u);
}

TEST(FailureBreaker, StaysClosedBelowThreshold) {
  ManualClock clock;
  FailureBreaker b(smallCfg(), clock);
  for (int i = 0; i < 30 && b.state() == BreakerState::kClosed; ++i) call(b, i % 3 == 0);
  // two of three calls fail: opens
  EXPECT_EQ(b.state(), BreakerState::kOpen);
  ManualClock c2;
  FailureBreaker b2(smallCfg(), c2);
  for (int i = 0; i < 30; ++i) call(b2, i % 3 != 2);  // 1/3 failures
  EXPECT_EQ(b2.state(), BreakerState::kClosed);
  EXPECT_NEAR(b2.failureRate(), 30.0, 10.0);
}

TEST(FailureBreaker, HalfOpenProbesThenCloses) {
  ManualClock clock;
  FailureBreaker b(smallCfg(), clock);
  for (int i = 0; i < 4; ++i) call(b, false);
  ASSERT_EQ(b.state(), BreakerState::kOpen);
  clock.advance(4s);
  EXPECT_EQ(b.state(), BreakerState::kOpen);
  clock.advance(1s);
  EXPECT_EQ(b.state(), BreakerState::kHalfOpen);
  auto p1 = b.tryAcquire(), p2 = b.tryAcquire(), p3 = b.tryAcquire();
  EXPECT_TRUE(p1.admitted);
  EXPECT_TRUE(p2.admitted);
  EXPECT_FALSE(p3.admitted);  // only 2 probes
  b.onResult(p1, true);
  EXPECT_EQ(b.state(), BreakerState::kHalfOpen);
  b.onResult(p2, true);
  EXPECT_EQ(b.state(), BreakerState::kClosed);
  EXPECT_LT(b.failureRate(), 0);  // fresh window
}

TEST(FailureBreaker, HalfOpenFailureReopens) {
  ManualClock clock;
  FailureBreaker b(smallCfg(), clock);
  for (int i = 0; i < 4; ++i) call(b, false);
  clock.advance(5s);
  ASSERT_EQ(b.state(), BreakerState::kHalfOpen);
  call(b, true);
  call(b, false);  // 50 % >= threshold
  EXPECT_EQ(b.state(), BreakerState::kOpen);
  EXPECT_EQ(b.timesOpened(), 2u);
}

TEST(FailureBreaker, StaleResultsIgnored) {
  ManualClock clock;
  FailureBreaker b(smallCfg(), clock);
  auto slow = b.tryAcquire();  // admitted while closed
  for (int i = 0; i < 4; ++i) call(b, false);
  clock.advance(5s);
  ASSERT_EQ(b.state(), BreakerState::kHalfOpen);
  b.onResult(slow, false);  // from the closed generation: must not count as a probe
  EXPECT_EQ(b.state(), BreakerState::kHalfOpen);
  call(b, true);
  call(b, true);
  EXPECT_EQ(b.state(), BreakerState::kClosed);
}

TEST(FailureBreaker, SlidingWindowForgetsOldCalls) {
  ManualClock clock;
  auto cfg = smallCfg();
  cfg.minimumCalls = 10;
  FailureBreaker b(cfg, clock);
  for (int i = 0; i < 4; ++i) call(b, false);
  for (int i = 0; i < 10; ++i) call(b, true);  // failures slide out
  EXPECT_EQ(b.failureRate(), 0.0);
  EXPECT_EQ(b.state(), BreakerState::kClosed);
}

}  // namespace
}  // namespace berth::mesh
