#include "engine/logs.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include "common/fs.h"
#include "common/log.h"
#include "common/strings.h"
#include "engine/record.h"
#include "engine/run_flags.h"

namespace berth::engine {

LogWriter::LogWriter(std::string path, int64_t maxSize, int maxFile)
    : path_(std::move(path)), maxSize_(maxSize), maxFile_(maxFile < 1 ? 1 : maxFile) {}

Result<void> LogWriter::open() {
  fd_.reset(::open(path_.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640));
  if (!fd_) return failErrno("open log " + path_);
  struct stat st;
  size_ = ::fstat(fd_.get(), &st) == 0 ? st.st_size : 0;
  return {};
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
  if (!fd_) return;
  std::string out = "{\"log\":\"" + log::jsonEscape(line) + "\",\"stream\":\"" +
                    (si == 0 ? "stdout" : "stderr") + "\",\"time\":\"" + rfc3339(nowNs()) +
                    "\"}\n";
  if (size_ > 0 && size_ + static_cast<int64_t>(out.size()) > maxSize_) rotate();
  ssize_t n = ::write(fd_.get(), out.data(), out.size());
  if (n > 0) size_ += n;
}

void LogWriter::rotate() {
  if (maxFile_ <= 1) {
    (void)::ftruncate(fd_.get(), 0);
    size_ = 0;
    return;
  }
  for (int i = maxFile_ - 1; i >= 1; --i) {
    std::string from = i == 1 ? path_ : path_ + "." + std::to_string(i - 1);
    ::rename(from.c_str(), (path_ + "." + std::to_string(i)).c_str());
  }
  (void)open();
}

bool parseLogLine(std::string_view line, LogLine& out) {
  auto j = nlohmann::json::parse(line, nullptr, false);
  if (!j.is_object() || !j.contains("log")) return false;
  out.text = j.value("log", "");
  out.stream = j.value("stream", "stdout");
  std::string t = j.value("time", "");
  tm tmv{};
  out.timeNs = 0;
  if (strptime(t.c_str(), "%Y-%m-%dT%H:%M:%S", &tmv)) {
    out.timeNs = static_cast<int64_t>(timegm(&tmv)) * 1000000000;
    auto dot = t.find('.');
    if (dot != std::string::npos) {
      std::string frac = t.substr(dot + 1, 9);
      while (!frac.empty() && !std::isdigit(static_cast<unsigned char>(frac.back())))
        frac.pop_back();
      while (frac.size() < 9) frac += '0';
      out.timeNs += str::parseI64(frac).value_or(0);
    }
  }
  return true;
}

std::vector<LogLine> readAllLogs(const std::string& path, int maxFile) {
  std::vector<LogLine> out;
  for (int i = maxFile - 1; i >= 0; --i) {
    auto t = fs::readFile(i == 0 ? path : path + "." + std::to_string(i));
    if (!t) continue;
    size_t start = 0;
    while (start < t->size()) {
      size_t nl = t->find('\n', start);
      if (nl == std::string::npos) break;  // a line being written
      LogLine l;
      if (parseLogLine(std::string_view(*t).substr(start, nl - start), l)) out.push_back(l);
      start = nl + 1;
    }
  }
  return out;
}

Result<int64_t> parseSince(const std::string& s, int64_t nowNsValue) {
  if (auto n = str::parseI64(s); n) return *n * 1000000000;
  tm tmv{};
  if (const char* rest = strptime(s.c_str(), "%Y-%m-%dT%H:%M:%S", &tmv); rest) {
    return static_cast<int64_t>(timegm(&tmv)) * 1000000000;
  }
  if (auto d = parseDurationMs(s); d) return nowNsValue - *d * 1000000;
  return fail(ErrorCode::kInvalidArgument, "invalid --since \"" + s + "\"");
}

}  // namespace berth::engine
