#pragma once
/// Reading container logs: JSON lines (Docker's json-file format) written by LogWriter
/// (log_writer.h), rotated at max-size into <log>.1 .. <log>.<max-file - 1>.

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/error.h"
#include "common/unique_fd.h"
#include "engine/log_writer.h"

namespace berth::engine {

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
