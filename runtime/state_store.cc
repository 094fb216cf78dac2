#include "runtime/state_store.h"

#include <fcntl.h>
#include <time.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <nlohmann/json.hpp>

#include "common/strings.h"
#include "common/unique_fd.h"

namespace berth::runtime {

using nlohmann::json;

std::string recordToJson(const Record& r) {
  json j;
  j["id"] = r.id;
  j["bundle"] = r.bundle;
  j["rootfs"] = r.rootfs;
  j["created"] = r.created;
  j["owner"] = r.owner;
  j["pid"] = r.pid;
  j["startTime"] = r.startTime;
  j["annotations"] = r.annotations;
  j["hasPoststart"] = r.hasPoststart;
  j["hasPoststop"] = r.hasPoststop;
  if (r.hasCgroups) {
    j["cgroups"] = {{"mode", std::string(cgroupModeName(r.cgroups.mode))},
                    {"v1", r.cgroups.v1},
                    {"unified", r.cgroups.unified}};
  }
  return j.dump();
}

Result<Record> recordFromJson(std::string_view text) {
  json j = json::parse(text, nullptr, false);
  if (j.is_discarded() || !j.is_object()) return fail(ErrorCode::kCorrupt, "state.json: invalid JSON");
  try {
    Record r;
    r.id = j.at("id").get<std::string>();
    r.bundle = j.value("bundle", "");
    r.rootfs = j.value("rootfs", "");
    r.created = j.value("created", "");
    r.owner = j.value("owner", "");
    r.pid = j.value("pid", 0);
    r.startTime = j.value("startTime", uint64_t{0});
    if (j.contains("annotations")) r.annotations = j["annotations"].get<std::map<std::string, std::string>>();
    r.hasPoststart = j.value("hasPoststart", false);
    r.hasPoststop = j.value("hasPoststop", false);
    if (j.contains("cgroups")) {
      r.hasCgroups = true;
      const auto& c = j["cgroups"];
      std::string m = c.value("mode", "v2");
      r.cgroups.mode = m == "v1" ? CgroupMode::kV1 : m == "hybrid" ? CgroupMode::kHybrid : CgroupMode::kV2;
      r.cgroups.v1 = c.value("v1", std::map<std::string, std::string>{});
      r.cgroups.unified = c.value("unified", "");
    }
    return r;
  } catch (const json::exception& e) {
    return fail(ErrorCode::kCorrupt, std::string("state.json: ") + e.what());
  }
}

Result<void> writeRecord(const std::string& dir, const Record& r) {
  std::string data = recordToJson(r);
  std::string tmp = dir + "/.state.tmp";
  UniqueFd fd(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600));
  if (!fd) return failErrno("write " + tmp);
  if (::write(fd.get(), data.data(), data.size()) != static_cast<ssize_t>(data.size()))
    return failErrno("write " + tmp);
  fd.reset();
  if (::rename(tmp.c_str(), (dir + "/" + kStateFile).c_str()) < 0) return failErrno("rename state");
  return {};
}

Result<Record> readRecord(const std::string& dir) {
  UniqueFd fd(::open((dir + "/" + kStateFile).c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) return failErrno("read state");
  std::string text;
  char buf[8192];
  ssize_t n;
  while ((n = ::read(fd.get(), buf, sizeof buf)) > 0) text.append(buf, static_cast<size_t>(n));
  return recordFromJson(text);
}

std::optional<uint64_t> liveStartTime(pid_t pid) {
  if (pid <= 0) return std::nullopt;
  char path[64];
  std::snprintf(path, sizeof path, "/proc/%d/stat", pid);
  UniqueFd fd(::open(path, O_RDONLY | O_CLOEXEC));
  if (!fd) return std::nullopt;
  char buf[1024];
  ssize_t n = ::read(fd.get(), buf, sizeof buf - 1);
  if (n <= 0) return std::nullopt;
  buf[n] = 0;
  // comm may contain spaces and ')': parse from the last ')'.
  char* p = std::strrchr(buf, ')');
  if (!p) return std::nullopt;
  auto fields = str::split(std::string_view(p + 2), ' ');
  // fields[0] = state (field 3), starttime is field 22 -> index 19.
  if (fields.size() < 20) return std::nullopt;
  if (fields[0] == "Z" || fields[0] == "X") return std::nullopt;
  return str::parseU64(fields[19]);
}

bool sameProcessAlive(pid_t pid, uint64_t startTime) {
  auto st = liveStartTime(pid);
  return st && (startTime == 0 || *st == startTime);
}

std::string nowRfc3339() {
  timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  struct tm tm;
  gmtime_r(&ts.tv_sec, &tm);
  char buf[64];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%09ldZ", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ts.tv_nsec);
  return buf;
}

}  // namespace berth::runtime
