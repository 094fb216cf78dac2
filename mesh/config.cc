#include "mesh/config.h"

#include <yaml-cpp/yaml.h>

#include <arpa/inet.h>

#include <cmath>
#include <set>

#include "common/fs.h"
#include "common/strings.h"

namespace berth::mesh {

std::string HostPort::str() const {
  if (host.find(':') != std::string::npos) return "[" + host + "]:" + std::to_string(port);
  return host + ":" + std::to_string(port);
}

Result<HostPort> parseHostPort(std::string_view s) {
  HostPort hp;
  std::string_view portText;
  if (!s.empty() && s.front() == '[') {
    auto close = s.find(']');
    if (close == std::string_view::npos || close + 1 >= s.size() || s[close + 1] != ':')
      return fail(ErrorCode::kInvalidArgument, "bad address '" + std::string(s) + "'");
    hp.host = std::string(s.substr(1, close - 1));
    portText = s.substr(close + 2);
  } else {
    auto colon = s.rfind(':');
    if (colon == std::string_view::npos || colon == 0)
      return fail(ErrorCode::kInvalidArgument,
                  "bad address '" + std::string(s) + "' (want host:port)");
    hp.host = std::string(s.substr(0, colon));
    if (hp.host.find(':') != std::string::npos)
      return fail(ErrorCode::kInvalidArgument,
                  "bad address '" + std::string(s) + "' (IPv6 needs [brackets])");
    portText = s.substr(colon + 1);
  }
  auto port = str::parseU64(portText);
  if (!port || *port == 0 || *port > 65535)
    return fail(ErrorCode::kInvalidArgument, "bad port in '" + std::string(s) + "'");
  hp.port = static_cast<uint16_t>(*port);
  return hp;
}

Result<Duration> parseDuration(std::string_view s) {
  s = str::trim(s);
  size_t i = 0;
  while (i < s.size() && (std::isdigit(static_cast<unsigned char>(s[i])) || s[i] == '.')) ++i;
  std::string num(s.substr(0, i));
  std::string_view unit = s.substr(i);
  char* end = nullptr;
  double v = num.empty() ? -1 : std::strtod(num.c_str(), &end);
  if (num.empty() || end != num.c_str() + num.size() || v < 0 || !std::isfinite(v))
    return fail(ErrorCode::kInvalidArgument, "bad duration '" + std::string(s) + "'");
  double nsPer = 1e9;
  if (unit.empty() || unit == "s") nsPer = 1e9;
  else if (unit == "ms") nsPer = 1e6;
  else if (unit == "us") nsPer = 1e3;
  else if (unit == "ns") nsPer = 1;
  else if (unit == "m") nsPer = 60e9;
  else if (unit == "h") nsPer = 3600e9;
  else
    return fail(ErrorCode::kInvalidArgument,
                "bad duration unit in '" + std::string(s) + "' (use ns, us, ms, s, m, h)");
  double ns = v * nsPer;
  if (ns > 1e18) return fail(ErrorCode::kInvalidArgument, "duration too long '" + std::string(s) + "'");
  return Duration(static_cast<int64_t>(ns));
}

const char* lbPolicyName(LbPolicy p) {
  switch (p) {
    case LbPolicy::kRoundRobin: return "round_robin";
    case LbPolicy::kLeastRequest: return "least_request";
    case LbPolicy::kRingHash: return "ring_hash";
    case LbPolicy::kPeakEwma: return "peak_ewma";
  }
  return "?";
}

const ClusterConfig* Config::findCluster(std::string_view name) const {
  for (auto& c : clusters)
    if (c.name == name) return &c;
  return nullptr;
}

namespace {

// Strict YAML reading: each accessor knows the dotted path of its node so an error names
// exactly the key that was wrong. yaml-cpp throws; the throws stay inside this file.
class Reader {
 public:
  Reader(YAML::Node node, std::string path) : node_(std::move(node)), path_(std::move(path)) {}

  const std::string& path() const { return path_; }
  const YAML::Node& node() const { return node_; }
  bool isMap() const { return node_.IsMap(); }

  Error err(const std::string& what) const {
    return Error(ErrorCode::kInvalidArgument, (path_.empty() ? "config" : path_) + ": " + what);
  }

  /// Fails if the map has keys outside `allowed`.
  Result<void> onlyKeys(std::initializer_list<const char*> allowed) const {
    if (!node_.IsMap()) return fail(err("must be a mapping"));
    for (auto it = node_.begin(); it != node_.end(); ++it) {
      std::string key = it->first.as<std::string>();
      bool ok = false;
      for (auto* a : allowed) ok = ok || key == a;
      if (!ok) return fail(err("unknown key '" + key + "'"));
    }
    return {};
  }

  bool has(const char* key) const { return node_.IsMap() && node_[key].IsDefined() && !node_[key].IsNull(); }
  Reader child(const char* key) const { return Reader(node_[key], join(key)); }
  std::string join(const std::string& key) const { return path_.empty() ? key : path_ + "." + key; }

  Result<std::vector<Reader>> list(const char* key) const {
    std::vector<Reader> out;
    if (!has(key)) return out;
    YAML::Node n = node_[key];
    if (!n.IsSequence()) return fail(err("'" + std::string(key) + "' must be a list"));
    for (size_t i = 0; i < n.size(); ++i)
      out.emplace_back(n[i], join(key) + "[" + std::to_string(i) + "]");
    return out;
  }

  Result<std::string> scalar() const {
    if (!node_.IsScalar()) return fail(err("must be a scalar"));
    return node_.Scalar();
  }
  Result<void> str(const char* key, std::string& out) const {
    if (!has(key)) return {};
    auto r = child(key).scalar();
    if (!r) return fail(r.error());
    out = *r;
    return {};
  }
  Result<void> u32(const char* key, uint32_t& out, uint64_t max = UINT32_MAX) const {
    if (!has(key)) return {};
    BERTH_ASSIGN(std::string s, child(key).scalar());
    auto v = str::parseU64(s);
    if (!v || *v > max)
      return fail(child(key).err("want a whole number <= " + std::to_string(max) + ", got '" + s + "'"));
    out = static_cast<uint32_t>(*v);
    return {};
  }
  Result<void> number(const char* key, double& out, double lo, double hi) const {
    if (!has(key)) return {};
    BERTH_ASSIGN(std::string s, child(key).scalar());
    char* end = nullptr;
    double v = std::strtod(s.c_str(), &end);
    if (s.empty() || end != s.c_str() + s.size() || !(v >= lo && v <= hi))
      return fail(child(key).err("want a number in [" + fmtNum(lo) + ", " + fmtNum(hi) + "], got '" + s + "'"));
    out = v;
    return {};
  }
  Result<void> boolean(const char* key, bool& out) const {
    if (!has(key)) return {};
    BERTH_ASSIGN(std::string s, child(key).scalar());
    if (s == "true" || s == "yes" || s == "on") out = true;
    else if (s == "false" || s == "no" || s == "off") out = false;
    else return fail(child(key).err("want true or false, got '" + s + "'"));
    return {};
  }
  Result<void> duration(const char* key, Duration& out, bool allowZero = false) const {
    if (!has(key)) return {};
    BERTH_ASSIGN(std::string s, child(key).scalar());
    auto d = parseDuration(s);
    if (!d) return fail(child(key).err(d.error().message()));
    if (!allowZero && d->count() == 0) return fail(child(key).err("must be > 0"));
    out = *d;
    return {};
  }

 private:
  static std::string fmtNum(double v) {
    char b[32];
    std::snprintf(b, sizeof b, "%g", v);
    return b;
  }
  YAML::Node node_;
  std::string path_;
};

Result<HostPort> readHostPort(const Reader& r) {
  BERTH_ASSIGN(std::string s, r.scalar());
  auto hp = parseHostPort(s);
  if (!hp) return fail(r.err(hp.error().message()));
  return hp;
}

bool isLoopback(const std::string& host) {
  if (host == "localhost") return true;
  in_addr a4{};
  if (inet_pton(AF_INET, host.c_str(), &a4) == 1) return (ntohl(a4.s_addr) >> 24) == 127;
  in6_addr a6{};
  if (inet_pton(AF_INET6, host.c_str(), &a6) == 1) return IN6_IS_ADDR_LOOPBACK(&a6);
  return false;
}

Result<void> readHealthCheck(const Reader& r, HealthCheckConfig& hc) {
  BERTH_TRY(r.onlyKeys({"path", "host", "interval", "timeout", "healthy_threshold",
                        "unhealthy_threshold", "expected_statuses"}));
  hc.enabled = true;
  BERTH_TRY(r.str("path", hc.path));
  if (hc.path.empty() || hc.path[0] != '/') return fail(r.child("path").err("must start with '/'"));
  BERTH_TRY(r.str("host", hc.host));
  BERTH_TRY(r.duration("interval", hc.interval));
  BERTH_TRY(r.duration("timeout", hc.timeout));
  BERTH_TRY(r.u32("healthy_threshold", hc.healthyThreshold, 1000));
  BERTH_TRY(r.u32("unhealthy_threshold", hc.unhealthyThreshold, 1000));
  if (hc.healthyThreshold == 0 || hc.unhealthyThreshold == 0)
    return fail(r.err("thresholds must be >= 1"));
  if (r.has("expected_statuses")) {
    hc.expectedStatuses.clear();
    BERTH_ASSIGN(auto items, r.list("expected_statuses"));
    for (auto& it : items) {
      BERTH_ASSIGN(std::string s, it.scalar());
      auto [lo, hi] = str::splitOnce(s, '-');
      auto a = str::parseU64(lo);
      auto b = hi ? str::parseU64(*hi) : a;
      if (!a || !b || *a < 100 || *b > 599 || *a > *b)
        return fail(it.err("want a status or range like 200-299, got '" + s + "'"));
      hc.expectedStatuses.emplace_back(static_cast<int>(*a), static_cast<int>(*b));
    }
  }
  return {};
}

Result<void> readOutlier(const Reader& r, OutlierConfig& o) {
  BERTH_TRY(r.onlyKeys({"enabled", "consecutive_5xx", "consecutive_connect_failures",
                        "base_ejection_time", "max_ejection_time", "max_ejection_percent",
                        "interval"}));
  BERTH_TRY(r.boolean("enabled", o.enabled));
  BERTH_TRY(r.u32("consecutive_5xx", o.consecutive5xx));
  BERTH_TRY(r.u32("consecutive_connect_failures", o.consecutiveConnectFailures));
  BERTH_TRY(r.duration("base_ejection_time", o.baseEjectionTime));
  BERTH_TRY(r.duration("max_ejection_time", o.maxEjectionTime));
  BERTH_TRY(r.u32("max_ejection_percent", o.maxEjectionPercent, 100));
  BERTH_TRY(r.duration("interval", o.interval));
  return {};
}

Result<void> readLimits(const Reader& r, ResourceLimits& l) {
  BERTH_TRY(r.onlyKeys({"max_connections", "max_pending_requests", "max_requests", "max_retries"}));
  BERTH_TRY(r.u32("max_connections", l.maxConnections));
  BERTH_TRY(r.u32("max_pending_requests", l.maxPendingRequests));
  BERTH_TRY(r.u32("max_requests", l.maxRequests));
  BERTH_TRY(r.u32("max_retries", l.maxRetries));
  return {};
}

Result<void> readBreaker(const Reader& r, FailureBreakerConfig& b) {
  BERTH_TRY(r.onlyKeys({"enabled", "failure_rate_threshold", "sliding_window_size",
                        "minimum_calls", "wait_in_open", "permitted_calls_in_half_open"}));
  b.enabled = true;
  BERTH_TRY(r.boolean("enabled", b.enabled));
  BERTH_TRY(r.number("failure_rate_threshold", b.failureRateThreshold, 1, 100));
  BERTH_TRY(r.u32("sliding_window_size", b.slidingWindowSize, 100000));
  BERTH_TRY(r.u32("minimum_calls", b.minimumCalls, 100000));
  BERTH_TRY(r.duration("wait_in_open", b.waitInOpen));
  BERTH_TRY(r.u32("permitted_calls_in_half_open", b.permittedCallsInHalfOpen, 100000));
  if (b.slidingWindowSize == 0 || b.permittedCallsInHalfOpen == 0)
    return fail(r.err("sliding_window_size and permitted_calls_in_half_open must be >= 1"));
  // resilience4j: with minimumCalls above the window, the window size is the minimum.
  if (b.minimumCalls > b.slidingWindowSize) b.minimumCalls = b.slidingWindowSize;
  return {};
}

Result<void> readCluster(const Reader& r, ClusterConfig& c) {
  BERTH_TRY(r.onlyKeys({"name", "endpoints", "dns", "lb", "hash_header", "ring_size",
                        "ewma_decay", "connect_timeout", "max_idle_connections_per_host",
                        "protocol", "health_check", "outlier_detection", "circuit_breakers",
                        "failure_breaker"}));
  BERTH_TRY(r.str("name", c.name));
  if (c.name.empty()) return fail(r.err("'name' is required"));
  BERTH_ASSIGN(auto eps, r.list("endpoints"));
  for (auto& e : eps) {
    // "ip:port", or {address: ip:port, weight: N}
    if (e.has("address")) {
      BERTH_TRY(e.onlyKeys({"address", "weight"}));
      BERTH_ASSIGN(HostPort hp, readHostPort(e.child("address")));
      BERTH_TRY(e.u32("weight", hp.weight, 1000));
      if (hp.weight == 0) return fail(e.child("weight").err("must be 1-1000"));
      c.endpoints.push_back(hp);
      continue;
    }
    BERTH_ASSIGN(HostPort hp, readHostPort(e));
    c.endpoints.push_back(hp);
  }
  if (r.has("dns")) {
    Reader d = r.child("dns");
    BERTH_TRY(d.onlyKeys({"name", "port", "ttl"}));
    DnsConfig dc;
    BERTH_TRY(d.str("name", dc.name));
    if (dc.name.empty()) return fail(d.err("'name' is required"));
    uint32_t port = 0;
    BERTH_TRY(d.u32("port", port, 65535));
    if (port == 0) return fail(d.err("'port' is required"));
    dc.port = static_cast<uint16_t>(port);
    BERTH_TRY(d.duration("ttl", dc.ttl));
    c.dns = dc;
  }
  std::string lb;
  BERTH_TRY(r.str("lb", lb));
  if (lb.empty() || lb == "least_request") c.lb = LbPolicy::kLeastRequest;
  else if (lb == "round_robin") c.lb = LbPolicy::kRoundRobin;
  else if (lb == "ring_hash") c.lb = LbPolicy::kRingHash;
  else if (lb == "peak_ewma") c.lb = LbPolicy::kPeakEwma;
  else
    return fail(r.child("lb").err("unknown policy '" + lb +
                                  "' (round_robin, least_request, ring_hash, peak_ewma)"));
  BERTH_TRY(r.str("hash_header", c.hashHeader));
  c.hashHeader = str::toLower(c.hashHeader);
  if (c.lb == LbPolicy::kRingHash && c.hashHeader.empty())
    return fail(r.err("ring_hash needs 'hash_header'"));
  BERTH_TRY(r.u32("ring_size", c.ringSize, 1u << 20));
  if (c.ringSize == 0) return fail(r.child("ring_size").err("must be >= 1"));
  BERTH_TRY(r.duration("ewma_decay", c.ewmaDecay));
  BERTH_TRY(r.duration("connect_timeout", c.connectTimeout));
  BERTH_TRY(r.u32("max_idle_connections_per_host", c.maxIdleConnectionsPerHost, 100000));
  std::string proto;
  BERTH_TRY(r.str("protocol", proto));
  if (proto == "h2c") c.h2c = true;
  else if (!proto.empty() && proto != "http1")
    return fail(r.child("protocol").err("unknown protocol '" + proto + "' (http1, h2c)"));
  if (r.has("health_check")) BERTH_TRY(readHealthCheck(r.child("health_check"), c.healthCheck));
  if (r.has("outlier_detection")) BERTH_TRY(readOutlier(r.child("outlier_detection"), c.outlier));
  if (r.has("circuit_breakers")) BERTH_TRY(readLimits(r.child("circuit_breakers"), c.limits));
  if (r.has("failure_breaker")) BERTH_TRY(readBreaker(r.child("failure_breaker"), c.breaker));
  return {};
}

Result<void> readRetry(const Reader& r, RetryConfig& rc) {
  BERTH_TRY(r.onlyKeys({"retries", "retry_on", "retriable_status_codes", "allow_non_idempotent",
                        "per_try_timeout", "backoff_base", "backoff_max", "budget_percent",
                        "budget_min_per_second", "budget_window"}));
  BERTH_TRY(r.u32("retries", rc.maxRetries, 100));
  if (r.has("retry_on")) {
    rc.retryOn = 0;
    BERTH_ASSIGN(auto items, r.list("retry_on"));
    for (auto& it : items) {
      BERTH_ASSIGN(std::string s, it.scalar());
      if (s == "connect-failure") rc.retryOn |= static_cast<uint32_t>(RetryOn::kConnectFailure);
      else if (s == "reset") rc.retryOn |= static_cast<uint32_t>(RetryOn::kReset);
      else if (s == "502") rc.retryOn |= static_cast<uint32_t>(RetryOn::k502);
      else if (s == "503") rc.retryOn |= static_cast<uint32_t>(RetryOn::k503);
      else if (s == "504") rc.retryOn |= static_cast<uint32_t>(RetryOn::k504);
      else if (s == "per-try-timeout") rc.retryOn |= static_cast<uint32_t>(RetryOn::kPerTryTimeout);
      else if (s == "5xx")
        rc.retryOn |= static_cast<uint32_t>(RetryOn::k502) | static_cast<uint32_t>(RetryOn::k503) |
                      static_cast<uint32_t>(RetryOn::k504);
      else
        return fail(it.err("unknown retry condition '" + s +
                           "' (connect-failure, reset, 502, 503, 504, 5xx, per-try-timeout)"));
    }
  }
  BERTH_ASSIGN(auto codes, r.list("retriable_status_codes"));
  for (auto& it : codes) {
    BERTH_ASSIGN(std::string s, it.scalar());
    auto v = str::parseU64(s);
    if (!v || *v < 100 || *v > 599) return fail(it.err("bad status code '" + s + "'"));
    rc.retriableStatusCodes.push_back(static_cast<int>(*v));
  }
  BERTH_TRY(r.boolean("allow_non_idempotent", rc.allowNonIdempotent));
  BERTH_TRY(r.duration("per_try_timeout", rc.perTryTimeout));
  BERTH_TRY(r.duration("backoff_base", rc.backoffBase));
  BERTH_TRY(r.duration("backoff_max", rc.backoffMax));
  if (rc.backoffMax < rc.backoffBase) return fail(r.err("backoff_max must be >= backoff_base"));
  BERTH_TRY(r.number("budget_percent", rc.budgetPercent, 0, 1000));
  BERTH_TRY(r.u32("budget_min_per_second", rc.budgetMinPerSecond, 1000000));
  BERTH_TRY(r.duration("budget_window", rc.budgetWindow));
  return {};
}

Result<void> readRoute(const Reader& r, RouteConfig& rt, const Config& cfg) {
  BERTH_TRY(r.onlyKeys({"name", "match", "cluster", "split", "timeout", "retry", "rate_limit"}));
  BERTH_TRY(r.str("name", rt.name));
  if (r.has("match")) {
    Reader m = r.child("match");
    BERTH_TRY(m.onlyKeys({"host", "path_prefix", "headers"}));
    BERTH_TRY(m.str("host", rt.host));
    rt.host = str::toLower(rt.host);
    BERTH_TRY(m.str("path_prefix", rt.pathPrefix));
    if (rt.pathPrefix.empty() || rt.pathPrefix[0] != '/')
      return fail(m.child("path_prefix").err("must start with '/'"));
    if (m.has("headers")) {
      Reader h = m.child("headers");
      if (!h.isMap()) return fail(h.err("must be a mapping of header name to value"));
      for (auto it = h.node().begin(); it != h.node().end(); ++it) {
        HeaderMatch hm;
        hm.name = str::toLower(it->first.as<std::string>());
        if (!it->second.IsNull()) {
          if (!it->second.IsScalar()) return fail(h.err("header '" + hm.name + "' must be a string"));
          std::string v = it->second.Scalar();
          if (v != "*") hm.exact = v;
        }
        rt.headers.push_back(std::move(hm));
      }
    }
  }
  bool hasCluster = r.has("cluster"), hasSplit = r.has("split");
  if (hasCluster == hasSplit) return fail(r.err("give exactly one of 'cluster' or 'split'"));
  if (hasCluster) {
    WeightedCluster wc;
    BERTH_TRY(r.str("cluster", wc.cluster));
    rt.clusters.push_back(wc);
  } else {
    BERTH_ASSIGN(auto items, r.list("split"));
    if (items.empty()) return fail(r.child("split").err("must not be empty"));
    uint64_t total = 0;
    for (auto& it : items) {
      BERTH_TRY(it.onlyKeys({"cluster", "weight"}));
      WeightedCluster wc;
      BERTH_TRY(it.str("cluster", wc.cluster));
      if (wc.cluster.empty()) return fail(it.err("'cluster' is required"));
      BERTH_TRY(it.u32("weight", wc.weight, 1000000));
      total += wc.weight;
      rt.clusters.push_back(wc);
    }
    if (total == 0) return fail(r.child("split").err("weights sum to 0"));
  }
  for (auto& wc : rt.clusters)
    if (!cfg.findCluster(wc.cluster))
      return fail(r.err("unknown cluster '" + wc.cluster + "'"));
  BERTH_TRY(r.duration("timeout", rt.timeout));
  if (r.has("retry")) BERTH_TRY(readRetry(r.child("retry"), rt.retry));
  if (r.has("rate_limit")) {
    Reader l = r.child("rate_limit");
    BERTH_TRY(l.onlyKeys({"requests_per_second", "burst"}));
    BERTH_TRY(l.number("requests_per_second", rt.rateLimit.tokensPerSecond, 0, 1e9));
    BERTH_TRY(l.number("burst", rt.rateLimit.burst, 0, 1e9));
    if (rt.rateLimit.burst == 0) rt.rateLimit.burst = std::max(1.0, rt.rateLimit.tokensPerSecond);
  }
  return {};
}

Result<Config> parseRoot(const YAML::Node& root) {
  Config cfg;
  Reader r(root, "");
  if (!root.IsMap()) return fail(ErrorCode::kInvalidArgument, "config: top level must be a mapping");
  BERTH_TRY(r.onlyKeys({"listeners", "clusters", "services", "admin", "admin_socket", "access_log",
                        "tracing", "workers", "drain_timeout"}));
  BERTH_TRY(r.str("admin_socket", cfg.adminSocket));
  if (!cfg.adminSocket.empty() && cfg.adminSocket[0] != '/')
    return fail(r.child("admin_socket").err("must be an absolute path"));
  // Clusters first: routes refer to them.
  BERTH_ASSIGN(auto clusters, r.list("clusters"));
  std::set<std::string> names;
  for (auto& c : clusters) {
    ClusterConfig cc;
    BERTH_TRY(readCluster(c, cc));
    if (!names.insert(cc.name).second) return fail(c.err("duplicate cluster '" + cc.name + "'"));
    cfg.clusters.push_back(std::move(cc));
  }
  BERTH_ASSIGN(auto listeners, r.list("listeners"));
  std::set<std::string> addrs;
  for (size_t i = 0; i < listeners.size(); ++i) {
    auto& l = listeners[i];
    BERTH_TRY(l.onlyKeys({"name", "address", "service", "routes"}));
    ListenerConfig lc;
    BERTH_TRY(l.str("name", lc.name));
    std::string service;
    BERTH_TRY(l.str("service", service));
    if (lc.name.empty()) lc.name = service.empty() ? "listener" + std::to_string(i) : service;
    if (l.has("address") == !service.empty())
      return fail(l.err("exactly one of 'address' or 'service' is required"));
    if (!service.empty()) {
      // A service listener binds the address the service is published on (services:).
      if (!r.has("services") || !r.child("services").has(service.c_str()))
        return fail(l.child("service").err("service '" + service + "' is not listed under 'services'"));
      BERTH_ASSIGN(lc.address, readHostPort(r.child("services").child(service.c_str())));
    } else {
      BERTH_ASSIGN(lc.address, readHostPort(l.child("address")));
    }
    if (!addrs.insert(lc.address.str()).second)
      return fail(l.err("duplicate listener address " + lc.address.str()));
    BERTH_ASSIGN(auto routes, l.list("routes"));
    if (routes.empty() && !service.empty()) {
      // No routes: everything goes to the cluster named like the service.
      if (!names.count(service))
        return fail(l.child("service").err("no routes and no cluster named '" + service + "'"));
      RouteConfig rt;
      rt.name = lc.name + ".route0";
      rt.clusters.push_back({service, 1});
      lc.routes.push_back(std::move(rt));
    }
    if (routes.empty() && lc.routes.empty()) return fail(l.err("needs at least one route"));
    for (size_t j = 0; j < routes.size(); ++j) {
      RouteConfig rt;
      BERTH_TRY(readRoute(routes[j], rt, cfg));
      if (rt.name.empty()) rt.name = lc.name + ".route" + std::to_string(j);
      lc.routes.push_back(std::move(rt));
    }
    cfg.listeners.push_back(std::move(lc));
  }
  if (r.has("admin")) {
    BERTH_ASSIGN(HostPort a, readHostPort(r.child("admin")));
    if (!isLoopback(a.host)) return fail(r.child("admin").err("must be a loopback address"));
    cfg.admin = a;
  }
  if (r.has("access_log")) {
    Reader a = r.child("access_log");
    BERTH_TRY(a.onlyKeys({"path"}));
    BERTH_TRY(a.str("path", cfg.accessLog.path));
  }
  if (r.has("tracing")) {
    Reader t = r.child("tracing");
    BERTH_TRY(t.onlyKeys({"otlp_endpoint", "service_name"}));
    BERTH_TRY(t.str("otlp_endpoint", cfg.tracing.otlpEndpoint));
    BERTH_TRY(t.str("service_name", cfg.tracing.serviceName));
    if (!cfg.tracing.otlpEndpoint.empty()) {
      auto hp = parseHostPort(cfg.tracing.otlpEndpoint);
      if (!hp) return fail(t.child("otlp_endpoint").err(hp.error().message()));
    }
  }
  BERTH_TRY(r.u32("workers", cfg.workers, 64));
  BERTH_TRY(r.duration("drain_timeout", cfg.drainTimeout));
  if (cfg.workers == 0) return fail(r.child("workers").err("must be >= 1"));
  return cfg;
}

}  // namespace

Result<Config> parseConfig(std::string_view yaml) {
  try {
    YAML::Node root = YAML::Load(std::string(yaml));
    if (!root.IsDefined() || root.IsNull())
      return fail(ErrorCode::kInvalidArgument, "config: empty document");
    return parseRoot(root);
  } catch (const YAML::Exception& e) {
    return fail(ErrorCode::kInvalidArgument,
                "config: YAML line " + std::to_string(e.mark.line + 1) + ": " + e.msg);
  }
}

Result<Config> loadConfigFile(const std::string& path) {
  auto text = fs::readFile(path);
  if (!text) return fail(std::move(text).error().context("read config " + path));
  auto cfg = parseConfig(*text);
  if (!cfg) return fail(std::move(cfg).error().context(path));
  return cfg;
}

}  // namespace berth::mesh
