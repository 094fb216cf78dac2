#include "mesh/access_log.h"

#include <fcntl.h>
#include <unistd.h>

#include <cstdio>
#include <ctime>

#include "common/log.h"

namespace berth::mesh {

namespace {

void field(std::string& o, const char* k, const std::string& v, bool first = false) {
  if (!first) o += ',';
  o += '"';
  o += k;
  o += "\":\"";
  o += log::jsonEscape(v);
  o += '"';
}

void fieldNum(std::string& o, const char* k, double v) {
  char b[48];
  std::snprintf(b, sizeof b, ",\"%s\":%.3f", k, v);
  o += b;
}

void fieldInt(std::string& o, const char* k, uint64_t v) {
  o += ",\"";
  o += k;
  o += "\":";
  o += std::to_string(v);
}

std::string rfc3339(int64_t wallNanos) {
  time_t s = static_cast<time_t>(wallNanos / 1000000000);
  int ms = static_cast<int>((wallNanos / 1000000) % 1000);
  struct tm tm;
  gmtime_r(&s, &tm);
  char b[80];
  std::snprintf(b, sizeof b, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ms);
  return b;
}

}  // namespace

std::string formatAccessLog(const AccessLogEntry& e) {
  std::string o = "{";
  field(o, "time", rfc3339(e.startWallNanos), true);
  field(o, "method", e.method);
  field(o, "path", e.path);
  field(o, "authority", e.authority);
  field(o, "remote", e.remote);
  fieldInt(o, "status", static_cast<uint64_t>(e.status));
  if (!e.reason.empty()) field(o, "reason", e.reason);
  field(o, "route", e.route);
  field(o, "cluster", e.cluster);
  field(o, "upstream", e.upstreamHost);
  fieldInt(o, "attempts", e.attempts);
  fieldNum(o, "duration_ms", e.durationMs);
  fieldNum(o, "upstream_ms", e.upstreamMs);
  fieldInt(o, "bytes_in", e.bytesIn);
  fieldInt(o, "bytes_out", e.bytesOut);
  field(o, "trace_id", e.traceId);
  field(o, "span_id", e.spanId);
  o += "}\n";
  return o;
}

Result<AccessLog> AccessLog::open(const std::string& path) {
  AccessLog l;
  if (path == "-") {
    l.fd_ = 2;
    return l;
  }
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (fd < 0) return failErrno("open access log " + path);
  l.owned_.reset(fd);
  l.fd_ = fd;
  return l;
}

void AccessLog::write(const AccessLogEntry& e) {
  if (fd_ < 0) return;
  std::string line = formatAccessLog(e);
  // O_APPEND + one write: atomic with respect to other writers for lines this size.
  ssize_t n = ::write(fd_, line.data(), line.size());
  (void)n;
}

}  // namespace berth::mesh
