#pragma once
/// Buffered JSON-lines access log. Lines are appended under a mutex and written to the fd by a
/// background thread every 100 ms, or at once when 64 KiB are pending: one write(2) per batch
/// instead of one per request. flush() writes what is pending (at drain and exit).

#include <condition_variable>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>

namespace berth::sdk {

class AccessLog {
 public:
  explicit AccessLog(int fd = 1);
  ~AccessLog();  ///< flushes and stops the thread
  /// Append one line (a newline is added).
  void write(std::string_view line);
  void flush();

 private:
  void loop();
  void writeOut(std::string& buf);
  int fd_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::string pending_;
  bool stop_ = false;
  std::thread thread_;
};

/// "2026-11-26T10:00:00.123Z" for now (cached per second per thread).
std::string_view isoTimeNow(char (&buf)[32]);

}  // namespace berth::sdk
