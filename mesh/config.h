#pragma once
/// The proxy's configuration model and its YAML loader.
///
/// A config has listeners (each with ordered routes), clusters (the replicas of a service)
/// and an optional admin endpoint. Every policy has Envoy's (or resilience4j's) default so a
/// minimal file is a listener, one route and one cluster:
///
///   listeners:
///     - address: 127.0.0.1:10000
///       routes: [{ cluster: calc }]
///   clusters:
///     - name: calc
///       endpoints: [127.0.0.1:8081, 127.0.0.1:8082]
///
/// docs/design/mesh.md lists every key. Loading is strict: unknown keys, wrong types, bad
/// durations or references to undefined clusters give one line naming the path of the key.

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "common/error.h"

namespace berth::mesh {

using Duration = std::chrono::nanoseconds;

/// host:port. `host` is an IPv4/IPv6 literal or a DNS name (brackets stripped for IPv6).
struct HostPort {
  std::string host;
  uint16_t port = 0;
  uint32_t weight = 1;      ///< cluster endpoints only: load-balancing weight (1-1000)
  std::string str() const;  ///< "host:port" ("[::1]:80" for IPv6)
  bool operator==(const HostPort&) const = default;
};

/// Parse "host:port", "[v6]:port". Errors name the text.
Result<HostPort> parseHostPort(std::string_view s);
/// Parse "250ms", "1.5s", "2m", "100us", "1h"; a bare number is seconds.
Result<Duration> parseDuration(std::string_view s);

enum class LbPolicy { kRoundRobin, kLeastRequest, kRingHash, kPeakEwma };
const char* lbPolicyName(LbPolicy p);

struct HealthCheckConfig {
  bool enabled = false;
  std::string path = "/healthz";
  std::string host;  ///< Host header; empty: the endpoint's address
  Duration interval = std::chrono::seconds(5);
  Duration timeout = std::chrono::seconds(1);
  uint32_t healthyThreshold = 2;
  uint32_t unhealthyThreshold = 3;
  /// Status codes counted as healthy: [lo, hi] inclusive ranges. Default 200-299.
  std::vector<std::pair<int, int>> expectedStatuses{{200, 299}};
};

/// Passive outlier detection (Envoy's names and defaults).
struct OutlierConfig {
  bool enabled = true;
  uint32_t consecutive5xx = 5;
  uint32_t consecutiveConnectFailures = 5;
  Duration baseEjectionTime = std::chrono::seconds(30);
  Duration maxEjectionTime = std::chrono::seconds(300);
  uint32_t maxEjectionPercent = 10;
  /// How often an unejected host's ejection multiplier decays by one.
  Duration interval = std::chrono::seconds(10);
};

/// Envoy's per-cluster resource thresholds (defaults: 1024, 1024, 1024, 3).
struct ResourceLimits {
  uint32_t maxConnections = 1024;
  uint32_t maxPendingRequests = 1024;
  uint32_t maxRequests = 1024;
  uint32_t maxRetries = 3;
};

/// resilience4j's count-based circuit breaker (its defaults). Off unless configured.
struct FailureBreakerConfig {
  bool enabled = false;
  double failureRateThreshold = 50.0;  ///< percent, opens at >= threshold
  uint32_t slidingWindowSize = 100;    ///< last N calls
  uint32_t minimumCalls = 100;
  Duration waitInOpen = std::chrono::seconds(60);
  uint32_t permittedCallsInHalfOpen = 10;
};

struct DnsConfig {
  std::string name;
  uint16_t port = 0;
  Duration ttl = std::chrono::seconds(30);
};

struct ClusterConfig {
  std::string name;
  std::vector<HostPort> endpoints;  ///< static; DNS names here are resolved once at load
  std::optional<DnsConfig> dns;     ///< re-resolved every ttl
  LbPolicy lb = LbPolicy::kLeastRequest;
  std::string hashHeader;   ///< ring_hash: header whose value picks the host
  uint32_t ringSize = 1024; ///< ring_hash: virtual nodes in total
  Duration ewmaDecay = std::chrono::seconds(10);  ///< peak_ewma: time constant
  Duration connectTimeout = std::chrono::seconds(5);
  uint32_t maxIdleConnectionsPerHost = 64;
  bool h2c = false;  ///< protocol: h2c — speak HTTP/2 (prior knowledge) to the endpoints
  HealthCheckConfig healthCheck;
  OutlierConfig outlier;
  ResourceLimits limits;
  FailureBreakerConfig breaker;
};

enum class RetryOn : uint32_t {
  kConnectFailure = 1u << 0,
  kReset = 1u << 1,
  k502 = 1u << 2,
  k503 = 1u << 3,
  k504 = 1u << 4,
  kPerTryTimeout = 1u << 5,
};

struct RetryConfig {
  uint32_t maxRetries = 1;  ///< Envoy's default num_retries is 1
  uint32_t retryOn = static_cast<uint32_t>(RetryOn::kConnectFailure) |
                     static_cast<uint32_t>(RetryOn::kReset) |
                     static_cast<uint32_t>(RetryOn::k502) |
                     static_cast<uint32_t>(RetryOn::k503) |
                     static_cast<uint32_t>(RetryOn::k504);
  std::vector<int> retriableStatusCodes;  ///< extra codes to retry on
  bool allowNonIdempotent = false;        ///< POST/PATCH retried only when true
  Duration perTryTimeout{0};              ///< 0: the route timeout applies to each try
  Duration backoffBase = std::chrono::milliseconds(25);
  Duration backoffMax = std::chrono::milliseconds(250);
  double budgetPercent = 20.0;  ///< retries <= this share of requests in the window...
  uint32_t budgetMinPerSecond = 10;  ///< ...plus this floor per second
  Duration budgetWindow = std::chrono::seconds(10);
  bool has(RetryOn r) const { return retryOn & static_cast<uint32_t>(r); }
};

struct RateLimitConfig {
  double tokensPerSecond = 0;  ///< 0: no limit
  double burst = 0;            ///< bucket size; default = tokensPerSecond
};

struct HeaderMatch {
  std::string name;   ///< lower case
  std::optional<std::string> exact;  ///< nullopt: the header must be present
};

struct WeightedCluster {
  std::string cluster;
  uint32_t weight = 1;
};

struct RouteConfig {
  std::string name;
  std::string host;        ///< exact Host (port stripped), "*.suffix", or empty for any
  std::string pathPrefix = "/";
  std::vector<HeaderMatch> headers;
  std::vector<WeightedCluster> clusters;  ///< one entry for a plain route
  Duration timeout = std::chrono::seconds(15);  ///< whole request, all tries
  RetryConfig retry;
  RateLimitConfig rateLimit;
};

struct ListenerConfig {
  std::string name;
  HostPort address;
  std::vector<RouteConfig> routes;
};

struct AccessLogConfig {
  std::string path;  ///< empty: no access log; "-": stderr
};

struct TracingConfig {
  std::string otlpEndpoint;  ///< e.g. 127.0.0.1:4318 ; empty: spans not exported
  std::string serviceName = "berth-proxy";
};

struct Config {
  std::vector<ListenerConfig> listeners;
  std::vector<ClusterConfig> clusters;
  std::optional<HostPort> admin;  ///< loopback only
  std::string adminSocket;        ///< admin API on this unix socket path too (mode 0600)
  AccessLogConfig accessLog;
  TracingConfig tracing;
  uint32_t workers = 1;
  /// On SIGTERM (or a listener removed by a reload): how long requests and streams in flight
  /// may take to finish before they are cut.
  Duration drainTimeout = std::chrono::seconds(10);

  const ClusterConfig* findCluster(std::string_view name) const;
};

/// Parse a YAML document into a validated Config.
Result<Config> parseConfig(std::string_view yaml);
/// Read and parse a file; errors are prefixed with the path.
Result<Config> loadConfigFile(const std::string& path);

}  // namespace berth::mesh
