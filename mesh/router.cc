#include "mesh/router.h"

#include "common/strings.h"

namespace berth::mesh {

bool Route::admit() {
  if (!bucket) return true;
  std::lock_guard lk(mu);
  return bucket->tryTake();
}

void Route::countRequest() {
  std::lock_guard lk(mu);
  budget->onRequest();
}

bool Route::allowRetry() {
  std::lock_guard lk(mu);
  return budget->tryRetry();
}

std::string normalizeHost(std::string_view host) {
  if (!host.empty() && host.front() == '[') {
    auto close = host.find(']');
    if (close != std::string_view::npos) host = host.substr(0, close + 1);
  } else if (auto colon = host.rfind(':'); colon != std::string_view::npos) {
    host = host.substr(0, colon);
  }
  return str::toLower(host);
}

bool hostMatches(std::string_view pattern, std::string_view host) {
  if (pattern.empty() || pattern == "*") return true;
  if (pattern.size() > 1 && pattern[0] == '*' && pattern[1] == '.')
    return host.size() > pattern.size() - 1 && str::endsWith(host, pattern.substr(1));
  return pattern == host;
}

Result<std::unique_ptr<Router>> Router::build(
    const ListenerConfig& l, const std::map<std::string, std::shared_ptr<Cluster>>& clusters,
    const Clock& clock) {
  auto r = std::make_unique<Router>();
  r->name_ = l.name;
  for (auto& rc : l.routes) {
    auto route = std::make_unique<Route>();
    route->cfg = rc;
    for (auto& wc : rc.clusters) {
      auto it = clusters.find(wc.cluster);
      if (it == clusters.end())
        return fail(ErrorCode::kInvalidArgument,
                    "route " + rc.name + ": unknown cluster '" + wc.cluster + "'");
      route->clusters.push_back(it->second);
      route->totalWeight += wc.weight;
    }
    if (rc.rateLimit.tokensPerSecond > 0)
      route->bucket = std::make_unique<TokenBucket>(rc.rateLimit.tokensPerSecond,
                                                    rc.rateLimit.burst, clock);
    route->budget = std::make_unique<RetryBudget>(rc.retry.budgetPercent,
                                                  rc.retry.budgetMinPerSecond,
                                                  rc.retry.budgetWindow, clock);
    r->routes_.push_back(std::move(route));
  }
  return r;
}

Route* Router::match(std::string_view host, std::string_view path,
                     const HeaderLookup& headers) const {
  std::string h = normalizeHost(host);
  for (auto& rp : routes_) {
    Route& r = *rp;
    if (!hostMatches(r.cfg.host, h)) continue;
    if (!str::startsWith(path, r.cfg.pathPrefix)) continue;
    bool ok = true;
    for (auto& hm : r.cfg.headers) {
      auto v = headers ? headers(hm.name) : std::nullopt;
      if (!v || (hm.exact && *v != *hm.exact)) {
        ok = false;
        break;
      }
    }
    if (ok) return &r;
  }
  return nullptr;
}

Cluster* Router::pickCluster(Route& r, uint64_t random) {
  if (r.clusters.size() == 1) return r.clusters[0].get();
  uint64_t x = random % r.totalWeight;
  for (size_t i = 0; i < r.clusters.size(); ++i) {
    if (x < r.cfg.clusters[i].weight) return r.clusters[i].get();
    x -= r.cfg.clusters[i].weight;
  }
  return r.clusters.back().get();
}

}  // namespace berth::mesh
