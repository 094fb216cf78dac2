#include "sdk/router.h"

namespace berth::sdk {

std::vector<std::string_view> splitPath(std::string_view path) {
  std::vector<std::string_view> out;
  if (!path.empty() && path[0] == '/') path.remove_prefix(1);
  size_t start = 0;
  for (;;) {
    size_t slash = path.find('/', start);
    if (slash == std::string_view::npos) {
      out.push_back(path.substr(start));
      return out;
    }
    out.push_back(path.substr(start, slash - start));
    start = slash + 1;
  }
}

size_t splitPathInto(std::string_view path, std::span<std::string_view> out) {
  if (!path.empty() && path[0] == '/') path.remove_prefix(1);
  size_t n = 0, start = 0;
  for (;;) {
    size_t slash = path.find('/', start);
    std::string_view seg =
        path.substr(start, slash == std::string_view::npos ? std::string_view::npos : slash - start);
    if (n == out.size()) return out.size() + 1;
    out[n++] = seg;
    if (slash == std::string_view::npos) return n;
    start = slash + 1;
  }
}

std::string percentDecode(std::string_view s) {
  auto hex = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size() && hex(s[i + 1]) >= 0 && hex(s[i + 2]) >= 0) {
      out += static_cast<char>(hex(s[i + 1]) * 16 + hex(s[i + 2]));
      i += 2;
    } else {
      out += s[i];
    }
  }
  return out;
}

bool parsePattern(std::string_view pattern, std::vector<std::string>& segments) {
  if (pattern.empty() || pattern[0] != '/') return false;
  segments.clear();
  for (std::string_view s : splitPath(pattern)) {
    size_t open = s.find('{'), close = s.find('}');
    if (open != std::string_view::npos || close != std::string_view::npos) {
      if (open != 0 || close != s.size() - 1 || s.size() < 3) return false;
    }
    segments.emplace_back(s);
  }
  return true;
}

bool matchSegments(const std::vector<std::string>& pattern,
                   std::span<const std::string_view> path, Params* params) {
  if (pattern.size() != path.size()) return false;
  for (size_t i = 0; i < pattern.size(); ++i) {
    const std::string& p = pattern[i];
    if (p.size() >= 3 && p.front() == '{' && p.back() == '}') {
      if (path[i].empty()) return false;
      if (params) params->emplace_back(p.substr(1, p.size() - 2), percentDecode(path[i]));
    } else if (p != path[i]) {
      return false;
    }
  }
  return true;
}

}  // namespace berth::sdk
