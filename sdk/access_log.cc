#include "sdk/access_log.h"

#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>

namespace berth::sdk {

AccessLog::AccessLog(int fd) : fd_(fd) {
  pending_.reserve(64 * 1024);
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

void AccessLog::write(std::string_view line) {
  std::lock_guard<std::mutex> lock(mu_);
  pending_.append(line);
  pending_ += '\n';
  if (pending_.size() >= 64 * 1024) cv_.notify_one();
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
  std::string out;
  {
    std::lock_guard<std::mutex> lock(mu_);
    out.swap(pending_);
  }
  writeOut(out);
}

void AccessLog::loop() {
  std::string out;
  out.reserve(64 * 1024);
  for (;;) {
    bool stop;
    {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait_for(lock, std::chrono::milliseconds(100),
                   [this] { return stop_ || pending_.size() >= 64 * 1024; });
      out.swap(pending_);
      stop = stop_;
    }
    writeOut(out);
    if (stop) {
      flush();
      return;
    }
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
