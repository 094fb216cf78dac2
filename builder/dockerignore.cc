#include "builder/dockerignore.h"

#include "common/fs.h"
#include "common/strings.h"

namespace berth::build {
namespace {

/// Match path parts [pi..] against pattern parts [qi..]; `**` eats zero or more parts.
bool matchParts(const std::vector<std::string>& pat, size_t qi,
                const std::vector<std::string>& path, size_t pi) {
  while (qi < pat.size()) {
    if (pat[qi] == "**") {
      for (size_t k = pi; k <= path.size(); ++k)
        if (matchParts(pat, qi + 1, path, k)) return true;
      return false;
    }
    if (pi >= path.size() || !globMatch(pat[qi], path[pi])) return false;
    ++qi;
    ++pi;
  }
  return pi == path.size();
}

}  // namespace

bool hasGlob(std::string_view s) { return s.find_first_of("*?[\\") != std::string_view::npos; }

bool globMatch(std::string_view p, std::string_view n) {
  size_t pi = 0, ni = 0;
  size_t starP = std::string_view::npos, starN = 0;
  while (ni < n.size()) {
    if (pi < p.size()) {
      char c = p[pi];
      if (c == '*') {
        starP = pi++;
        starN = ni;
        continue;
      }
      if (c == '?') {
        ++pi, ++ni;
        continue;
      }
      if (c == '[') {
        size_t j = pi + 1;
        bool negate = false;
        if (j < p.size() && (p[j] == '^' || p[j] == '!')) negate = true, ++j;
        bool matched = false, first = true;
        while (j < p.size() && (p[j] != ']' || first)) {
          first = false;
          char lo = p[j];
          if (lo == '\\' && j + 1 < p.size()) lo = p[++j];
          char hi = lo;
          if (j + 2 < p.size() && p[j + 1] == '-' && p[j + 2] != ']') {
            hi = p[j + 2];
            if (hi == '\\' && j + 3 < p.size()) hi = p[++j + 2];
            j += 2;
          }
          if (n[ni] >= lo && n[ni] <= hi) matched = true;
          ++j;
        }
        if (j < p.size() && matched != negate) {
          pi = j + 1, ++ni;
          continue;
        }
      } else {
        if (c == '\\' && pi + 1 < p.size()) c = p[++pi];
        if (c == n[ni]) {
          ++pi, ++ni;
          continue;
        }
      }
    }
    if (starP == std::string_view::npos) return false;
    pi = starP + 1;
    ni = ++starN;
  }
  while (pi < p.size() && p[pi] == '*') ++pi;
  return pi == p.size();
}

IgnoreMatcher IgnoreMatcher::parse(std::string_view text) {
  IgnoreMatcher m;
  for (auto& raw : str::split(text, '\n')) {
    std::string_view line = str::trim(raw);
    if (line.empty() || line[0] == '#') continue;
    Pattern p;
    if (line[0] == '!') {
      p.exception = true;
      line = str::trim(line.substr(1));
      if (line.empty()) continue;
    }
    std::string cleaned = fs::clean(line);
    while (!cleaned.empty() && cleaned[0] == '/') cleaned.erase(0, 1);
    if (cleaned.empty() || cleaned == ".") continue;
    p.parts = str::split(cleaned, '/');
    m.hasExceptions_ |= p.exception;
    m.patterns_.push_back(std::move(p));
  }
  return m;
}

bool IgnoreMatcher::excluded(std::string_view relPath) const {
  if (patterns_.empty()) return false;
  std::vector<std::string> parts = str::split(relPath, '/');
  bool result = false;
  for (const auto& p : patterns_) {
    // The pattern matches the path itself or one of its parent directories.
    bool hit = false;
    for (size_t len = parts.size(); len >= 1 && !hit; --len) {
      std::vector<std::string> prefix(parts.begin(), parts.begin() + len);
      hit = matchParts(p.parts, 0, prefix, 0);
    }
    if (hit) result = !p.exception;
  }
  return result;
}

}  // namespace berth::build
