#include "mesh/cluster.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "mesh/metrics.h"

namespace berth::mesh {
namespace {

using namespace std::chrono_literals;

ClusterConfig threeHosts() {
  ClusterConfig c;
  c.name = "calc";
  c.lb = LbPolicy::kRoundRobin;
  for (int i = 0; i < 3; ++i) c.endpoints.push_back({"127.0.0.1", static_cast<uint16_t>(8001 + i)});
  return c;
}

void attempt(Cluster& c, Outcome o, int status = 200, const Host* avoid = nullptr) {
  auto a = c.beginAttempt({}, avoid, false);
  ASSERT_TRUE(a) << rejectName(a.reject);
  c.endAttempt(a, o, status, 1ms);
}

TEST(Cluster, EjectsTheFailingHostAndBringsItBack) {
  ManualClock clock;
  auto cfg = threeHosts();
  cfg.outlier.baseEjectionTime = 5s;
  Cluster c(cfg, clock, 1);
  EXPECT_EQ(c.availableCount(), 3u);
  HostPtr bad = c.hosts()[1];
  int failures = 0;
  for (int i = 0; i < 30 && failures < 5; ++i) {
    auto a = c.beginAttempt({}, nullptr, false);
    ASSERT_TRUE(a);
    bool isBad = a.host == bad;
    failures += isBad;
    c.endAttempt(a, isBad ? Outcome::kConnectFailure : Outcome::kSuccess, 200, 1ms);
  }
  EXPECT_EQ(c.availableCount(), 2u);
  for (int i = 0; i < 20; ++i) {
    auto a = c.beginAttempt({}, nullptr, false);
    EXPECT_NE(a.host, bad);
    c.endAttempt(a, Outcome::kSuccess, 200, 1ms);
  }
  clock.advance(5s);
  c.tick();
  EXPECT_EQ(c.availableCount(), 3u);
  auto s = c.snapshot();
  EXPECT_EQ(s.stats.ejections, 1u);
  EXPECT_EQ(s.stats.connectFailures, 5u);
  EXPECT_LT(s.availability.availability, 1.0);
}

TEST(Cluster, RetryAvoidsThePreviousHost) {
  ManualClock clock;
  Cluster c(threeHosts(), clock, 2);
  for (int i = 0; i < 50; ++i) {
    auto a = c.beginAttempt({}, nullptr, false);
    const Host* first = a.host.get();
    c.endAttempt(a, Outcome::kSuccess, 200, 1ms);
    auto r = c.beginAttempt({}, first, true);
    ASSERT_TRUE(r);
    EXPECT_NE(r.host.get(), first);
    c.endAttempt(r, Outcome::kSuccess, 200, 1ms);
  }
  EXPECT_EQ(c.snapshot().stats.retries, 50u);
}

TEST(Cluster, MaxRetriesThreshold) {
  ManualClock clock;
  auto cfg = threeHosts();
  cfg.limits.maxRetries = 2;
  Cluster c(cfg, clock, 3);
  auto r1 = c.beginAttempt({}, nullptr, true);
  auto r2 = c.beginAttempt({}, nullptr, true);
  auto r3 = c.beginAttempt({}, nullptr, true);
  EXPECT_TRUE(r1);
  EXPECT_TRUE(r2);
  EXPECT_FALSE(r3);
  EXPECT_EQ(r3.reject, Reject::kMaxRetries);
  c.endAttempt(r1, Outcome::kSuccess, 200, 1ms);
  auto r4 = c.beginAttempt({}, nullptr, true);
  EXPECT_TRUE(r4);
  c.endAttempt(r2, Outcome::kSuccess, 200, 1ms);
  c.endAttempt(r4, Outcome::kSuccess, 200, 1ms);
}

TEST(Cluster, MaxConnectionsBoundsAttemptsInFlight) {
  ManualClock clock;
  auto cfg = threeHosts();
  cfg.limits.maxConnections = 2;
  Cluster c(cfg, clock, 3);
  auto a1 = c.beginAttempt({}, nullptr, false);
  auto a2 = c.beginAttempt({}, nullptr, false);
  auto a3 = c.beginAttempt({}, nullptr, false);
  EXPECT_TRUE(a1);
  EXPECT_TRUE(a2);
  EXPECT_FALSE(a3);
  EXPECT_EQ(a3.reject, Reject::kMaxConnections);
  c.endAttempt(a1, Outcome::kSuccess, 200, 1ms);
  auto a4 = c.beginAttempt({}, nullptr, false);
  EXPECT_TRUE(a4);
  c.endAttempt(a2, Outcome::kSuccess, 200, 1ms);
  c.endAttempt(a4, Outcome::kSuccess, 200, 1ms);
  EXPECT_EQ(c.snapshot().stats.overflow, 1u);
}

struct TestWaiter : Cluster::PendingWaiter {
  int woken = 0;
  void onGranted() override { ++woken; }
};

// A released connection slot goes straight to the oldest waiter (no polling, no clock), new
// requests cannot jump the queue, the queue is bounded by max_pending_requests, and a waiter
// that gives up leaves no slot behind.
TEST(Cluster, PendingWaitersAreHandedReleasedSlotsInOrder) {
  ManualClock clock;
  auto cfg = threeHosts();
  cfg.limits.maxConnections = 1;
  cfg.limits.maxPendingRequests = 2;
  Cluster c(cfg, clock, 3);
  auto a1 = c.beginAttempt({}, nullptr, false);
  ASSERT_TRUE(a1);
  auto w1 = std::make_shared<TestWaiter>(), w2 = std::make_shared<TestWaiter>();
  auto w3 = std::make_shared<TestWaiter>();
  EXPECT_EQ(c.enqueuePending(w1), Cluster::Pending::kQueued);
  EXPECT_EQ(c.enqueuePending(w2), Cluster::Pending::kQueued);
  EXPECT_EQ(c.enqueuePending(w3), Cluster::Pending::kOverflow);  // max_pending_requests
  EXPECT_EQ(c.pendingCount(), 2u);

  c.endAttempt(a1, Outcome::kSuccess, 200, 1ms);
  EXPECT_EQ(w1->woken, 1);  // at once, in endAttempt
  EXPECT_EQ(w2->woken, 0);
  EXPECT_FALSE(c.beginAttempt({}, nullptr, false));  // the slot is w1's, not a newcomer's
  ASSERT_TRUE(c.leavePending(*w1));
  auto a2 = c.beginAttempt({}, nullptr, false, /*slotHeld=*/true);
  ASSERT_TRUE(a2);

  // w2 gives up (deadline): it leaves the queue without a slot.
  EXPECT_FALSE(c.leavePending(*w2));
  EXPECT_EQ(c.pendingCount(), 0u);
  c.endAttempt(a2, Outcome::kSuccess, 200, 1ms);
  EXPECT_EQ(w2->woken, 0);
  auto a3 = c.beginAttempt({}, nullptr, false);  // the slot went back to the pool
  ASSERT_TRUE(a3);

  // A granted slot that the attempt cannot use (no host) passes to the next waiter.
  auto w4 = std::make_shared<TestWaiter>();
  EXPECT_EQ(c.enqueuePending(w4), Cluster::Pending::kQueued);
  c.endAttempt(a3, Outcome::kSuccess, 200, 1ms);
  ASSERT_TRUE(c.leavePending(*w4));
  auto w5 = std::make_shared<TestWaiter>();
  EXPECT_EQ(c.enqueuePending(w5), Cluster::Pending::kQueued);
  for (auto& h : c.hosts()) ASSERT_TRUE(c.drainHost(h->id));
  auto none = c.beginAttempt({}, nullptr, false, /*slotHeld=*/true);
  EXPECT_FALSE(none);
  EXPECT_EQ(none.reject, Reject::kNoHealthyHost);
  EXPECT_EQ(w5->woken, 1);
  EXPECT_TRUE(c.leavePending(*w5));
}

// A reload that raises max_connections wakes waiters for the new slots.
TEST(Cluster, RaisingMaxConnectionsWakesWaiters) {
  ManualClock clock;
  auto cfg = threeHosts();
  cfg.limits.maxConnections = 1;
  Cluster c(cfg, clock, 3);
  auto a1 = c.beginAttempt({}, nullptr, false);
  ASSERT_TRUE(a1);
  auto w = std::make_shared<TestWaiter>();
  EXPECT_EQ(c.enqueuePending(w), Cluster::Pending::kQueued);
  cfg.limits.maxConnections = 2;
  c.updateConfig(cfg);
  EXPECT_EQ(w->woken, 1);
  EXPECT_TRUE(c.leavePending(*w));
  // A slot free when a request is about to queue is taken at once.
  auto w2 = std::make_shared<TestWaiter>();
  c.endAttempt(a1, Outcome::kSuccess, 200, 1ms);
  EXPECT_EQ(c.enqueuePending(w2), Cluster::Pending::kGranted);
}

TEST(Cluster, MaxRequestsThreshold) {
  ManualClock clock;
  auto cfg = threeHosts();
  cfg.limits.maxRequests = 1;
  Cluster c(cfg, clock, 3);
  EXPECT_EQ(c.beginRequest(), Reject::kNone);
  EXPECT_EQ(c.beginRequest(), Reject::kMaxRequests);
  c.endRequest(200, 2ms, 1ms);
  EXPECT_EQ(c.beginRequest(), Reject::kNone);
}

TEST(Cluster, BreakerOpensOnFailureRateAndRejects) {
  ManualClock clock;
  auto cfg = threeHosts();
  cfg.outlier.enabled = false;
  cfg.breaker.enabled = true;
  cfg.breaker.slidingWindowSize = 10;
  cfg.breaker.minimumCalls = 10;
  cfg.breaker.waitInOpen = 2s;
  cfg.breaker.permittedCallsInHalfOpen = 2;
  Cluster c(cfg, clock, 4);
  for (int i = 0; i < 10; ++i) attempt(c, i % 2 ? Outcome::kHttp5xx : Outcome::kSuccess, 503);
  EXPECT_EQ(c.breakerState(), BreakerState::kOpen);
  auto a = c.beginAttempt({}, nullptr, false);
  EXPECT_FALSE(a);
  EXPECT_EQ(a.reject, Reject::kBreakerOpen);
  clock.advance(2s);
  EXPECT_EQ(c.breakerState(), BreakerState::kHalfOpen);
  attempt(c, Outcome::kSuccess);
  attempt(c, Outcome::kSuccess);
  EXPECT_EQ(c.breakerState(), BreakerState::kClosed);
}

TEST(Cluster, AdminMembership) {
  ManualClock clock;
  Cluster c(threeHosts(), clock, 5);
  EXPECT_TRUE(c.addHost({"127.0.0.1", 8009}, "admin"));
  EXPECT_FALSE(c.addHost({"127.0.0.1", 8009}, "admin"));  // duplicate
  EXPECT_EQ(c.availableCount(), 4u);
  EXPECT_TRUE(c.drainHost("127.0.0.1:8009"));
  EXPECT_EQ(c.availableCount(), 3u);
  EXPECT_EQ(c.hosts().size(), 4u);
  EXPECT_TRUE(c.removeHost("127.0.0.1:8009"));
  EXPECT_EQ(c.hosts().size(), 3u);
  auto e = c.removeHost("127.0.0.1:8009");
  ASSERT_FALSE(e);
  EXPECT_TRUE(e.error().is(ErrorCode::kNotFound));
  EXPECT_FALSE(c.drainHost("nope:1"));
}

TEST(Cluster, InFlightAttemptOnRemovedHostIsSafe) {
  ManualClock clock;
  Cluster c(threeHosts(), clock, 6);
  auto a = c.beginAttempt({}, nullptr, false);
  ASSERT_TRUE(a);
  ASSERT_TRUE(c.removeHost(a.host->id));
  c.endAttempt(a, Outcome::kConnectFailure, 0, 1ms);  // no crash, no ejection of others
  EXPECT_EQ(c.availableCount(), 2u);
}

TEST(Cluster, DnsReplaceKeepsOtherOrigins) {
  ManualClock clock;
  ClusterConfig cfg;
  cfg.name = "d";
  Cluster c(cfg, clock, 7);
  ASSERT_TRUE(c.addHost({"127.0.0.1", 9000}, "admin"));
  c.replaceHosts("dns", {{"127.0.0.2", 80}, {"127.0.0.3", 80}});
  EXPECT_EQ(c.hosts().size(), 3u);
  c.replaceHosts("dns", {{"127.0.0.3", 80}});
  auto hs = c.hosts();
  ASSERT_EQ(hs.size(), 2u);
  EXPECT_EQ(hs[0]->id, "127.0.0.1:9000");
  EXPECT_EQ(hs[1]->id, "127.0.0.3:80");
}

TEST(Cluster, HealthCheckedHostsWaitForFirstCheck) {
  ManualClock clock;
  auto cfg = threeHosts();
  cfg.healthCheck.enabled = true;
  Cluster c(cfg, clock, 8);
  EXPECT_EQ(c.availableCount(), 0u);
  auto a = c.beginAttempt({}, nullptr, false);
  EXPECT_EQ(a.reject, Reject::kNoHealthyHost);
  for (auto& h : c.hosts()) c.onHealthCheck(h, true);
  EXPECT_EQ(c.availableCount(), 3u);
  auto h0 = c.hosts()[0];
  for (int i = 0; i < 3; ++i) c.onHealthCheck(h0, false);
  EXPECT_EQ(c.availableCount(), 2u);
}

TEST(Cluster, ConfigReloadDiffsStaticEndpoints) {
  ManualClock clock;
  Cluster c(threeHosts(), clock, 9);
  ASSERT_TRUE(c.addHost({"127.0.0.1", 9100}, "admin"));
  auto cfg = threeHosts();
  cfg.endpoints.erase(cfg.endpoints.begin());
  cfg.endpoints.push_back({"127.0.0.1", 8004});
  cfg.lb = LbPolicy::kPeakEwma;
  c.updateConfig(cfg);
  std::vector<std::string> ids;
  for (auto& h : c.hosts()) ids.push_back(h->id);
  EXPECT_EQ(ids, (std::vector<std::string>{"127.0.0.1:8002", "127.0.0.1:8003", "127.0.0.1:9100",
                                           "127.0.0.1:8004"}));
  EXPECT_EQ(c.config().lb, LbPolicy::kPeakEwma);
}

TEST(Metrics, PrometheusAndStatsJson) {
  ManualClock clock;
  Cluster c(threeHosts(), clock, 10);
  ASSERT_EQ(c.beginRequest(), Reject::kNone);
  attempt(c, Outcome::kSuccess);
  c.endRequest(200, 3ms, 1ms);
  ProxyCounters p;
  p.downstreamRequests = 1;
  std::vector<Cluster::Snapshot> snaps{c.snapshot()};
  std::string text = renderPrometheus(snaps, p);
  EXPECT_NE(text.find("berth_proxy_cluster_requests_total{cluster=\"calc\"} 1\n"), std::string::npos);
  EXPECT_NE(text.find("berth_proxy_cluster_responses_total{cluster=\"calc\",code=\"200\"} 1\n"),
            std::string::npos);
  EXPECT_NE(text.find("berth_proxy_cluster_upstream_latency_seconds_bucket{cluster=\"calc\",le=\"+Inf\"} 1\n"),
            std::string::npos);
  EXPECT_NE(text.find("berth_proxy_endpoint_healthy{cluster=\"calc\",endpoint=\"127.0.0.1:8001\"} 1"),
            std::string::npos);
  // Each family's TYPE appears once.
  size_t pos = 0, n = 0;
  while ((pos = text.find("# TYPE berth_proxy_cluster_requests_total", pos)) != std::string::npos) ++n, ++pos;
  EXPECT_EQ(n, 1u);
  auto j = nlohmann::json::parse(renderStatsJson(snaps, p));
  auto& cj = j["clusters"]["calc"];
  EXPECT_EQ(cj["requests"], 1);
  EXPECT_GT(cj["latency_ms"]["total"]["p50"].get<double>(), 2.0);
  EXPECT_EQ(cj["availability"]["ratio"], 1.0);
  EXPECT_TRUE(cj.contains("throughput_rps"));
  auto arr = nlohmann::json::parse(renderClustersJson(snaps));
  EXPECT_EQ(arr[0]["endpoints"].size(), 3u);
  EXPECT_EQ(arr[0]["endpoints"][0]["state"], "healthy");
}

}  // namespace
}  // namespace berth::mesh
