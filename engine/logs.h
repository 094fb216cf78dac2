#pragma once
/// Container logs as JSON lines (Docker's json-file format: {"log":"...\n","stream":"stdout",
/// "time":"RFC3339Nano"}), rotated at max-size into <log>.1 .. <log>.<max-file - 1>.

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/error.h"
#include "common/unique_fd.h"

namespace berth::engine {

class LogWriter {
 public:
  LogWriter(std::string path, int64_t maxSize, int maxFile);
  Result<void> open();
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
  UniqueFd fd_;
  std::string partial_[2];
};

struct LogLine {
  int64_t timeNs = 0;
  std::string stream;  ///< "stdout" / "stderr"
  std::string text;    ///< with its trailing newline, if it had one
};

/// Parse one JSON line; false if it is not a log line.
bool parseLogLine(std::string_view line, LogLine& out);
/// Every line of the rotated files then the current one, oldest first.
std::vector<LogLine> readAllLogs(const std::string& path, int maxFile);
/// "2026-11-26T10:40:21.123Z", a unix time "1700000000", or a duration "10m" (ago).
Result<int64_t> parseSince(const std::string& s, int64_t nowNs);

}  // namespace berth::engine
