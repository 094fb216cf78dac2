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
