#include "mesh/config.h"

#include <gtest/gtest.h>

namespace berth::mesh {
namespace {

using namespace std::chrono_literals;

const char* kFull = R"(
admin: 127.0.0.1:9901
workers: 2
drain_timeout: 3s
access_log: {path: /tmp/x.log}
clusters:
  - name: calc
    endpoints: [127.0.0.1:8081, "[::1]:8082"]
    lb: ring_hash
    hash_header: X-User
    connect_timeout: 250ms
    health_check: {path: /health, interval: 2s, timeout: 500ms, healthy_threshold: 1,
                   unhealthy_threshold: 2, expected_statuses: [200, 300-399]}
    outlier_detection: {consecutive_5xx: 3, base_ejection_time: 10s, max_ejection_percent: 50}
    circuit_breakers: {max_connections: 10, max_pending_requests: 11, max_requests: 12,
                       max_retries: 13}
    failure_breaker: {failure_rate_threshold: 40, sliding_window_size: 20, minimum_calls: 10,
                      wait_in_open: 1s, permitted_calls_in_half_open: 3}
  - name: calc-v2
    dns: {name: localhost, port: 8090, ttl: 5s}
listeners:
  - name: public
    address: 127.0.0.1:10000
    routes:
      - match: {host: calc.local, path_prefix: /api, headers: {x-canary: "1", x-any: "*"}}
        split: [{cluster: calc, weight: 90}, {cluster: calc-v2, weight: 10}]
        timeout: 3s
        retry: {retries: 2, retry_on: [connect-failure, 5xx], retriable_status_codes: [429],
                per_try_timeout: 1s, allow_non_idempotent: true, budget_percent: 25}
        rate_limit: {requests_per_second: 100}
      - cluster: calc
)";

TEST(MeshConfig, ParsesEveryKey) {
  auto c = parseConfig(kFull);
  ASSERT_TRUE(c) << c.error().message();
  EXPECT_EQ(c->workers, 2u);
  EXPECT_EQ(c->drainTimeout, 3s);
  ASSERT_TRUE(c->admin);
  EXPECT_EQ(c->admin->port, 9901);
  ASSERT_EQ(c->clusters.size(), 2u);
  auto& cl = c->clusters[0];
  EXPECT_EQ(cl.endpoints.size(), 2u);
  EXPECT_EQ(cl.endpoints[1].host, "::1");
  EXPECT_EQ(cl.endpoints[1].str(), "[::1]:8082");
  EXPECT_EQ(cl.lb, LbPolicy::kRingHash);
  EXPECT_EQ(cl.hashHeader, "x-user");
  EXPECT_EQ(cl.connectTimeout, 250ms);
  EXPECT_TRUE(cl.healthCheck.enabled);
  EXPECT_EQ(cl.healthCheck.interval, 2s);
  EXPECT_EQ(cl.healthCheck.expectedStatuses.size(), 2u);
  EXPECT_EQ(cl.outlier.consecutive5xx, 3u);
  EXPECT_EQ(cl.outlier.consecutiveConnectFailures, 5u);  // default kept
  EXPECT_EQ(cl.outlier.maxEjectionPercent, 50u);
  EXPECT_EQ(cl.limits.maxRetries, 13u);
  EXPECT_TRUE(cl.breaker.enabled);
  EXPECT_EQ(cl.breaker.permittedCallsInHalfOpen, 3u);
  ASSERT_TRUE(c->clusters[1].dns);
  EXPECT_EQ(c->clusters[1].dns->ttl, 5s);
  EXPECT_EQ(c->clusters[1].lb, LbPolicy::kLeastRequest);  // the default
  ASSERT_EQ(c->listeners.size(), 1u);
  auto& r = c->listeners[0].routes[0];
  EXPECT_EQ(r.host, "calc.local");
  EXPECT_EQ(r.pathPrefix, "/api");
  ASSERT_EQ(r.headers.size(), 2u);
  EXPECT_EQ(r.clusters.size(), 2u);
  EXPECT_EQ(r.clusters[0].weight, 90u);
  EXPECT_EQ(r.timeout, 3s);
  EXPECT_EQ(r.retry.maxRetries, 2u);
  EXPECT_TRUE(r.retry.has(RetryOn::k503));
  EXPECT_FALSE(r.retry.has(RetryOn::kReset));
  EXPECT_TRUE(r.retry.allowNonIdempotent);
  EXPECT_EQ(r.rateLimit.burst, 100);
  EXPECT_EQ(c->listeners[0].routes[1].name, "public.route1");
}

TEST(MeshConfig, EnvoyDefaults) {
  auto c = parseConfig("clusters: [{name: a, endpoints: [127.0.0.1:1]}]\n"
                       "listeners: [{address: 127.0.0.1:2, routes: [{cluster: a}]}]\n");
  ASSERT_TRUE(c) << c.error().message();
  EXPECT_EQ(c->drainTimeout, 10s);
  auto& cl = c->clusters[0];
  EXPECT_EQ(cl.outlier.consecutive5xx, 5u);
  EXPECT_EQ(cl.outlier.baseEjectionTime, 30s);
  EXPECT_EQ(cl.outlier.maxEjectionPercent, 10u);
  EXPECT_EQ(cl.limits.maxConnections, 1024u);
  EXPECT_EQ(cl.limits.maxRetries, 3u);
  EXPECT_FALSE(cl.breaker.enabled);
  EXPECT_FALSE(cl.healthCheck.enabled);
  auto& r = c->listeners[0].routes[0];
  EXPECT_EQ(r.retry.budgetPercent, 20.0);
  EXPECT_FALSE(r.retry.allowNonIdempotent);
  EXPECT_EQ(r.pathPrefix, "/");
}

struct Bad {
  const char* yaml;
  const char* want;  // substring of the one-line error
};

class MeshConfigBad : public ::testing::TestWithParam<Bad> {};

TEST_P(MeshConfigBad, OneLineErrorNamingTheKey) {
  auto c = parseConfig(GetParam().yaml);
  ASSERT_FALSE(c);
  EXPECT_NE(c.error().message().find(GetParam().want), std::string::npos) << c.error().message();
  EXPECT_EQ(c.error().message().find('\n'), std::string::npos);
}

#define L "listeners: [{address: 127.0.0.1:2, routes: [{cluster: a}]}]\n"
INSTANTIATE_TEST_SUITE_P(
    Cases, MeshConfigBad,
    ::testing::Values(
        Bad{"", "empty"},
        Bad{"[1, 2]", "top level must be a mapping"},
        Bad{"clusters: [{name: a, endpoints: [127.0.0.1:1]}]\nlisteners: [{address: x, routes: [{cluster: a}]}]",
            "listeners[0].address: bad address 'x'"},
        Bad{"clusters: [{name: a, endpoints: [127.0.0.1:99999]}]\n" L, "clusters[0].endpoints[0]: bad port"},
        Bad{"clusters: [{name: a, colour: red}]\n" L, "clusters[0]: unknown key 'colour'"},
        Bad{"clusters: [{name: a, lb: random}]\n" L, "clusters[0].lb: unknown policy 'random'"},
        Bad{"clusters: [{name: a, lb: ring_hash}]\n" L, "ring_hash needs 'hash_header'"},
        Bad{"clusters: [{name: a, connect_timeout: 5 parsecs}]\n" L, "clusters[0].connect_timeout: bad duration"},
        Bad{"clusters: [{name: a, connect_timeout: 0s}]\n" L, "must be > 0"},
        Bad{"clusters: [{name: a, endpoints: [127.0.0.1:1]}]\ndrain_timeout: soon\n" L, "drain_timeout: bad duration"},
        Bad{"clusters: [{name: a, outlier_detection: {max_ejection_percent: 101}}]\n" L, "max_ejection_percent: want a whole number <= 100"},
        Bad{"clusters: [{name: a}, {name: a}]\n" L, "duplicate cluster 'a'"},
        Bad{"clusters: [{name: a}]\nlisteners: [{address: 127.0.0.1:2, routes: [{cluster: b}]}]", "unknown cluster 'b'"},
        Bad{"clusters: [{name: a}]\nlisteners: [{address: 127.0.0.1:2, routes: [{}]}]", "exactly one of 'cluster' or 'split'"},
        Bad{"clusters: [{name: a}]\nlisteners: [{address: 127.0.0.1:2, routes: [{cluster: a, retry: {retry_on: [sometimes]}}]}]", "unknown retry condition 'sometimes'"},
        Bad{"clusters: [{name: a}]\nlisteners: [{address: 127.0.0.1:2, routes: [{split: [{cluster: a, weight: 0}]}]}]", "weights sum to 0"},
        Bad{"clusters: [{name: a}]\nlisteners: [{address: 127.0.0.1:2, routes: [{cluster: a, match: {path_prefix: api}}]}]", "must start with '/'"},
        Bad{"clusters: [{name: a}]\nadmin: 0.0.0.0:9901\n" L, "admin: must be a loopback address"},
        Bad{"clusters: [{name: a}]\nlisteners: [{address: 127.0.0.1:2}]", "needs at least one route"},
        Bad{"clusters: [{name: a, health_check: {healthy_threshold: 0}}]\n" L, "thresholds must be >= 1"},
        Bad{"clusters: [{name: a, failure_breaker: {failure_rate_threshold: 0}}]\n" L, "failure_rate_threshold: want a number in [1, 100]"},
        Bad{"clusters: [{name: a}]\nadmin_socket: run/p.sock\n" L, "admin_socket: must be an absolute path"},
        Bad{"clusters: [{name: a}]\nlisteners: [{service: b}]", "listeners[0].service: service 'b' is not listed under 'services'"},
        Bad{"clusters: [{name: a}]\nservices: {b: 127.0.0.1:5}\nlisteners: [{service: b}]", "no routes and no cluster named 'b'"},
        Bad{"clusters: [{name: a}]\nservices: {a: 127.0.0.1:5}\nlisteners: [{service: a, address: 127.0.0.1:6}]", "exactly one of 'address' or 'service'"},
        Bad{"clusters: [{name: a, protocol: h3}]\n" L, "clusters[0].protocol: unknown protocol 'h3'"},
        Bad{"clusters: [{name: a, endpoints: [{address: 127.0.0.1:1, weight: 0}]}]\n" L, "weight: must be 1-1000"},
        Bad{"clusters: [{name: a, endpoints: [{address: 127.0.0.1:1, wait: 2}]}]\n" L, "unknown key 'wait'"},
        Bad{"clusters: [{name: a\n", "YAML line"}));
#undef L

TEST(MeshConfig, Durations) {
  EXPECT_EQ(*parseDuration("250ms"), 250ms);
  EXPECT_EQ(*parseDuration("1.5s"), 1500ms);
  EXPECT_EQ(*parseDuration("2"), 2s);
  EXPECT_EQ(*parseDuration("2m"), 120s);
  EXPECT_EQ(*parseDuration("10us"), 10us);
  EXPECT_FALSE(parseDuration("-1s"));
  EXPECT_FALSE(parseDuration("s"));
  EXPECT_FALSE(parseDuration("1.2.3s"));
  EXPECT_FALSE(parseDuration("5 days"));
}

TEST(MeshConfig, HostPorts) {
  EXPECT_EQ(parseHostPort("a.b:80")->host, "a.b");
  EXPECT_EQ(parseHostPort("[fe80::1]:443")->port, 443);
  EXPECT_FALSE(parseHostPort("::1:80"));
  EXPECT_FALSE(parseHostPort("host"));
  EXPECT_FALSE(parseHostPort("host:0"));
  EXPECT_FALSE(parseHostPort(":80"));
}

TEST(MeshConfig, LoadFileNamesThePath) {
  auto c = loadConfigFile("/nonexistent/mesh.yaml");
  ASSERT_FALSE(c);
  EXPECT_NE(c.error().message().find("/nonexistent/mesh.yaml"), std::string::npos);
}

}  // namespace
}  // namespace berth::mesh

namespace berth::mesh {
namespace {
TEST(MeshConfig, WeightsAndProtocol) {
  auto c = parseConfig(
      "clusters: [{name: a, protocol: h2c, endpoints: [127.0.0.1:1, {address: 127.0.0.1:2, weight: 3}]}]\n"
      "listeners: [{address: 127.0.0.1:2, routes: [{cluster: a}]}]\n");
  ASSERT_TRUE(c) << c.error().message();
  ASSERT_EQ(c->clusters[0].endpoints.size(), 2u);
  EXPECT_EQ(c->clusters[0].endpoints[0].weight, 1u);
  EXPECT_EQ(c->clusters[0].endpoints[1].weight, 3u);
  EXPECT_EQ(c->clusters[0].endpoints[1].port, 2);
  EXPECT_TRUE(c->clusters[0].h2c);
}
}  // namespace
}  // namespace berth::mesh

namespace berth::mesh {
namespace {
TEST(MeshConfig, ServiceListeners) {
  auto c = parseConfig(
      "services: {calc: 127.0.0.1:8080, web: 127.0.0.1:8081}\n"
      "clusters: [{name: calc}, {name: other}]\n"
      "listeners: [{service: calc}, {service: web, routes: [{cluster: other}]}]\n");
  ASSERT_TRUE(c) << c.error().message();
  ASSERT_EQ(c->listeners.size(), 2u);
  EXPECT_EQ(c->listeners[0].name, "calc");
  EXPECT_EQ(c->listeners[0].address.str(), "127.0.0.1:8080");
  ASSERT_EQ(c->listeners[0].routes.size(), 1u);
  EXPECT_EQ(c->listeners[0].routes[0].clusters[0].cluster, "calc");
  EXPECT_EQ(c->listeners[1].address.port, 8081);
  EXPECT_EQ(c->listeners[1].routes[0].clusters[0].cluster, "other");
}
}  // namespace
}  // namespace berth::mesh
