#pragma once
/// W3C Trace Context (traceparent) and spans exported as OTLP/HTTP JSON.
///
/// A service continues the caller's trace when the request carries a valid `traceparent`
/// (version 00 rules of https://www.w3.org/TR/trace-context/), or starts a new one. Spans go to
/// an exporter; `OtlpHttpExporter` batches them on a background thread and POSTs
/// `{"resourceSpans": ...}` to `<endpoint>/v1/traces` (OTLP/HTTP with JSON encoding).

#include <array>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

namespace berth::telemetry {

struct TraceContext {
  std::array<uint8_t, 16> traceId{};
  std::array<uint8_t, 8> spanId{};
  uint8_t flags = 1;  ///< bit 0: sampled

  bool sampled() const { return flags & 1; }
  /// Parse a traceparent header; nullopt when invalid (then start a new trace).
  static std::optional<TraceContext> parse(std::string_view traceparent);
  /// "00-<trace-id>-<span-id>-<flags>"
  std::string traceparent() const;
  std::string traceIdHex() const;
  std::string spanIdHex() const;
  /// A new trace with a random trace id and span id, sampled.
  static TraceContext newRoot();
  /// Same trace and flags, new random span id.
  TraceContext child() const;
};

/// Lowercase hex of bytes.
std::string toHex(const uint8_t* data, size_t n);

struct Span {
  std::string name;
  TraceContext context;
  std::optional<std::array<uint8_t, 8>> parentSpanId;
  int kind = 2;  ///< OTLP SpanKind: 1 internal, 2 server, 3 client
  uint64_t startUnixNano = 0, endUnixNano = 0;
  std::vector<std::pair<std::string, std::string>> stringAttributes;
  std::vector<std::pair<std::string, int64_t>> intAttributes;
  bool error = false;  ///< status code ERROR (2) rather than UNSET (0)
};

/// Nanoseconds since the Unix epoch (CLOCK_REALTIME).
uint64_t unixNanos();

/// OTLP/JSON body for spans of one service.
std::string otlpTracesJson(const std::vector<Span>& spans, std::string_view serviceName);

/// Receives finished spans. Thread-safe.
class SpanExporter {
 public:
  virtual ~SpanExporter() = default;
  virtual void submit(Span span) = 0;
  /// Send what is queued and stop; later submits are dropped.
  virtual void shutdown() = 0;
};

/// Batches spans and POSTs them as OTLP/HTTP JSON on a background thread. A full queue
/// (2048 spans) drops new spans rather than slow the service; failed POSTs are dropped too.
class OtlpHttpExporter final : public SpanExporter {
 public:
  /// `endpoint` as in OTEL_EXPORTER_OTLP_ENDPOINT ("http://collector:4318"); "/v1/traces" is
  /// appended unless the URL already ends with it.
  OtlpHttpExporter(std::string endpoint, std::string serviceName);
  ~OtlpHttpExporter() override;
  void submit(Span span) override;
  void shutdown() override;
  uint64_t exported() const { return exported_; }
  uint64_t dropped() const { return dropped_; }

 private:
  void loop();
  std::string url_, service_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Span> queue_;
  bool stopping_ = false;
  uint64_t exported_ = 0, dropped_ = 0;
  std::thread thread_;
};

}  // namespace berth::telemetry
