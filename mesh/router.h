#pragma once
/// Router: a listener's ordered routes, compiled. The first route whose host, path prefix and
/// header matches all hold wins; a route with a weighted split picks one of its clusters per
/// request. Each route owns its token bucket and retry budget. Immutable after build (except
/// the per-route bucket and budget, which have their own lock), so a config reload builds a
/// new Router and in-flight requests keep the old one alive.

#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/error.h"
#include "mesh/cluster.h"
#include "mesh/config.h"
#include "mesh/rate_limiter.h"
#include "mesh/retry.h"

namespace berth::mesh {

/// Header lookup for matching: value of the first field named `name` (lower case), or nullopt.
using HeaderLookup = std::function<std::optional<std::string_view>(std::string_view name)>;

struct Route {
  RouteConfig cfg;
  std::vector<std::shared_ptr<Cluster>> clusters;  ///< parallel to cfg.clusters
  uint64_t totalWeight = 0;
  std::unique_ptr<TokenBucket> bucket;  ///< null: no rate limit
  std::unique_ptr<RetryBudget> budget;
  std::mutex mu;  ///< guards bucket and budget

  /// Take a rate-limit token (true when unlimited).
  bool admit();
  /// Count a request toward the retry budget.
  void countRequest();
  /// Take a retry from the budget.
  bool allowRetry();
};

class Router {
 public:
  /// Build from a listener's routes; `clusters` maps names to live clusters.
  static Result<std::unique_ptr<Router>> build(
      const ListenerConfig& l, const std::map<std::string, std::shared_ptr<Cluster>>& clusters,
      const Clock& clock);

  /// First matching route, or nullptr. `host` is the Host header as received.
  Route* match(std::string_view host, std::string_view path, const HeaderLookup& headers) const;
  /// Pick the cluster for one request on `r` (weighted when split).
  static Cluster* pickCluster(Route& r, uint64_t random);

  const std::string& listenerName() const { return name_; }

 private:
  std::string name_;
  std::vector<std::unique_ptr<Route>> routes_;
};

/// Host header without the port, lower-cased ("Calc.Local:8080" -> "calc.local").
std::string normalizeHost(std::string_view host);
/// Does `pattern` ("" any, "*.x.y" suffix, else exact) match the normalized host?
bool hostMatches(std::string_view pattern, std::string_view host);

}  // namespace berth::mesh
