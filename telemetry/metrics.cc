#include "telemetry/metrics.h"

#include <dirent.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <fstream>

namespace berth::telemetry {

size_t detail::stripe() {
  static std::atomic<size_t> next{0};
  thread_local size_t mine = next.fetch_add(1, std::memory_order_relaxed) % kStripes;
  return mine;
}

double Counter::value() const {
  double total = 0;
  for (const auto& s : s_) total += s.v.load(std::memory_order_relaxed);
  return total;
}

Histogram::Histogram(std::vector<double> bounds) : bounds_(std::move(bounds)) {
  std::sort(bounds_.begin(), bounds_.end());
  linesPerStripe_ = (bounds_.size() + 2 + 7) / 8;
  lines_.reset(new detail::CacheLine[linesPerStripe_ * detail::kStripes]);
  for (size_t l = 0; l < linesPerStripe_ * detail::kStripes; ++l) {
    for (auto& c : lines_[l].v) c.store(0, std::memory_order_relaxed);
  }
}

void Histogram::observe(double v) {
  size_t i = static_cast<size_t>(std::lower_bound(bounds_.begin(), bounds_.end(), v) - bounds_.begin());
  size_t s = detail::stripe();
  cell(s, i).fetch_add(1, std::memory_order_relaxed);
  cell(s, bounds_.size() + 1).fetch_add(1, std::memory_order_relaxed);
  sum_[s].v.fetch_add(v, std::memory_order_relaxed);
}

std::vector<uint64_t> Histogram::counts() const {
  std::vector<uint64_t> out(bounds_.size() + 1, 0);
  for (size_t s = 0; s < detail::kStripes; ++s) {
    for (size_t i = 0; i <= bounds_.size(); ++i) out[i] += cell(s, i).load(std::memory_order_relaxed);
  }
  return out;
}

double Histogram::sum() const {
  double total = 0;
  for (const auto& s : sum_) total += s.v.load(std::memory_order_relaxed);
  return total;
}

uint64_t Histogram::count() const {
  uint64_t total = 0;
  for (size_t s = 0; s < detail::kStripes; ++s) total += cell(s, bounds_.size() + 1).load(std::memory_order_relaxed);
  return total;
}

std::vector<double> defaultLatencyBuckets() {
  return {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1,
          2.5,    5,       10};
}

template <typename T>
T& Family<T>::with(std::initializer_list<std::string_view> values) {
  std::vector<std::string> key;
  key.reserve(labels_.size());
  for (std::string_view v : values) key.emplace_back(v);
  return with(key);
}

template <typename T>
T& Family<T>::with(const std::vector<std::string>& values) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = children_.find(values);
  if (it != children_.end()) return *it->second;
  std::vector<std::string> key = values;
  key.resize(labels_.size());
  auto& slot = children_[key];
  if (!slot) slot = make_();
  return *slot;
}

template class Family<Counter>;
template class Family<Gauge>;
template class Family<Histogram>;

Registry::Entry* Registry::find(const std::string& name) {
  for (auto& e : entries_) {
    if (e->name == name) return e.get();
  }
  return nullptr;
}

CounterFamily& Registry::counter(const std::string& name, const std::string& help,
                                 std::vector<std::string> labelNames) {
  std::lock_guard<std::mutex> lock(mu_);
  if (Entry* e = find(name); e && e->counter) return *e->counter;
  auto e = std::make_unique<Entry>();
  e->kind = Entry::kCounter;
  e->name = name;
  e->counter = std::make_unique<CounterFamily>(name, help, std::move(labelNames),
                                               [] { return std::make_unique<Counter>(); });
  entries_.push_back(std::move(e));
  return *entries_.back()->counter;
}

GaugeFamily& Registry::gauge(const std::string& name, const std::string& help,
                             std::vector<std::string> labelNames) {
  std::lock_guard<std::mutex> lock(mu_);
  if (Entry* e = find(name); e && e->gauge) return *e->gauge;
  auto e = std::make_unique<Entry>();
  e->kind = Entry::kGauge;
  e->name = name;
  e->gauge = std::make_unique<GaugeFamily>(name, help, std::move(labelNames),
                                           [] { return std::make_unique<Gauge>(); });
  entries_.push_back(std::move(e));
  return *entries_.back()->gauge;
}

HistogramFamily& Registry::histogram(const std::string& name, const std::string& help,
                                     std::vector<std::string> labelNames,
                                     std::vector<double> bounds) {
  std::lock_guard<std::mutex> lock(mu_);
  if (Entry* e = find(name); e && e->histogram) return *e->histogram;
  auto e = std::make_unique<Entry>();
  e->kind = Entry::kHistogram;
  e->name = name;
  e->histogram = std::make_unique<HistogramFamily>(
      name, help, std::move(labelNames),
      [bounds] { return std::make_unique<Histogram>(bounds); });
  entries_.push_back(std::move(e));
  return *entries_.back()->histogram;
}

void Registry::callback(const std::string& name, const std::string& help,
                        std::function<double()> fn, bool isCounter) {
  std::lock_guard<std::mutex> lock(mu_);
  if (find(name)) return;
  auto e = std::make_unique<Entry>();
  e->kind = Entry::kCallback;
  e->name = name;
  e->help = help;
  e->fn = std::move(fn);
  e->callbackIsCounter = isCounter;
  entries_.push_back(std::move(e));
}

std::string escapeLabelValue(std::string_view v) {
  std::string out;
  out.reserve(v.size());
  for (char c : v) {
    if (c == '\\') out += "\\\\";
    else if (c == '"') out += "\\\"";
    else if (c == '\n') out += "\\n";
    else out += c;
  }
  return out;
}

std::string formatValue(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  if (v == std::floor(v) && std::fabs(v) < 1e15) {
    char buf[32];
    auto [p, ec] = std::to_chars(buf, buf + sizeof buf, static_cast<int64_t>(v));
    return std::string(buf, p);
  }
  char buf[400];
  double a = std::fabs(v);
  // Fixed notation where it stays short ("0.0001", not "1e-04"), as Prometheus prints.
  auto [p, ec] = (a >= 1e-9 && a < 1e15) ? std::to_chars(buf, buf + sizeof buf, v, std::chars_format::fixed)
                                          : std::to_chars(buf, buf + sizeof buf, v);
  return std::string(buf, p);
}

namespace {

std::string escapeHelp(std::string_view v) {
  std::string out;
  for (char c : v) {
    if (c == '\\') out += "\\\\";
    else if (c == '\n') out += "\\n";
    else out += c;
  }
  return out;
}

void appendLabels(std::string& out, const std::vector<std::string>& names,
                  const std::vector<std::string>& values, std::string_view extraName = {},
                  std::string_view extraValue = {}) {
  if (names.empty() && extraName.empty()) return;
  out += '{';
  bool first = true;
  for (size_t i = 0; i < names.size(); ++i) {
    if (!first) out += ',';
    first = false;
    out += names[i];
    out += "=\"";
    out += escapeLabelValue(i < values.size() ? values[i] : std::string());
    out += '"';
  }
  if (!extraName.empty()) {
    if (!first) out += ',';
    out += extraName;
    out += "=\"";
    out += extraValue;
    out += '"';
  }
  out += '}';
}

void header(std::string& out, const std::string& name, const std::string& help, const char* type) {
  out += "# HELP ";
  out += name;
  out += ' ';
  out += escapeHelp(help);
  out += "\n# TYPE ";
  out += name;
  out += ' ';
  out += type;
  out += '\n';
}

}  // namespace

std::string Registry::expose() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::string out;
  out.reserve(4096);
  for (const auto& e : entries_) {
    switch (e->kind) {
      case Entry::kCounter:
        header(out, e->counter->name(), e->counter->help(), "counter");
        e->counter->forEach([&](const std::vector<std::string>& values, const Counter& c) {
          out += e->counter->name();
          appendLabels(out, e->counter->labelNames(), values);
          out += ' ';
          out += formatValue(c.value());
          out += '\n';
        });
        break;
      case Entry::kGauge:
        header(out, e->gauge->name(), e->gauge->help(), "gauge");
        e->gauge->forEach([&](const std::vector<std::string>& values, const Gauge& g) {
          out += e->gauge->name();
          appendLabels(out, e->gauge->labelNames(), values);
          out += ' ';
          out += formatValue(g.value());
          out += '\n';
        });
        break;
      case Entry::kHistogram: {
        const HistogramFamily& f = *e->histogram;
        header(out, f.name(), f.help(), "histogram");
        f.forEach([&](const std::vector<std::string>& values, const Histogram& h) {
          std::vector<uint64_t> counts = h.counts();
          uint64_t cumulative = 0;
          for (size_t i = 0; i <= h.bounds().size(); ++i) {
            cumulative += counts[i];
            out += f.name();
            out += "_bucket";
            std::string le = i < h.bounds().size() ? formatValue(h.bounds()[i]) : "+Inf";
            appendLabels(out, f.labelNames(), values, "le", le);
            out += ' ';
            out += std::to_string(cumulative);
            out += '\n';
          }
          out += f.name();
          out += "_sum";
          appendLabels(out, f.labelNames(), values);
          out += ' ';
          out += formatValue(h.sum());
          out += '\n';
          out += f.name();
          out += "_count";
          appendLabels(out, f.labelNames(), values);
          out += ' ';
          out += std::to_string(cumulative);
          out += '\n';
        });
        break;
      }
      case Entry::kCallback:
        header(out, e->name, e->help, e->callbackIsCounter ? "counter" : "gauge");
        out += e->name;
        out += ' ';
        out += formatValue(e->fn());
        out += '\n';
        break;
    }
  }
  return out;
}

namespace {
double readStatmRss(bool virt) {
  std::FILE* f = std::fopen("/proc/self/statm", "re");
  if (!f) return 0;
  unsigned long size = 0, rss = 0;
  int n = std::fscanf(f, "%lu %lu", &size, &rss);
  std::fclose(f);
  if (n != 2) return 0;
  return static_cast<double>(virt ? size : rss) * static_cast<double>(::sysconf(_SC_PAGESIZE));
}

double countOpenFds() {
  DIR* d = ::opendir("/proc/self/fd");
  if (!d) return 0;
  int n = 0;
  while (struct dirent* e = ::readdir(d)) {
    if (e->d_name[0] != '.') ++n;
  }
  ::closedir(d);
  return n - 1;  // the directory stream itself
}

double processStartTime() {
  // Field 22 of /proc/self/stat is the start time in clock ticks since boot.
  std::ifstream stat("/proc/self/stat");
  std::string content((std::istreambuf_iterator<char>(stat)), std::istreambuf_iterator<char>());
  size_t close = content.rfind(')');
  if (close == std::string::npos) return 0;
  std::vector<std::string> fields;
  size_t pos = close + 2;
  while (pos < content.size()) {
    size_t sp = content.find(' ', pos);
    if (sp == std::string::npos) sp = content.size();
    fields.push_back(content.substr(pos, sp - pos));
    pos = sp + 1;
  }
  if (fields.size() < 20) return 0;
  double ticks = std::strtod(fields[19].c_str(), nullptr);  // field 22 (state is field 3)
  struct timespec boot, now;
  ::clock_gettime(CLOCK_BOOTTIME, &boot);
  ::clock_gettime(CLOCK_REALTIME, &now);
  double bootEpoch = static_cast<double>(now.tv_sec) - static_cast<double>(boot.tv_sec);
  return bootEpoch + ticks / static_cast<double>(::sysconf(_SC_CLK_TCK));
}
}  // namespace

void registerProcessMetrics(Registry& r) {
  r.callback("process_cpu_seconds_total", "Total user and system CPU time spent in seconds.",
             [] {
               struct rusage ru;
               ::getrusage(RUSAGE_SELF, &ru);
               return static_cast<double>(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
                      static_cast<double>(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
             },
             true);
  r.callback("process_resident_memory_bytes", "Resident memory size in bytes.",
             [] { return readStatmRss(false); });
  r.callback("process_virtual_memory_bytes", "Virtual memory size in bytes.",
             [] { return readStatmRss(true); });
  r.callback("process_open_fds", "Number of open file descriptors.", countOpenFds);
  double start = processStartTime();
  r.callback("process_start_time_seconds", "Start time of the process since unix epoch in seconds.",
             [start] { return start; });
}

}  // namespace berth::telemetry
