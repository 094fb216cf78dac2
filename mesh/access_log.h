#pragma once
/// Access log: one JSON object per line per downstream request, written with one write(2)
/// (O_APPEND) so lines from several workers never interleave.

#include <cstdint>
#include <mutex>
#include <string>

#include "common/error.h"
#include "common/unique_fd.h"

namespace berth::mesh {

struct AccessLogEntry {
  int64_t startWallNanos = 0;
  std::string method, path, authority, remote;
  int status = 0;
  std::string reason;       ///< x-berth-reason when the proxy answered itself
  std::string route, cluster, upstreamHost;
  uint32_t attempts = 0;
  double durationMs = 0, upstreamMs = 0;
  uint64_t bytesIn = 0, bytesOut = 0;
  std::string traceId, spanId;
};

/// Render one entry as a JSON object followed by '\n'.
std::string formatAccessLog(const AccessLogEntry& e);

class AccessLog {
 public:
  /// Open `path` for appending ("-" = stderr).
  static Result<AccessLog> open(const std::string& path);
  AccessLog() = default;
  AccessLog(AccessLog&&) = default;
  AccessLog& operator=(AccessLog&&) = default;
  void write(const AccessLogEntry& e);
  bool enabled() const { return fd_ >= 0; }

 private:
  UniqueFd owned_;
  int fd_ = -1;
};

}  // namespace berth::mesh
