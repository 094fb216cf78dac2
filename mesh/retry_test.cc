#include "mesh/retry.h"

#include <gtest/gtest.h>

namespace berth::mesh {
namespace {

using namespace std::chrono_literals;

TEST(Retry, IdempotentMethods) {
  for (auto m : {"GET", "HEAD", "OPTIONS", "TRACE", "PUT", "DELETE"}) EXPECT_TRUE(isIdempotent(m));
  for (auto m : {"POST", "PATCH", "CONNECT", "get"}) EXPECT_FALSE(isIdempotent(m));
}

TEST(Retry, ConditionsAndMethods) {
  RetryConfig c;  // defaults: connect-failure, reset, 502, 503, 504
  EXPECT_TRUE(retriable(c, "GET", Outcome::kConnectFailure, 0));
  EXPECT_TRUE(retriable(c, "GET", Outcome::kReset, 0));
  EXPECT_TRUE(retriable(c, "GET", Outcome::kHttp5xx, 503));
  EXPECT_FALSE(retriable(c, "GET", Outcome::kHttp5xx, 500));
  EXPECT_FALSE(retriable(c, "GET", Outcome::kTimeout, 0));
  EXPECT_FALSE(retriable(c, "GET", Outcome::kSuccess, 429));
  EXPECT_TRUE(retriable(c, "POST", Outcome::kConnectFailure, 0));  // nothing was sent
  EXPECT_FALSE(retriable(c, "POST", Outcome::kReset, 0));           // not idempotent
  EXPECT_FALSE(retriable(c, "POST", Outcome::kHttp5xx, 503));
  c.allowNonIdempotent = true;
  EXPECT_TRUE(retriable(c, "POST", Outcome::kReset, 0));
  c.retriableStatusCodes = {429};
  EXPECT_TRUE(retriable(c, "GET", Outcome::kSuccess, 429));
  c.retryOn = static_cast<uint32_t>(RetryOn::kPerTryTimeout);
  EXPECT_TRUE(retriable(c, "GET", Outcome::kTimeout, 0));
  EXPECT_FALSE(retriable(c, "GET", Outcome::kHttp5xx, 503));
}

TEST(Retry, FullJitterBackoffBounds) {
  RetryConfig c;
  c.backoffBase = 10ms;
  c.backoffMax = 70ms;
  Rng rng(42);
  Duration maxSeen[6] = {};
  for (int i = 0; i < 2000; ++i)
    for (uint32_t n = 1; n <= 5; ++n) {
      Duration d = backoff(c, n, rng);
      EXPECT_GE(d.count(), 0);
      Duration cap = std::min<Duration>(Duration(10ms) * (1 << (n - 1)), Duration(70ms));
      EXPECT_LE(d, cap);
      maxSeen[n] = std::max(maxSeen[n], d);
    }
  // Full jitter reaches close to each cap.
  EXPECT_GT(maxSeen[1], 9ms);
  EXPECT_GT(maxSeen[3], 38ms);
  EXPECT_GT(maxSeen[5], 66ms);
  EXPECT_EQ(backoff(c, 0, rng), Duration(0));
}

TEST(RetryBudget, TwentyPercentPlusFloor) {
  ManualClock clock;
  RetryBudget b(20, 1, 10s, clock);  // floor: 1/s * 10 s = 10 retries
  for (int i = 0; i < 100; ++i) b.onRequest();
  int granted = 0;
  for (int i = 0; i < 100; ++i) granted += b.tryRetry() ? 1 : 0;
  EXPECT_EQ(granted, 30);  // 20 % of 100 + 10
  EXPECT_EQ(b.exhausted(), 70u);
  EXPECT_EQ(b.retriesInWindow(), 30u);
}

TEST(RetryBudget, WindowSlides) {
  ManualClock clock;
  RetryBudget b(20, 0, 10s, clock);
  for (int i = 0; i < 50; ++i) b.onRequest();
  int granted = 0;
  for (int i = 0; i < 20; ++i) granted += b.tryRetry() ? 1 : 0;
  EXPECT_EQ(granted, 10);
  clock.advance(11s);  // everything slid out
  EXPECT_EQ(b.requestsInWindow(), 0u);
  EXPECT_FALSE(b.tryRetry());
  for (int i = 0; i < 5; ++i) b.onRequest();
  EXPECT_TRUE(b.tryRetry());
  EXPECT_FALSE(b.tryRetry());
}

TEST(RetryBudget, ShortWindow) {
  ManualClock clock;
  RetryBudget b(100, 0, 1s, clock);
  b.onRequest();
  EXPECT_TRUE(b.tryRetry());
  EXPECT_FALSE(b.tryRetry());
  clock.advance(1100ms);
  EXPECT_EQ(b.requestsInWindow(), 0u);
}

}  // namespace
}  // namespace berth::mesh
