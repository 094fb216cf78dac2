#include "common/strings.h"

#include <sys/random.h>

#include <cctype>
#include <charconv>
#include <cmath>
#include <cstdlib>

namespace berth::str {

std::vector<std::string> split(std::string_view s, char sep) {
  std::vector<std::string> out;
  size_t i = 0;
  for (;;) {
    size_t j = s.find(sep, i);
    if (j == std::string_view::npos) {
      out.emplace_back(s.substr(i));
      return out;
    }
    out.emplace_back(s.substr(i, j - i));
    i = j + 1;
  }
}

std::pair<std::string, std::optional<std::string>> splitOnce(std::string_view s, char sep) {
  auto p = s.find(sep);
  if (p == std::string_view::npos) return {std::string(s), std::nullopt};
  return {std::string(s.substr(0, p)), std::string(s.substr(p + 1))};
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return s;
}

bool startsWith(std::string_view s, std::string_view p) { return s.substr(0, p.size()) == p; }
bool endsWith(std::string_view s, std::string_view p) {
  return s.size() >= p.size() && s.substr(s.size() - p.size()) == p;
}

std::string toLower(std::string_view s) {
  std::string o(s);
  for (auto& c : o) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return o;
}

std::optional<uint64_t> parseU64(std::string_view s) {
  if (s.empty()) return std::nullopt;
  uint64_t v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size()) return std::nullopt;
  return v;
}

std::optional<int64_t> parseI64(std::string_view s) {
  if (s.empty()) return std::nullopt;
  int64_t v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size()) return std::nullopt;
  return v;
}

std::optional<int64_t> parseBytes(std::string_view s) {
  s = trim(s);
  if (s.empty()) return std::nullopt;
  int64_t mult = 1;
  char last = static_cast<char>(std::tolower(static_cast<unsigned char>(s.back())));
  if (last == 'b' && s.size() > 1 &&
      std::isalpha(static_cast<unsigned char>(s[s.size() - 2]))) {
    s.remove_suffix(1);
    last = static_cast<char>(std::tolower(static_cast<unsigned char>(s.back())));
  }
  switch (last) {
    case 'b': mult = 1; s.remove_suffix(1); break;
    case 'k': mult = 1LL << 10; s.remove_suffix(1); break;
    case 'm': mult = 1LL << 20; s.remove_suffix(1); break;
    case 'g': mult = 1LL << 30; s.remove_suffix(1); break;
    case 't': mult = 1LL << 40; s.remove_suffix(1); break;
    default: break;
  }
  if (s.empty()) return std::nullopt;
  for (char c : s) {
    if (!std::isdigit(static_cast<unsigned char>(c)) && c != '.') return std::nullopt;
  }
  std::string num(s);
  char* end = nullptr;
  double v = std::strtod(num.c_str(), &end);
  if (!end || *end != '\0' || !std::isfinite(v) || v < 0) return std::nullopt;
  double bytes = v * static_cast<double>(mult);
  if (bytes > 9.0e18) return std::nullopt;
  return static_cast<int64_t>(bytes);
}

std::string randomHex(size_t bytes) {
  std::string raw(bytes, '\0');
  size_t got = 0;
  while (got < bytes) {
    ssize_t n = ::getrandom(raw.data() + got, bytes - got, 0);
    if (n > 0) got += static_cast<size_t>(n);
  }
  static const char* kHex = "0123456789abcdef";
  std::string out;
  out.reserve(bytes * 2);
  for (unsigned char c : raw) {
    out += kHex[c >> 4];
    out += kHex[c & 15];
  }
  return out;
}

}  // namespace berth::str
