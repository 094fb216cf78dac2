#include "common/log.h"

#include <fcntl.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>

namespace berth::log {
namespace {
std::atomic<int> gLevel{static_cast<int>(Level::kWarn)};
std::atomic<int> gFormat{static_cast<int>(Format::kText)};
std::atomic<int> gFd{2};

const char* levelName(Level l) {
  switch (l) {
    case Level::kDebug: return "debug";
    case Level::kInfo: return "info";
    case Level::kWarn: return "warning";
    case Level::kError: return "error";
  }
  return "info";
}
}  // namespace

bool init(Level level, Format format, const std::string& path) {
  gLevel = static_cast<int>(level);
  gFormat = static_cast<int>(format);
  if (!path.empty()) {
    int fd = ::open(path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
    if (fd < 0) return false;
    int old = gFd.exchange(fd);
    if (old > 2) ::close(old);
  }
  return true;
}

void setLevel(Level level) { gLevel = static_cast<int>(level); }
bool enabled(Level level) { return static_cast<int>(level) >= gLevel.load(); }

std::string jsonEscape(std::string_view s) {
  std::string out;
  out.reserve(s.size() + 8);
  for (unsigned char c : s) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (c < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", c);
          out += buf;
        } else {
          out += static_cast<char>(c);
        }
    }
  }
  return out;
}

void write(Level level, std::string_view msg) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  struct tm tm;
  gmtime_r(&ts.tv_sec, &tm);
  char when[64];
  std::snprintf(when, sizeof when, "%04d-%02d-%02dT%02d:%02d:%02d.%06ldZ", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000);
  std::string line;
  if (gFormat.load() == static_cast<int>(Format::kJson)) {
    line = std::string("{\"level\":\"") + levelName(level) + "\",\"msg\":\"" + jsonEscape(msg) +
           "\",\"time\":\"" + when + "\"}\n";
  } else {
    line = std::string(when) + " " + levelName(level) + " " + std::string(msg) + "\n";
  }
  ssize_t unused = ::write(gFd.load(), line.data(), line.size());
  (void)unused;
}

}  // namespace berth::log
