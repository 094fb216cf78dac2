#pragma once
/// Prometheus metrics: counters, gauges and histograms with labels, a registry, and the text
/// exposition format (version 0.0.4) that Prometheus scrapes. Updating a metric is lock-free
/// (atomics); looking up a labelled child takes a mutex, so hot paths keep the reference that
/// `with()` returns (children are never removed and their addresses are stable).

#include <atomic>
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

namespace berth::telemetry {

namespace detail {
/// Counters and histograms are striped: each thread updates its own cache line (stripes are
/// handed out round-robin at a thread's first update), and reads add the stripes up. Server
/// workers therefore never write the same cache line for a shared metric; a scrape pays the
/// sum instead.
inline constexpr size_t kStripes = 8;
size_t stripe();
struct alignas(64) PaddedDouble {
  std::atomic<double> v{0};
};
struct alignas(64) CacheLine {
  std::atomic<uint64_t> v[8];
};
}  // namespace detail

class Counter {
 public:
  void inc(double v = 1) { s_[detail::stripe()].v.fetch_add(v, std::memory_order_relaxed); }
  double value() const;

 private:
  detail::PaddedDouble s_[detail::kStripes];
};

class Gauge {
 public:
  void set(double v) { value_.store(v, std::memory_order_relaxed); }
  void inc(double v = 1) { value_.fetch_add(v, std::memory_order_relaxed); }
  void dec(double v = 1) { value_.fetch_sub(v, std::memory_order_relaxed); }
  double value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> value_{0};
};

/// Cumulative histogram with fixed upper bounds (ascending, +Inf implied).
class Histogram {
 public:
  explicit Histogram(std::vector<double> bounds);
  void observe(double v);
  const std::vector<double>& bounds() const { return bounds_; }
  /// Per-bucket (non-cumulative) counts; size bounds()+1 (the last is +Inf).
  std::vector<uint64_t> counts() const;
  double sum() const;
  uint64_t count() const;

 private:
  std::atomic<uint64_t>& cell(size_t stripe, size_t i) const {
    return lines_[stripe * linesPerStripe_ + i / 8].v[i % 8];
  }
  std::vector<double> bounds_;
  size_t linesPerStripe_ = 0;                    // per stripe: the buckets, then the count
  std::unique_ptr<detail::CacheLine[]> lines_;
  detail::PaddedDouble sum_[detail::kStripes];
};

/// Default latency buckets in seconds (0.1 ms to 10 s).
std::vector<double> defaultLatencyBuckets();

/// A metric name with label names; children per label-value tuple.
template <typename T>
class Family {
 public:
  Family(std::string name, std::string help, std::vector<std::string> labelNames,
         std::function<std::unique_ptr<T>()> make)
      : name_(std::move(name)), help_(std::move(help)), labels_(std::move(labelNames)),
        make_(std::move(make)) {}
  /// The child for these label values (in labelNames order); created on first use.
  /// A wrong number of values is a programming error: missing ones are taken as "".
  T& with(std::initializer_list<std::string_view> values);
  T& with(const std::vector<std::string>& values);
  const std::string& name() const { return name_; }
  const std::string& help() const { return help_; }
  const std::vector<std::string>& labelNames() const { return labels_; }
  /// Visit every child with its label values (under the family's lock).
  template <typename F>
  void forEach(F&& f) const {
    std::lock_guard<std::mutex> lock(mu_);
    for (const auto& [values, child] : children_) f(values, *child);
  }

 private:
  std::string name_, help_;
  std::vector<std::string> labels_;
  std::function<std::unique_ptr<T>()> make_;
  mutable std::mutex mu_;
  std::map<std::vector<std::string>, std::unique_ptr<T>> children_;
};

using CounterFamily = Family<Counter>;
using GaugeFamily = Family<Gauge>;
using HistogramFamily = Family<Histogram>;

/// Owns metric families and renders them. Thread-safe.
class Registry {
 public:
  /// Register (or return the already registered) family. Names must match
  /// [a-zA-Z_:][a-zA-Z0-9_:]*; counters should end in _total.
  CounterFamily& counter(const std::string& name, const std::string& help,
                         std::vector<std::string> labelNames = {});
  GaugeFamily& gauge(const std::string& name, const std::string& help,
                     std::vector<std::string> labelNames = {});
  HistogramFamily& histogram(const std::string& name, const std::string& help,
                             std::vector<std::string> labelNames = {},
                             std::vector<double> bounds = defaultLatencyBuckets());
  /// A gauge (or counter, with isCounter) whose value is computed at scrape time.
  void callback(const std::string& name, const std::string& help, std::function<double()> fn,
                bool isCounter = false);
  /// Everything in the Prometheus text format, families in registration order.
  std::string expose() const;

 private:
  struct Entry {
    enum Kind { kCounter, kGauge, kHistogram, kCallback } kind;
    std::unique_ptr<CounterFamily> counter;
    std::unique_ptr<GaugeFamily> gauge;
    std::unique_ptr<HistogramFamily> histogram;
    std::string name, help;
    std::function<double()> fn;
    bool callbackIsCounter = false;
  };
  Entry* find(const std::string& name);
  mutable std::mutex mu_;
  std::vector<std::unique_ptr<Entry>> entries_;
};

/// Adds process_cpu_seconds_total, process_resident_memory_bytes,
/// process_virtual_memory_bytes, process_open_fds, process_start_time_seconds (from /proc).
void registerProcessMetrics(Registry& registry);

/// Escape a label value for the text format (\\, \", \n).
std::string escapeLabelValue(std::string_view v);
/// Format a sample value the way Prometheus does (+Inf, -Inf, NaN, shortest round-trip).
std::string formatValue(double v);

}  // namespace berth::telemetry
