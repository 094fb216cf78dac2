#include "telemetry/trace.h"

#include <sys/random.h>
#include <time.h>

#include <chrono>

#include "common/log.h"
#include "http/client.h"

namespace berth::telemetry {

namespace {

int hexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;  // uppercase is invalid in traceparent
}

template <size_t N>
bool parseHex(std::string_view s, std::array<uint8_t, N>& out) {
  if (s.size() != N * 2) return false;
  bool nonZero = false;
  for (size_t i = 0; i < N; ++i) {
    int hi = hexValue(s[2 * i]), lo = hexValue(s[2 * i + 1]);
    if (hi < 0 || lo < 0) return false;
    out[i] = static_cast<uint8_t>(hi * 16 + lo);
    nonZero |= out[i] != 0;
  }
  return nonZero;
}

/// xoshiro256** per thread, seeded from getrandom: ids need uniqueness, not secrecy.
uint64_t nextRandom() {
  thread_local uint64_t s[4] = {0, 0, 0, 0};
  thread_local bool seeded = false;
  if (!seeded) {
    if (::getrandom(s, sizeof s, 0) != sizeof s) {
      s[0] = static_cast<uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count());
      s[1] = reinterpret_cast<uintptr_t>(&seeded);
      s[2] = 0x9e3779b97f4a7c15ull;
      s[3] = 1;
    }
    seeded = true;
  }
  auto rotl = [](uint64_t x, int k) { return (x << k) | (x >> (64 - k)); };
  uint64_t result = rotl(s[1] * 5, 7) * 9;
  uint64_t t = s[1] << 17;
  s[2] ^= s[0];
  s[3] ^= s[1];
  s[1] ^= s[2];
  s[0] ^= s[3];
  s[2] ^= t;
  s[3] = rotl(s[3], 45);
  return result;
}

template <size_t N>
void fillRandom(std::array<uint8_t, N>& a) {
  do {
    for (size_t i = 0; i < N; i += 8) {
      uint64_t r = nextRandom();
      for (size_t j = 0; j < 8 && i + j < N; ++j) a[i + j] = static_cast<uint8_t>(r >> (8 * j));
    }
  } while (std::all_of(a.begin(), a.end(), [](uint8_t b) { return b == 0; }));
}

void appendJsonString(std::string& out, std::string_view s) {
  out += '"';
  out += log::jsonEscape(s);
  out += '"';
}

}  // namespace

std::string toHex(const uint8_t* data, size_t n) {
  static const char* kDigits = "0123456789abcdef";
  std::string out(n * 2, '0');
  for (size_t i = 0; i < n; ++i) {
    out[2 * i] = kDigits[data[i] >> 4];
    out[2 * i + 1] = kDigits[data[i] & 15];
  }
  return out;
}

std::optional<TraceContext> TraceContext::parse(std::string_view v) {
  // version "-" trace-id "-" parent-id "-" trace-flags; version 00 is exactly 55 chars,
  // future versions may append "-..." fields.
  if (v.size() < 55 || v[2] != '-' || v[35] != '-' || v[52] != '-') return std::nullopt;
  int vh = hexValue(v[0]), vl = hexValue(v[1]);
  if (vh < 0 || vl < 0) return std::nullopt;
  int version = vh * 16 + vl;
  if (version == 0xff) return std::nullopt;
  if (version == 0 && v.size() != 55) return std::nullopt;
  if (version != 0 && v.size() > 55 && v[55] != '-') return std::nullopt;
  TraceContext c;
  if (!parseHex(v.substr(3, 32), c.traceId)) return std::nullopt;
  if (!parseHex(v.substr(36, 16), c.spanId)) return std::nullopt;
  int fh = hexValue(v[53]), fl = hexValue(v[54]);
  if (fh < 0 || fl < 0) return std::nullopt;
  c.flags = static_cast<uint8_t>(fh * 16 + fl);
  return c;
}

std::string TraceContext::traceIdHex() const { return toHex(traceId.data(), traceId.size()); }
std::string TraceContext::spanIdHex() const { return toHex(spanId.data(), spanId.size()); }

std::string TraceContext::traceparent() const {
  std::string out = "00-";
  out += traceIdHex();
  out += '-';
  out += spanIdHex();
  out += '-';
  out += toHex(&flags, 1);
  return out;
}

TraceContext TraceContext::newRoot() {
  TraceContext c;
  fillRandom(c.traceId);
  fillRandom(c.spanId);
  c.flags = 1;
  return c;
}

TraceContext TraceContext::child() const {
  TraceContext c = *this;
  fillRandom(c.spanId);
  return c;
}

uint64_t unixNanos() {
  struct timespec ts;
  ::clock_gettime(CLOCK_REALTIME, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1000000000ull + static_cast<uint64_t>(ts.tv_nsec);
}

std::string otlpTracesJson(const std::vector<Span>& spans, std::string_view serviceName) {
  std::string out;
  out.reserve(256 + spans.size() * 400);
  out += R"({"resourceSpans":[{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":)";
  appendJsonString(out, serviceName);
  out += R"(}}]},"scopeSpans":[{"scope":{"name":"berth.sdk"},"spans":[)";
  bool first = true;
  for (const Span& s : spans) {
    if (!first) out += ',';
    first = false;
    out += R"({"traceId":")";
    out += s.context.traceIdHex();
    out += R"(","spanId":")";
    out += s.context.spanIdHex();
    out += '"';
    if (s.parentSpanId) {
      out += R"(,"parentSpanId":")";
      out += toHex(s.parentSpanId->data(), 8);
      out += '"';
    }
    out += R"(,"name":)";
    appendJsonString(out, s.name);
    out += R"(,"kind":)";
    out += std::to_string(s.kind);
    out += R"(,"startTimeUnixNano":")";
    out += std::to_string(s.startUnixNano);
    out += R"(","endTimeUnixNano":")";
    out += std::to_string(s.endUnixNano);
    out += R"(","attributes":[)";
    bool firstAttr = true;
    for (const auto& [k, v] : s.stringAttributes) {
      if (!firstAttr) out += ',';
      firstAttr = false;
      out += R"({"key":)";
      appendJsonString(out, k);
      out += R"(,"value":{"stringValue":)";
      appendJsonString(out, v);
      out += "}}";
    }
    for (const auto& [k, v] : s.intAttributes) {
      if (!firstAttr) out += ',';
      firstAttr = false;
      out += R"({"key":)";
      appendJsonString(out, k);
      out += R"(,"value":{"intValue":")";
      out += std::to_string(v);
      out += R"("}})";
    }
    out += R"(],"status":{"code":)";
    out += s.error ? "2" : "0";
    out += "}}";
  }
  out += "]}]}]}";
  return out;
}

OtlpHttpExporter::OtlpHttpExporter(std::string endpoint, std::string serviceName)
    : url_(std::move(endpoint)), service_(std::move(serviceName)) {
  while (!url_.empty() && url_.back() == '/') url_.pop_back();
  if (url_.size() < 10 || url_.compare(url_.size() - 10, 10, "/v1/traces") != 0) url_ += "/v1/traces";
  thread_ = std::thread([this] { loop(); });
}

OtlpHttpExporter::~OtlpHttpExporter() { shutdown(); }

void OtlpHttpExporter::submit(Span span) {
  std::lock_guard<std::mutex> lock(mu_);
  if (stopping_ || queue_.size() >= 2048) {
    ++dropped_;
    return;
  }
  queue_.push_back(std::move(span));
  if (queue_.size() >= 256) cv_.notify_one();
}

void OtlpHttpExporter::shutdown() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopping_ && !thread_.joinable()) return;
    stopping_ = true;
  }
  cv_.notify_one();
  if (thread_.joinable()) thread_.join();
}

void OtlpHttpExporter::loop() {
  bool warned = false;
  for (;;) {
    std::vector<Span> batch;
    bool stop = false;
    {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait_for(lock, std::chrono::seconds(1), [this] { return stopping_ || queue_.size() >= 256; });
      while (!queue_.empty() && batch.size() < 512) {
        batch.push_back(std::move(queue_.front()));
        queue_.pop_front();
      }
      stop = stopping_ && queue_.empty();
    }
    if (!batch.empty()) {
      http::Request req;
      req.method = "POST";
      req.headers.add("Content-Type", "application/json");
      req.body = otlpTracesJson(batch, service_);
      auto r = http::fetch(url_, std::move(req), std::chrono::milliseconds(5000));
      std::lock_guard<std::mutex> lock(mu_);
      if (r && r->status / 100 == 2) {
        exported_ += batch.size();
      } else {
        dropped_ += batch.size();
        if (!warned) {
          log::warn("otlp export to " + url_ + " failed: " +
                    (r ? "HTTP " + std::to_string(r->status) : r.error().message()));
          warned = true;
        }
      }
    }
    if (stop) return;
  }
}

}  // namespace berth::telemetry
