// The admin API, served on loopback only (config validation refuses other addresses):
//   GET    /metrics                                  Prometheus text
//   GET    /stats                                    latency, throughput, availability (JSON)
//   GET    /clusters                                 clusters and endpoint states (JSON)
//   GET    /ready                                    200 once serving
//   POST   /clusters/<name>/endpoints                body {"address": "ip:port"} -> add
//   POST   /clusters/<name>/endpoints/<ip:port>/drain   stop new requests to it
//   DELETE /clusters/<name>/endpoints/<ip:port>      remove it
//   POST   /reload                                   re-read the config file

#include <nlohmann/json.hpp>

#include "common/strings.h"
#include "mesh/proxy_impl.h"

namespace berth::mesh {

namespace {

http::Response jsonError(int status, const std::string& msg) {
  nlohmann::json j = {{"error", msg}};
  return http::Response::json(status, j.dump());
}

http::Response fromError(const Error& e) {
  int status = e.is(ErrorCode::kNotFound) ? 404 : e.is(ErrorCode::kAlreadyExists) ? 409 : 400;
  return jsonError(status, e.message());
}

}  // namespace

std::vector<Cluster::Snapshot> Proxy::Impl::snapshots() const {
  auto st = load();
  std::vector<Cluster::Snapshot> out;
  out.reserve(st->clusters.size());
  for (auto& cc : st->cfg.clusters) out.push_back(st->clusters.at(cc.name)->snapshot());
  return out;
}

ProxyCounters Proxy::Impl::proxyCounters() const {
  ProxyCounters p;
  p.downstreamRequests = counters.downstream.load();
  p.noRoute = counters.noRoute.load();
  p.rateLimited = counters.rateLimited.load();
  p.configReloads = counters.reloads.load();
  p.configReloadFailures = counters.reloadFailures.load();
  // Listener servers answer malformed requests themselves; they count them.
  auto* self = const_cast<Proxy::Impl*>(this);
  std::unique_lock lk(self->applyMu, std::try_to_lock);
  if (lk.owns_lock())
    for (auto& l : listeners) p.badRequests += l.server->stats().rejected;
  return p;
}

http::Response Proxy::Impl::adminHandle(http::Request& req) {
  std::string_view path = req.path();
  const std::string& m = req.method;
  if (m == "GET" && path == "/metrics") {
    http::Response r(200, renderPrometheus(snapshots(), proxyCounters()),
                     "text/plain; version=0.0.4; charset=utf-8");
    return r;
  }
  if (m == "GET" && path == "/stats") return http::Response::json(200, renderStatsJson(snapshots(), proxyCounters()));
  if (m == "GET" && path == "/clusters") return http::Response::json(200, renderClustersJson(snapshots()));
  if (m == "GET" && (path == "/ready" || path == "/healthz")) return http::Response(200, "ok\n");
  if (m == "POST" && path == "/reload") {
    auto r = reloadFile();
    if (!r) return jsonError(r.error().is(ErrorCode::kFailedPrecondition) ? 409 : 400, r.error().message());
    return http::Response::json(200, "{\"reloaded\":true}");
  }
  if (str::startsWith(path, "/clusters/")) {
    auto parts = str::split(path.substr(1), '/');  // clusters, name, endpoints, [addr], [drain]
    if (parts.size() < 3 || parts[2] != "endpoints") return jsonError(404, "no such admin path");
    auto st = load();
    auto it = st->clusters.find(parts[1]);
    if (it == st->clusters.end()) return jsonError(404, "no cluster '" + parts[1] + "'");
    Cluster& c = *it->second;
    if (parts.size() == 3 && m == "POST") {
      std::string addr;
      try {
        auto j = nlohmann::json::parse(req.body);
        addr = j.at("address").get<std::string>();
      } catch (const std::exception&) {
        return jsonError(400, "body must be {\"address\": \"ip:port\"}");
      }
      auto hp = parseHostPort(addr);
      if (!hp) return fromError(hp.error());
      auto r = c.addHost(*hp, "admin");
      if (!r) return fromError(r.error());
      return http::Response::json(201, nlohmann::json({{"added", hp->str()}}).dump());
    }
    if (parts.size() == 4 && m == "DELETE") {
      auto r = c.removeHost(parts[3]);
      if (!r) return fromError(r.error());
      return http::Response::json(200, nlohmann::json({{"removed", parts[3]}}).dump());
    }
    if (parts.size() == 5 && parts[4] == "drain" && m == "POST") {
      auto r = c.drainHost(parts[3]);
      if (!r) return fromError(r.error());
      return http::Response::json(200, nlohmann::json({{"draining", parts[3]}}).dump());
    }
    return jsonError(405, "method not allowed here");
  }
  return jsonError(404, "no such admin path");
}

}  // namespace berth::mesh
