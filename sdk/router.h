#pragma once
/// Method + path routing with parameters: "/users/{id}/orders/{order}". Segments match
/// exactly or bind a parameter (one whole segment, percent-decoded). A path that matches some
/// route but not with this method gives 405 with the allowed methods; no match gives 404.
/// HEAD is served by the GET route when there is no HEAD route.

#include <array>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace berth::sdk {

using Params = std::vector<std::pair<std::string, std::string>>;

template <typename Target>
class Router {
 public:
  struct Route {
    std::string method;
    std::string pattern;
    std::vector<std::string> segments;  // "{name}" for parameters
    Target target;
  };

  struct Match {
    int status = 404;      ///< 200 (found), 404, 405
    Route* route = nullptr;
    Params params;
    std::string allow;     ///< for 405: "GET, HEAD, POST"
  };

  /// Add a route. Returns false if the pattern is malformed (must start with '/';
  /// parameters must be whole segments "{name}").
  bool add(std::string method, std::string pattern, Target target);
  Match match(std::string_view method, std::string_view path);
  const std::vector<std::unique_ptr<Route>>& routes() const { return routes_; }

 private:
  std::vector<std::unique_ptr<Route>> routes_;
};

/// Split "/a/b/" into {"a","b",""}; "/" gives {""}.
std::vector<std::string_view> splitPath(std::string_view path);
/// splitPath into `out` without allocating; returns the segment count, or out.size() + 1 if
/// there are more segments than fit.
size_t splitPathInto(std::string_view path, std::span<std::string_view> out);
/// Percent-decode a path segment; invalid escapes are kept as they are.
std::string percentDecode(std::string_view s);
/// Match one route's segments; fills params on success.
bool matchSegments(const std::vector<std::string>& pattern,
                   std::span<const std::string_view> path, Params* params);
/// Validate and split a pattern.
bool parsePattern(std::string_view pattern, std::vector<std::string>& segments);

template <typename Target>
bool Router<Target>::add(std::string method, std::string pattern, Target target) {
  auto r = std::make_unique<Route>();
  if (!parsePattern(pattern, r->segments)) return false;
  r->method = std::move(method);
  r->pattern = std::move(pattern);
  r->target = std::move(target);
  routes_.push_back(std::move(r));
  return true;
}

template <typename Target>
typename Router<Target>::Match Router<Target>::match(std::string_view method,
                                                     std::string_view path) {
  Match m;
  // The common case (a short path) is split on the stack: matching allocates nothing.
  std::array<std::string_view, 32> inline_;
  std::vector<std::string_view> many;
  std::span<const std::string_view> segs;
  size_t n = splitPathInto(path, inline_);
  if (n <= inline_.size()) {
    segs = std::span<const std::string_view>(inline_.data(), n);
  } else {
    many = splitPath(path);
    segs = many;
  }
  Route* getRoute = nullptr;
  std::vector<std::string_view> allowed;
  for (auto& r : routes_) {
    if (!matchSegments(r->segments, segs, nullptr)) continue;
    if (r->method == method) {
      m.status = 200;
      m.route = r.get();
      matchSegments(r->segments, segs, &m.params);
      return m;
    }
    if (r->method == "GET" && method == "HEAD") getRoute = r.get();
    bool seen = false;
    for (auto& a : allowed) seen |= a == r->method;
    if (!seen) allowed.push_back(r->method);
  }
  if (getRoute) {
    m.status = 200;
    m.route = getRoute;
    matchSegments(getRoute->segments, segs, &m.params);
    return m;
  }
  if (!allowed.empty()) {
    m.status = 405;
    bool hasGet = false, hasHead = false;
    for (auto& a : allowed) {
      hasGet |= a == "GET";
      hasHead |= a == "HEAD";
    }
    if (hasGet && !hasHead) allowed.push_back("HEAD");
    for (size_t i = 0; i < allowed.size(); ++i) {
      if (i) m.allow += ", ";
      m.allow += allowed[i];
    }
  }
  return m;
}

}  // namespace berth::sdk
