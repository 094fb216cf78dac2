#include "mesh/stats.h"

#include <gtest/gtest.h>

namespace berth::mesh {
namespace {

using namespace std::chrono_literals;

TEST(Histogram, QuantilesWithinBucket) {
  Histogram h;
  for (int i = 0; i < 90; ++i) h.record(400us);  // bucket (0.3, 0.5]
  for (int i = 0; i < 10; ++i) h.record(20ms);   // bucket (15, 25]
  EXPECT_EQ(h.count(), 100u);
  EXPECT_GT(h.quantileMs(0.5), 0.3);
  EXPECT_LE(h.quantileMs(0.5), 0.5);
  EXPECT_GT(h.quantileMs(0.99), 15);
  EXPECT_LE(h.quantileMs(0.99), 25);
  EXPECT_NEAR(h.meanMs(), 0.9 * 0.4 + 0.1 * 20, 1e-6);
  EXPECT_EQ(h.cumulative(Histogram::kBoundsMs.size()), 100u);
  EXPECT_EQ(h.cumulative(7), 90u);  // le 0.5 ms
  EXPECT_EQ(Histogram().quantileMs(0.5), 0.0);
}

TEST(Histogram, OverflowBucket) {
  Histogram h;
  h.record(60s);
  EXPECT_EQ(h.cumulative(Histogram::kBoundsMs.size() - 1), 0u);
  EXPECT_EQ(h.quantileMs(0.5), Histogram::kBoundsMs.back());
}

TEST(RateMeter, RequestsPerSecond) {
  ManualClock clock;
  RateMeter m;
  EXPECT_EQ(m.perSecond(clock.now()), 0);
  for (int s = 0; s < 5; ++s) {
    for (int i = 0; i < 100; ++i) {
      m.mark(clock.now());
      clock.advance(10ms);
    }
  }
  EXPECT_NEAR(m.perSecond(clock.now()), 100, 1);
  clock.advance(20s);  // idle: old seconds slide out
  EXPECT_EQ(m.perSecond(clock.now()), 0);
}

TEST(Availability, MtbfOverMtbfPlusMttr) {
  ManualClock clock;
  Host h;
  updateAvailability(h, clock.now());  // starts up
  clock.advance(90s);
  h.flags |= kHostEjected;
  updateAvailability(h, clock.now());  // down after 90 s up
  clock.advance(10s);
  h.flags = 0;
  updateAvailability(h, clock.now());  // up after 10 s down
  clock.advance(90s);
  h.flags |= kHostFailedHealthCheck;
  updateAvailability(h, clock.now());
  clock.advance(10s);
  h.flags = 0;
  updateAvailability(h, clock.now());
  auto a = availabilityOf(h, clock.now());
  EXPECT_EQ(a.failures, 2u);
  EXPECT_DOUBLE_EQ(a.mtbfSeconds, 90);
  EXPECT_DOUBLE_EQ(a.mttrSeconds, 10);
  EXPECT_DOUBLE_EQ(a.availability, 0.9);
}

TEST(Availability, DrainIsNotAFailureAndNoFailureMeansOne) {
  ManualClock clock;
  Host h;
  updateAvailability(h, clock.now());
  clock.advance(10s);
  h.flags |= kHostDraining;
  updateAvailability(h, clock.now());
  auto a = availabilityOf(h, clock.now());
  EXPECT_EQ(a.failures, 0u);
  EXPECT_EQ(a.availability, 1.0);
  EXPECT_DOUBLE_EQ(a.mtbfSeconds, 10);
}

TEST(Availability, HostThatNeverCameUpIsDown) {
  ManualClock clock;
  Host h;
  h.flags = kHostPendingFirstCheck;
  updateAvailability(h, clock.now());
  clock.advance(5s);
  h.flags = kHostFailedHealthCheck;  // first check failed
  updateAvailability(h, clock.now());
  clock.advance(10s);
  auto a = availabilityOf(h, clock.now());
  EXPECT_EQ(a.failures, 0u);
  EXPECT_DOUBLE_EQ(a.availability, 0.0);
  EXPECT_DOUBLE_EQ(a.mttrSeconds, 10);
}

TEST(Availability, OngoingOutageCounts) {
  ManualClock clock;
  Host h;
  updateAvailability(h, clock.now());
  clock.advance(30s);
  h.flags |= kHostEjected;
  updateAvailability(h, clock.now());
  clock.advance(30s);  // still down
  auto a = availabilityOf(h, clock.now());
  EXPECT_DOUBLE_EQ(a.availability, 0.5);
}

}  // namespace
}  // namespace berth::mesh
