#include "mesh/router.h"

#include <gtest/gtest.h>

#include <map>

namespace berth::mesh {
namespace {

using namespace std::chrono_literals;

struct Fixture {
  ManualClock clock;
  std::map<std::string, std::shared_ptr<Cluster>> clusters;
  std::unique_ptr<Router> router;
  explicit Fixture(const char* yaml) {
    auto cfg = parseConfig(yaml);
    EXPECT_TRUE(cfg) << cfg.error().message();
    for (auto& c : cfg->clusters) clusters[c.name] = std::make_shared<Cluster>(c, clock, 1);
    auto r = Router::build(cfg->listeners[0], clusters, clock);
    EXPECT_TRUE(r);
    router = std::move(*r);
  }
};

const char* kYaml = R"(
clusters: [{name: a}, {name: b}, {name: c}]
listeners:
  - address: 127.0.0.1:1
    routes:
      - {name: canary, match: {headers: {x-canary: "1"}}, cluster: c}
      - {name: api, match: {host: api.local, path_prefix: /v1}, cluster: a}
      - {name: wild, match: {host: "*.svc"}, cluster: b}
      - {name: split, match: {path_prefix: /split}, split: [{cluster: a, weight: 3}, {cluster: b, weight: 1}]}
      - {name: limited, match: {path_prefix: /limited}, cluster: a, rate_limit: {requests_per_second: 2, burst: 2}}
)";

HeaderLookup hdrs(std::map<std::string, std::string> m) {
  return [m](std::string_view n) -> std::optional<std::string_view> {
    auto it = m.find(std::string(n));
    if (it == m.end()) return std::nullopt;
    return std::string_view(it->second);
  };
}

TEST(Router, FirstMatchWins) {
  Fixture f(kYaml);
  auto none = hdrs({});
  EXPECT_EQ(f.router->match("API.local:8080", "/v1/x", none)->cfg.name, "api");
  EXPECT_EQ(f.router->match("api.local", "/v2", none), nullptr);
  EXPECT_EQ(f.router->match("x.svc", "/", none)->cfg.name, "wild");
  EXPECT_EQ(f.router->match("svc", "/", none), nullptr);  // "*.svc" needs a label
  EXPECT_EQ(f.router->match("api.local", "/v1", hdrs({{"x-canary", "1"}}))->cfg.name, "canary");
  EXPECT_EQ(f.router->match("api.local", "/v1", hdrs({{"x-canary", "0"}}))->cfg.name, "api");
}

TEST(Router, WeightedSplit) {
  Fixture f(kYaml);
  Route* r = f.router->match("h", "/split", hdrs({}));
  ASSERT_NE(r, nullptr);
  Rng rng(9);
  std::map<std::string, int> n;
  for (int i = 0; i < 4000; ++i) ++n[Router::pickCluster(*r, rng.next())->name()];
  EXPECT_NEAR(n["a"], 3000, 150);
  EXPECT_NEAR(n["b"], 1000, 150);
}

TEST(Router, RateLimitTokenBucket) {
  Fixture f(kYaml);
  Route* r = f.router->match("h", "/limited", hdrs({}));
  ASSERT_NE(r, nullptr);
  EXPECT_TRUE(r->admit());
  EXPECT_TRUE(r->admit());
  EXPECT_FALSE(r->admit());
  f.clock.advance(500ms);
  EXPECT_TRUE(r->admit());
  EXPECT_FALSE(r->admit());
  f.clock.advance(10s);  // refills only up to the burst
  EXPECT_TRUE(r->admit());
  EXPECT_TRUE(r->admit());
  EXPECT_FALSE(r->admit());
  Route* unl = f.router->match("h", "/split", hdrs({}));
  for (int i = 0; i < 100; ++i) EXPECT_TRUE(unl->admit());
}

TEST(Router, NormalizeHost) {
  EXPECT_EQ(normalizeHost("Example.COM:8080"), "example.com");
  EXPECT_EQ(normalizeHost("[::1]:80"), "[::1]");
  EXPECT_EQ(normalizeHost("plain"), "plain");
}

}  // namespace
}  // namespace berth::mesh
