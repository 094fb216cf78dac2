#include "mesh/trace.h"

namespace berth::mesh {

namespace {

bool isLowerHex(std::string_view s) {
  for (char c : s)
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  return true;
}

bool allZero(std::string_view s) { return s.find_first_not_of('0') == std::string_view::npos; }

std::string hex(Rng& rng, size_t bytes) {
  static const char* d = "0123456789abcdef";
  std::string s;
  s.reserve(bytes * 2);
  while (s.size() < bytes * 2) {
    uint64_t v = rng.next();
    for (int i = 0; i < 16 && s.size() < bytes * 2; ++i, v >>= 4) s += d[v & 15];
  }
  if (allZero(s)) s.back() = '1';
  return s;
}

}  // namespace

std::string TraceContext::header() const {
  static const char* d = "0123456789abcdef";
  std::string h = "00-" + traceId + "-" + spanId + "-";
  h += d[flags >> 4];
  h += d[flags & 15];
  return h;
}

std::optional<ParsedTraceparent> parseTraceparent(std::string_view v) {
  // version(2) - trace-id(32) - parent-id(16) - flags(2)
  if (v.size() < 55 || v[2] != '-' || v[35] != '-' || v[52] != '-') return std::nullopt;
  std::string_view ver = v.substr(0, 2), tid = v.substr(3, 32), pid = v.substr(36, 16),
                   fl = v.substr(53, 2);
  if (!isLowerHex(ver) || ver == "ff") return std::nullopt;
  if (ver == "00" && v.size() != 55) return std::nullopt;
  if (ver != "00" && v.size() > 55 && v[55] != '-') return std::nullopt;
  if (!isLowerHex(tid) || !isLowerHex(pid) || !isLowerHex(fl)) return std::nullopt;
  if (allZero(tid) || allZero(pid)) return std::nullopt;
  ParsedTraceparent p;
  p.traceId = std::string(tid);
  p.spanId = std::string(pid);
  auto nib = [](char c) { return c <= '9' ? c - '0' : c - 'a' + 10; };
  p.flags = static_cast<uint8_t>(nib(fl[0]) * 16 + nib(fl[1]));
  return p;
}

TraceContext continueTrace(std::string_view incoming, Rng& rng) {
  TraceContext t;
  if (auto p = parseTraceparent(incoming)) {
    t.traceId = p->traceId;
    t.parentId = p->spanId;
    t.flags = p->flags & 1;
  } else {
    t.traceId = hex(rng, 16);
    t.flags = 1;
  }
  t.spanId = hex(rng, 8);
  return t;
}

}  // namespace berth::mesh
