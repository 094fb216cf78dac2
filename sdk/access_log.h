#pragma once
/// Buffered JSON-lines access log. Each writing thread (a server worker) appends to a buffer of
/// its own, under a lock only the background flusher ever contends for; the flusher writes all
/// buffers to the fd every 100 ms, or at once when a buffer holds 256 KiB: one write(2) per batch
/// and no lock shared between workers. Lines of one thread stay in order. flush() writes what
/// is pending (at drain and exit).

#include <atomic>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace berth::sdk {

class AccessLog {
 public:
  explicit AccessLog(int fd = 1);
  ~AccessLog();  ///< flushes and stops the thread
  /// Append one line (a newline is added).
  void write(std::string_view line);
  void flush();

 private:
  struct Buffer {
    std::thread::id owner;
    std::mutex mu;
    std::string pending;  // under mu
    std::string spare;    // the flusher's (under AccessLog::mu_)
  };
  Buffer& localBuffer();
  void loop();
  void writeOut(std::string& buf);
  int fd_;
  const uint64_t id_;  // tells this log's thread-local buffers from a previous log's
  std::mutex mu_;      // guards buffers_ and stop_; serializes writes to fd_
  std::condition_variable cv_;
  std::vector<std::unique_ptr<Buffer>> buffers_;
  bool stop_ = false;
  std::atomic<bool> wake_{false};  // a buffer is full: flush now
  std::thread thread_;
};

/// "2026-11-26T10:00:00.123Z" for now (cached per second per thread).
std::string_view isoTimeNow(char (&buf)[32]);

}  // namespace berth::sdk
