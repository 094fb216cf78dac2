#pragma once
/// LogWriter: container output as JSON lines (Docker's json-file format:
/// {"log":"...\n","stream":"stdout","time":"RFC3339Nano"}), rotated at max-size into
/// <log>.1 .. <log>.<max-file - 1>. Self-contained (libc and std::string only): the lean
/// per-container monitor (berth-monitor) links it without the rest of the engine.

#include <cstdint>
#include <string>
#include <string_view>

namespace berth::engine {

class LogWriter {
 public:
  LogWriter(std::string path, int64_t maxSize, int maxFile);
  ~LogWriter();
  LogWriter(const LogWriter&) = delete;
  LogWriter& operator=(const LogWriter&) = delete;
  /// Open (append, create 0640) the current file; false with errno set on failure.
  bool open();
  /// Append a chunk of `stream` output; complete lines are written at once, a trailing partial
  /// line waits for its newline (or for flush()).
  void write(int streamIndex, std::string_view data);  ///< 0 = stdout, 1 = stderr
  void flush();

 private:
  void writeLine(int streamIndex, std::string_view line);
  void rotate();
  std::string path_;
  int64_t maxSize_;
  int maxFile_;
  int64_t size_ = 0;
  int fd_ = -1;
  std::string partial_[2];
};

/// Append `s` escaped for a JSON string (no quotes). Invalid UTF-8 bytes become U+FFFD.
void appendJsonEscaped(std::string& out, std::string_view s);
/// RFC 3339 with nanoseconds, UTC ("2026-11-26T10:40:21.123456789Z"), written without locale
/// or time-zone files.
std::string rfc3339Utc(int64_t unixNs);

}  // namespace berth::engine
