#include "mesh/metrics.h"

#include <nlohmann/json.hpp>

#include <cstdio>

namespace berth::mesh {

const char* hostStateName(uint32_t flags) {
  if (flags & kHostEjected) return "ejected";
  if (flags & kHostFailedHealthCheck) return "unhealthy";
  if (flags & kHostPendingFirstCheck) return "pending";
  if (flags & kHostDraining) return "draining";
  return "healthy";
}

namespace {

void family(std::string& out, const char* name, const char* type, const char* help) {
  out += "# HELP ";
  out += name;
  out += ' ';
  out += help;
  out += "\n# TYPE ";
  out += name;
  out += ' ';
  out += type;
  out += '\n';
}

// Label values are cluster names and host:port ids; escape per the text format anyway.
std::string esc(const std::string& v) {
  std::string o;
  for (char c : v) {
    if (c == '\\' || c == '"') o += '\\';
    if (c == '\n') {
      o += "\\n";
      continue;
    }
    o += c;
  }
  return o;
}

void sample(std::string& out, const char* name, const std::string& labels, double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.17g", v);
  out += name;
  out += '{';
  out += labels;
  out += "} ";
  out += buf;
  out += '\n';
}

void sampleU(std::string& out, const char* name, const std::string& labels, uint64_t v) {
  out += name;
  out += '{';
  out += labels;
  out += "} ";
  out += std::to_string(v);
  out += '\n';
}

std::string cl(const Cluster::Snapshot& c) { return "cluster=\"" + esc(c.name) + "\""; }

void histogram(std::string& out, const char* name, const std::string& labels,
               const Histogram& h) {
  std::string bucket = std::string(name) + "_bucket";
  char le[32];
  for (size_t i = 0; i < Histogram::kBoundsMs.size(); ++i) {
    std::snprintf(le, sizeof le, "%g", Histogram::kBoundsMs[i] / 1000.0);
    sampleU(out, bucket.c_str(), labels + ",le=\"" + le + "\"", h.cumulative(i));
  }
  sampleU(out, bucket.c_str(), labels + ",le=\"+Inf\"", h.count());
  sample(out, (std::string(name) + "_sum").c_str(), labels, h.sumSeconds());
  sampleU(out, (std::string(name) + "_count").c_str(), labels, h.count());
}

using Get = uint64_t (*)(const ClusterStats&);

void counter(std::string& out, const std::vector<Cluster::Snapshot>& cs, const char* name,
             const char* help, Get get) {
  family(out, name, "counter", help);
  for (auto& c : cs) sampleU(out, name, cl(c), get(c.stats));
}

}  // namespace

std::string renderPrometheus(const std::vector<Cluster::Snapshot>& cs, const ProxyCounters& p) {
  std::string out;
  out.reserve(4096 + cs.size() * 4096);
  family(out, "berth_proxy_downstream_requests_total", "counter", "Requests received.");
  out += "berth_proxy_downstream_requests_total " + std::to_string(p.downstreamRequests) + "\n";
  family(out, "berth_proxy_local_replies_total", "counter",
         "Requests answered by the proxy itself, by reason.");
  out += "berth_proxy_local_replies_total{reason=\"no-route\"} " + std::to_string(p.noRoute) + "\n";
  out += "berth_proxy_local_replies_total{reason=\"rate-limited\"} " + std::to_string(p.rateLimited) + "\n";
  out += "berth_proxy_local_replies_total{reason=\"bad-request\"} " + std::to_string(p.badRequests) + "\n";
  family(out, "berth_proxy_config_reloads_total", "counter", "Config reloads by result.");
  out += "berth_proxy_config_reloads_total{result=\"ok\"} " + std::to_string(p.configReloads) + "\n";
  out += "berth_proxy_config_reloads_total{result=\"failed\"} " + std::to_string(p.configReloadFailures) + "\n";

  counter(out, cs, "berth_proxy_cluster_requests_total", "Downstream requests routed to the cluster.",
          [](const ClusterStats& s) { return s.requests; });
  counter(out, cs, "berth_proxy_cluster_upstream_attempts_total", "Upstream attempts, retries included.",
          [](const ClusterStats& s) { return s.attempts; });
  counter(out, cs, "berth_proxy_cluster_retries_total", "Retries made.",
          [](const ClusterStats& s) { return s.retries; });
  counter(out, cs, "berth_proxy_cluster_retry_budget_exhausted_total", "Retries refused by the retry budget.",
          [](const ClusterStats& s) { return s.retryBudgetExhausted; });
  counter(out, cs, "berth_proxy_cluster_ejections_total", "Outlier ejections.",
          [](const ClusterStats& s) { return s.ejections; });
  counter(out, cs, "berth_proxy_cluster_connect_failures_total", "Upstream connect failures.",
          [](const ClusterStats& s) { return s.connectFailures; });
  counter(out, cs, "berth_proxy_cluster_resets_total", "Upstream connections reset mid-exchange.",
          [](const ClusterStats& s) { return s.resets; });
  counter(out, cs, "berth_proxy_cluster_timeouts_total", "Requests answered 504.",
          [](const ClusterStats& s) { return s.timeouts; });

  family(out, "berth_proxy_cluster_rejected_total", "counter",
         "Requests answered 503 by the proxy, by reason.");
  for (auto& c : cs) {
    sampleU(out, "berth_proxy_cluster_rejected_total", cl(c) + ",reason=\"no-healthy-host\"", c.stats.noHealthyHost);
    sampleU(out, "berth_proxy_cluster_rejected_total", cl(c) + ",reason=\"breaker-open\"", c.stats.breakerRejected);
    sampleU(out, "berth_proxy_cluster_rejected_total", cl(c) + ",reason=\"overflow\"", c.stats.overflow);
  }
  family(out, "berth_proxy_cluster_responses_total", "counter", "Responses sent downstream by status.");
  for (auto& c : cs)
    for (auto& [code, n] : c.stats.responses)
      sampleU(out, "berth_proxy_cluster_responses_total", cl(c) + ",code=\"" + std::to_string(code) + "\"", n);

  family(out, "berth_proxy_cluster_breaker_state", "gauge",
         "Failure breaker: 0 closed, 1 open, 2 half-open.");
  for (auto& c : cs) sampleU(out, "berth_proxy_cluster_breaker_state", cl(c), static_cast<uint64_t>(c.breaker));
  family(out, "berth_proxy_cluster_breaker_opened_total", "counter", "Times the failure breaker opened.");
  for (auto& c : cs) sampleU(out, "berth_proxy_cluster_breaker_opened_total", cl(c), c.breakerOpened);
  family(out, "berth_proxy_cluster_active_requests", "gauge", "Requests in flight.");
  for (auto& c : cs) sampleU(out, "berth_proxy_cluster_active_requests", cl(c), c.activeRequests);
  family(out, "berth_proxy_cluster_throughput_rps", "gauge", "Requests per second over the last 10 s.");
  for (auto& c : cs) sample(out, "berth_proxy_cluster_throughput_rps", cl(c), c.throughput);
  family(out, "berth_proxy_cluster_availability_ratio", "gauge",
         "MTBF / (MTBF + MTTR) from health transitions, mean over endpoints.");
  for (auto& c : cs) sample(out, "berth_proxy_cluster_availability_ratio", cl(c), c.availability.availability);

  family(out, "berth_proxy_cluster_upstream_latency_seconds", "histogram",
         "Upstream time per attempt (network + backend processing).");
  for (auto& c : cs) histogram(out, "berth_proxy_cluster_upstream_latency_seconds", cl(c), c.stats.upstream);
  family(out, "berth_proxy_cluster_overhead_seconds", "histogram",
         "Time the proxy added per request (total minus upstream time of the last try).");
  for (auto& c : cs) histogram(out, "berth_proxy_cluster_overhead_seconds", cl(c), c.stats.overhead);
  family(out, "berth_proxy_cluster_request_duration_seconds", "histogram",
         "Request duration as the downstream client saw it.");
  for (auto& c : cs) histogram(out, "berth_proxy_cluster_request_duration_seconds", cl(c), c.stats.total);

  family(out, "berth_proxy_endpoint_requests_total", "counter", "Attempts sent to the endpoint.");
  for (auto& c : cs)
    for (auto& h : c.hosts)
      sampleU(out, "berth_proxy_endpoint_requests_total", cl(c) + ",endpoint=\"" + esc(h.id) + "\"", h.counters.requests);
  family(out, "berth_proxy_endpoint_failures_total", "counter", "Failed attempts (5xx or connection).");
  for (auto& c : cs)
    for (auto& h : c.hosts)
      sampleU(out, "berth_proxy_endpoint_failures_total", cl(c) + ",endpoint=\"" + esc(h.id) + "\"", h.counters.failures);
  family(out, "berth_proxy_endpoint_ejections_total", "counter", "Times the endpoint was ejected.");
  for (auto& c : cs)
    for (auto& h : c.hosts)
      sampleU(out, "berth_proxy_endpoint_ejections_total", cl(c) + ",endpoint=\"" + esc(h.id) + "\"", h.counters.ejections);
  family(out, "berth_proxy_endpoint_active_requests", "gauge", "Attempts in flight to the endpoint.");
  for (auto& c : cs)
    for (auto& h : c.hosts)
      sampleU(out, "berth_proxy_endpoint_active_requests", cl(c) + ",endpoint=\"" + esc(h.id) + "\"", h.activeRequests);
  family(out, "berth_proxy_endpoint_healthy", "gauge", "1 if the endpoint takes new requests.");
  for (auto& c : cs)
    for (auto& h : c.hosts)
      sampleU(out, "berth_proxy_endpoint_healthy", cl(c) + ",endpoint=\"" + esc(h.id) + "\"", h.flags == 0 ? 1 : 0);
  return out;
}

namespace {

nlohmann::json latencyJson(const Histogram& h) {
  return {{"p50", h.quantileMs(0.5)}, {"p90", h.quantileMs(0.9)}, {"p99", h.quantileMs(0.99)},
          {"mean", h.meanMs()}, {"count", h.count()}};
}

nlohmann::json availJson(const Availability& a) {
  return {{"ratio", a.availability}, {"mtbf_s", a.mtbfSeconds}, {"mttr_s", a.mttrSeconds},
          {"failures", a.failures}};
}

}  // namespace

std::string renderStatsJson(const std::vector<Cluster::Snapshot>& cs, const ProxyCounters& p) {
  nlohmann::json j;
  j["proxy"] = {{"downstream_requests", p.downstreamRequests}, {"no_route", p.noRoute},
                {"rate_limited", p.rateLimited}, {"bad_requests", p.badRequests},
                {"config_reloads", p.configReloads},
                {"config_reload_failures", p.configReloadFailures}};
  nlohmann::json clusters = nlohmann::json::object();
  for (auto& c : cs) {
    nlohmann::json responses = nlohmann::json::object();
    uint64_t errors = 0;
    for (auto& [code, n] : c.stats.responses) {
      responses[std::to_string(code)] = n;
      if (code >= 500) errors += n;
    }
    clusters[c.name] = {
        {"latency_ms", {{"upstream", latencyJson(c.stats.upstream)},
                        {"proxy_overhead", latencyJson(c.stats.overhead)},
                        {"total", latencyJson(c.stats.total)}}},
        {"throughput_rps", c.throughput},
        {"availability", availJson(c.availability)},
        {"requests", c.stats.requests},
        {"attempts", c.stats.attempts},
        {"retries", c.stats.retries},
        {"retry_budget_exhausted", c.stats.retryBudgetExhausted},
        {"ejections", c.stats.ejections},
        {"errors_5xx", errors},
        {"responses", responses},
        {"rejected", {{"no_healthy_host", c.stats.noHealthyHost},
                      {"breaker_open", c.stats.breakerRejected},
                      {"overflow", c.stats.overflow}}},
        {"breaker", {{"state", breakerStateName(c.breaker)},
                     {"enabled", c.breakerEnabled},
                     {"failure_rate", c.breakerFailureRate},
                     {"opened", c.breakerOpened}}},
    };
  }
  j["clusters"] = std::move(clusters);
  return j.dump();
}

std::string renderClustersJson(const std::vector<Cluster::Snapshot>& cs) {
  nlohmann::json arr = nlohmann::json::array();
  for (auto& c : cs) {
    nlohmann::json eps = nlohmann::json::array();
    for (auto& h : c.hosts)
      eps.push_back({{"address", h.id}, {"origin", h.origin}, {"state", hostStateName(h.flags)},
                     {"active_requests", h.activeRequests}, {"requests", h.counters.requests},
                     {"failures", h.counters.failures}, {"ejections", h.counters.ejections},
                     {"ewma_ms", h.ewmaMs}, {"availability", availJson(h.availability)}});
    arr.push_back({{"name", c.name}, {"lb", lbPolicyName(c.lb)},
                   {"breaker", breakerStateName(c.breaker)}, {"endpoints", std::move(eps)}});
  }
  return arr.dump();
}

}  // namespace berth::mesh
