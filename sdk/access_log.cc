#include "sdk/access_log.h"

#include <time.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>

namespace berth::sdk {

namespace {
constexpr size_t kBatch = 256 * 1024;  // ~70 flushes/s at 80k req/s of ~220-byte lines
constexpr size_t kMaxPending = 2u << 20;  // per thread: RSS stays bounded if the flusher lags
std::atomic<uint64_t> gNextLogId{1};
}  // namespace

AccessLog::AccessLog(int fd) : fd_(fd), id_(gNextLogId.fetch_add(1)) {
  thread_ = std::thread([this] { loop(); });
}

AccessLog::~AccessLog() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  cv_.notify_one();
  thread_.join();
}

AccessLog::Buffer& AccessLog::localBuffer() {
  // One buffer per (thread, log), found through a one-entry thread-local cache. The id tells
  // this log from an earlier one at the same address (tests create several).
  thread_local uint64_t cachedId = 0;
  thread_local Buffer* cached = nullptr;
  if (cachedId == id_) return *cached;
  std::lock_guard<std::mutex> lock(mu_);
  Buffer* found = nullptr;
  for (auto& b : buffers_) {
    if (b->owner == std::this_thread::get_id()) found = b.get();
  }
  if (!found) {
    auto b = std::make_unique<Buffer>();
    b->owner = std::this_thread::get_id();
    b->pending.reserve(kBatch);
    b->spare.reserve(kBatch);
    found = b.get();
    buffers_.push_back(std::move(b));
  }
  cachedId = id_;
  cached = found;
  return *found;
}

void AccessLog::write(std::string_view line) {
  Buffer& b = localBuffer();
  bool full;
  {
    std::lock_guard<std::mutex> lock(b.mu);
    if (b.pending.size() + line.size() + 1 > kMaxPending) return;  // stuck: drop, never block
    b.pending.append(line);
    b.pending += '\n';
    full = b.pending.size() >= kBatch;
  }
  if (full && !wake_.exchange(true)) cv_.notify_one();  // (the flusher also wakes every 100 ms)
}

void AccessLog::writeOut(std::string& buf) {
  size_t off = 0;
  while (off < buf.size()) {
    ssize_t n = ::write(fd_, buf.data() + off, buf.size() - off);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;  // stdout gone: drop rather than block the service
    off += static_cast<size_t>(n);
  }
  buf.clear();
}

void AccessLog::flush() {
  // Double buffering: swap each thread's buffer with its spare (same capacity), write the
  // spare out. Nothing is allocated or freed here in the steady state, so neither the writers
  // nor this thread ever take page faults to grow a buffer again.
  std::lock_guard<std::mutex> lock(mu_);
  for (auto& b : buffers_) {
    {
      std::lock_guard<std::mutex> bl(b->mu);
      if (b->pending.empty()) continue;
      b->spare.swap(b->pending);
    }
    writeOut(b->spare);
  }
}

void AccessLog::loop() {
  for (;;) {
    bool stop;
    {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait_for(lock, std::chrono::milliseconds(100), [this] { return stop_ || wake_.load(); });
      wake_ = false;
      stop = stop_;
    }
    flush();
    if (stop) return;
  }
}

std::string_view isoTimeNow(char (&buf)[32]) {
  struct timespec ts;
  ::clock_gettime(CLOCK_REALTIME, &ts);
  thread_local time_t cachedSec = -1;
  thread_local char cached[24];
  if (ts.tv_sec != cachedSec) {
    struct tm tm;
    ::gmtime_r(&ts.tv_sec, &tm);
    ::strftime(cached, sizeof cached, "%Y-%m-%dT%H:%M:%S", &tm);
    cachedSec = ts.tv_sec;
  }
  // "YYYY-MM-DDTHH:MM:SS" + ".mmmZ", without printf (this runs once per request).
  std::memcpy(buf, cached, 19);
  long ms = ts.tv_nsec / 1000000;
  buf[19] = '.';
  buf[20] = static_cast<char>('0' + ms / 100);
  buf[21] = static_cast<char>('0' + ms / 10 % 10);
  buf[22] = static_cast<char>('0' + ms % 10);
  buf[23] = 'Z';
  return std::string_view(buf, 24);
}

}  // namespace berth::sdk
