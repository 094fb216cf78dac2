#include "engine/log_writer.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

namespace berth::engine {
namespace {

int64_t realtimeNs() {
  timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1000000000 + ts.tv_nsec;
}

void appendDigits(std::string& out, int64_t v, int width) {
  char buf[24];
  int n = 0;
  do {
    buf[n++] = static_cast<char>('0' + v % 10);
    v /= 10;
  } while (v > 0 || n < width);
  while (n > 0) out += buf[--n];
}

// Length of the valid UTF-8 sequence at s[i], or 0 if it is not one.
size_t utf8Len(std::string_view s, size_t i) {
  auto c = static_cast<unsigned char>(s[i]);
  size_t n;
  uint32_t cp;
  if (c >= 0xc2 && c <= 0xdf) { n = 2; cp = c & 0x1f; }
  else if (c >= 0xe0 && c <= 0xef) { n = 3; cp = c & 0x0f; }
  else if (c >= 0xf0 && c <= 0xf4) { n = 4; cp = c & 0x07; }
  else return 0;
  if (i + n > s.size()) return 0;
  for (size_t k = 1; k < n; ++k) {
    auto d = static_cast<unsigned char>(s[i + k]);
    if ((d & 0xc0) != 0x80) return 0;
    cp = (cp << 6) | (d & 0x3f);
  }
  if ((n == 3 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) ||
      (n == 4 && (cp < 0x10000 || cp > 0x10ffff)))
    return 0;
  return n;
}

}  // namespace

void appendJsonEscaped(std::string& out, std::string_view s) {
  static const char kHex[] = "0123456789abcdef";
  for (size_t i = 0; i < s.size(); ++i) {
    auto c = static_cast<unsigned char>(s[i]);
    switch (c) {
      case '"': out += "\\\""; continue;
      case '\\': out += "\\\\"; continue;
      case '\n': out += "\\n"; continue;
      case '\r': out += "\\r"; continue;
      case '\t': out += "\\t"; continue;
      default: break;
    }
    if (c < 0x20) {
      out += "\\u00";
      out += kHex[c >> 4];
      out += kHex[c & 15];
    } else if (c < 0x80) {
      out += static_cast<char>(c);
    } else if (size_t n = utf8Len(s, i); n > 0) {
      out.append(s.substr(i, n));
      i += n - 1;
    } else {
      out += "\xef\xbf\xbd";  // U+FFFD, as Docker does for bytes that are not UTF-8
    }
  }
}

std::string rfc3339Utc(int64_t ns) {
  if (ns <= 0) return "0001-01-01T00:00:00Z";
  int64_t secs = ns / 1000000000, frac = ns % 1000000000;
  int64_t days = secs / 86400, rem = secs % 86400;
  // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
  int64_t z = days + 719468;
  int64_t era = z / 146097;
  int64_t doe = z - era * 146097;
  int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  int64_t mp = (5 * doy + 2) / 153;
  int64_t d = doy - (153 * mp + 2) / 5 + 1;
  int64_t m = mp < 10 ? mp + 3 : mp - 9;
  int64_t y = yoe + era * 400 + (m <= 2 ? 1 : 0);
  std::string out;
  out.reserve(32);
  appendDigits(out, y, 4);
  out += '-';
  appendDigits(out, m, 2);
  out += '-';
  appendDigits(out, d, 2);
  out += 'T';
  appendDigits(out, rem / 3600, 2);
  out += ':';
  appendDigits(out, rem / 60 % 60, 2);
  out += ':';
  appendDigits(out, rem % 60, 2);
  out += '.';
  appendDigits(out, frac, 9);
  out += 'Z';
  return out;
}

LogWriter::LogWriter(std::string path, int64_t maxSize, int maxFile)
    : path_(std::move(path)), maxSize_(maxSize), maxFile_(maxFile < 1 ? 1 : maxFile) {}

LogWriter::~LogWriter() {
  if (fd_ >= 0) ::close(fd_);
}

bool LogWriter::open() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = ::open(path_.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
  if (fd_ < 0) return false;
  struct stat st;
  size_ = ::fstat(fd_, &st) == 0 ? st.st_size : 0;
  return true;
}

void LogWriter::write(int si, std::string_view data) {
  std::string& part = partial_[si & 1];
  size_t start = 0;
  for (size_t i = 0; i < data.size(); ++i) {
    if (data[i] == '\n') {
      part.append(data.substr(start, i + 1 - start));
      writeLine(si, part);
      part.clear();
      start = i + 1;
    }
  }
  part.append(data.substr(start));
  if (part.size() >= 16384) {  // Docker's limit for one log entry
    writeLine(si, part);
    part.clear();
  }
}

void LogWriter::flush() {
  for (int i = 0; i < 2; ++i)
    if (!partial_[i].empty()) {
      writeLine(i, partial_[i]);
      partial_[i].clear();
    }
}

void LogWriter::writeLine(int si, std::string_view line) {
  if (fd_ < 0) return;
  std::string out;
  out.reserve(line.size() + 80);
  out += "{\"log\":\"";
  appendJsonEscaped(out, line);
  out += si == 0 ? "\",\"stream\":\"stdout\",\"time\":\"" : "\",\"stream\":\"stderr\",\"time\":\"";
  out += rfc3339Utc(realtimeNs());
  out += "\"}\n";
  if (size_ > 0 && size_ + static_cast<int64_t>(out.size()) > maxSize_) rotate();
  ssize_t n = ::write(fd_, out.data(), out.size());
  if (n > 0) size_ += n;
}

void LogWriter::rotate() {
  if (maxFile_ <= 1) {
    (void)!::ftruncate(fd_, 0);
    size_ = 0;
    return;
  }
  for (int i = maxFile_ - 1; i >= 1; --i) {
    std::string from = i == 1 ? path_ : path_ + "." + std::to_string(i - 1);
    ::rename(from.c_str(), (path_ + "." + std::to_string(i)).c_str());
  }
  (void)open();
}

}  // namespace berth::engine
