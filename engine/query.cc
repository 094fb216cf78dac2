// Read-side verbs: get/list (reconciled), logs, top, stats, inspect, and ps's status text.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <nlohmann/json.hpp>
#include <thread>

#include "common/fs.h"
#include "common/strings.h"
#include "engine/engine.h"
#include "engine/logs.h"
#include "runtime/runtime.h"

namespace berth::engine {

using nlohmann::json;

Result<Record> Engine::get(const std::string& ref) {
  BERTH_ASSIGN(Record r, store_->get(ref));
  return reconcile(std::move(r));
}

Result<std::vector<Record>> Engine::list() {
  BERTH_ASSIGN(auto all, store_->list());
  for (auto& r : all) r = reconcile(std::move(r));
  return all;
}

namespace {
std::string ago(int64_t ns) {
  int64_t s = ns / 1000000000;
  if (s < 1) return "Less than a second";
  if (s < 60) return std::to_string(s) + " seconds";
  if (s < 120) return "About a minute";
  if (s < 3600) return std::to_string(s / 60) + " minutes";
  if (s < 7200) return "About an hour";
  if (s < 172800) return std::to_string(s / 3600) + " hours";
  return std::to_string(s / 86400) + " days";
}
}  // namespace

std::string statusText(const Record& r, int64_t now) {
  switch (r.state) {
    case State::kRunning: {
      std::string s = "Up " + ago(now - r.started);
      if (!r.health.empty()) s += " (" + r.health + ")";
      return s;
    }
    case State::kPaused: return "Up " + ago(now - r.started) + " (Paused)";
    case State::kRestarting:
      return "Restarting (" + std::to_string(r.exitCode) + ") " + ago(now - r.finished) + " ago";
    case State::kExited:
      if (r.started == 0) return "Created";
      return "Exited (" + std::to_string(r.exitCode) + ") " + ago(now - r.finished) + " ago";
    case State::kCreated: return "Created";
    case State::kCreating: return "Creating";
    case State::kRemoving: return "Removal In Progress";
    case State::kDead: return "Dead";
  }
  return "Unknown";
}

Result<void> Engine::logs(
    const std::string& ref, const LogOptions& o,
    const std::function<void(const std::string&, const std::string&)>& out) {
  BERTH_ASSIGN(Record r, get(ref));
  std::string path = paths_.log(r.id);
  auto lines = readAllLogs(path, r.config.logMaxFile);
  size_t start = 0;
  if (o.tail >= 0 && static_cast<size_t>(o.tail) < lines.size()) start = lines.size() - o.tail;
  auto emit = [&](const LogLine& l) {
    if (o.sinceNs && l.timeNs < o.sinceNs) return;
    if (o.untilNs && l.timeNs > o.untilNs) return;
    out(l.stream, o.timestamps ? rfc3339(l.timeNs) + " " + l.text : l.text);
  };
  for (size_t i = start; i < lines.size(); ++i) emit(lines[i]);
  if (!o.follow) return {};
  // Follow: read what is appended to the current file; reopen after a rotation.
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  struct stat st {};
  if (fd) {
    ::fstat(fd.get(), &st);
    ::lseek(fd.get(), 0, SEEK_END);
  }
  std::string pending;
  int idle = 0;
  for (;;) {
    bool got = false;
    if (fd) {
      char buf[65536];
      ssize_t n;
      while ((n = ::read(fd.get(), buf, sizeof buf)) > 0) {
        pending.append(buf, static_cast<size_t>(n));
        got = true;
      }
      size_t nl;
      while ((nl = pending.find('\n')) != std::string::npos) {
        LogLine l;
        if (parseLogLine(std::string_view(pending).substr(0, nl), l)) emit(l);
        pending.erase(0, nl + 1);
      }
    }
    struct stat now {};
    if (::stat(path.c_str(), &now) == 0 && (!fd || now.st_ino != st.st_ino)) {
      fd.reset(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
      st = now;
      pending.clear();
      continue;
    }
    if (!got && ++idle % 5 == 0) {
      auto cur = store_->get(r.id);
      if (!cur) return {};
      Record c = reconcile(*cur);
      if (!c.lifecycle().isActive() && !(c.state == State::kCreated && c.monitorPid > 0)) {
        // one last read for lines written just before the exit
        if (fd) {
          char buf[65536];
          ssize_t n;
          while ((n = ::read(fd.get(), buf, sizeof buf)) > 0) pending.append(buf, n);
          size_t nl;
          while ((nl = pending.find('\n')) != std::string::npos) {
            LogLine l;
            if (parseLogLine(std::string_view(pending).substr(0, nl), l)) emit(l);
            pending.erase(0, nl + 1);
          }
        }
        return {};
      }
    }
    if (!got) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
}

Result<std::vector<ProcInfo>> Engine::top(const std::string& ref) {
  BERTH_ASSIGN(Record r, get(ref));
  if (!r.lifecycle().isActive())
    return fail(ErrorCode::kFailedPrecondition, "container " + ref + " is not running");
  std::vector<pid_t> pids;
  auto rp = runtime().pids(r.id);
  if (rp) pids = *rp;
  else if (r.pid > 0) pids = {r.pid};
  std::vector<ProcInfo> out;
  for (pid_t p : pids)
    if (auto i = procInfo(p); i) out.push_back(*i);
  return out;
}

namespace {
// The cgroup directory of `pid` for a v1 controller (or the v2 one when `ctrl` is empty).
std::string cgroupDir(pid_t pid, const std::string& ctrl) {
  auto t = fs::readFile("/proc/" + std::to_string(pid) + "/cgroup");
  if (!t) return {};
  std::string v2;
  for (auto& line : str::split(*t, '\n')) {
    auto f = str::split(line, ':');
    if (f.size() < 3) continue;
    if (f[0] == "0" && f[1].empty()) v2 = f[2];
    for (auto& c : str::split(f[1], ','))
      if (!ctrl.empty() && c == ctrl) return "/sys/fs/cgroup/" + f[1] + f[2];
  }
  if (!v2.empty()) {
    if (fs::exists("/sys/fs/cgroup/cgroup.controllers")) return "/sys/fs/cgroup" + v2;
    return "/sys/fs/cgroup/unified" + v2;
  }
  return {};
}

int64_t readNum(const std::string& path) {
  auto t = fs::readFile(path);
  if (!t) return 0;
  auto s = str::trim(*t);
  if (s == "max") return 0;
  return str::parseI64(s).value_or(0);
}

int64_t cpuNs(pid_t pid) {
  std::string d = cgroupDir(pid, "cpuacct");
  if (!d.empty() && fs::exists(d + "/cpuacct.usage")) return readNum(d + "/cpuacct.usage");
  d = cgroupDir(pid, "");
  auto t = fs::readFile(d + "/cpu.stat");
  if (t) {
    for (auto& line : str::split(*t, '\n'))
      if (str::startsWith(line, "usage_usec "))
        return str::parseI64(line.substr(11)).value_or(0) * 1000;
  }
  return 0;
}
}  // namespace

Result<Stats> Engine::stats(const Record& r, int sampleMs) {
  Stats s;
  s.id = r.id;
  s.name = r.name;
  if (!r.lifecycle().isActive() || r.pid <= 0) return s;
  pid_t pid = r.pid;
  int64_t c0 = cpuNs(pid);
  auto t0 = std::chrono::steady_clock::now();
  if (sampleMs > 0) std::this_thread::sleep_for(std::chrono::milliseconds(sampleMs));
  int64_t c1 = cpuNs(pid);
  double wall = std::chrono::duration<double, std::nano>(std::chrono::steady_clock::now() - t0).count();
  if (wall > 0 && sampleMs > 0) s.cpuPercent = 100.0 * static_cast<double>(c1 - c0) / wall;
  std::string mem = cgroupDir(pid, "memory");
  if (!mem.empty() && fs::exists(mem + "/memory.usage_in_bytes")) {
    s.memUsage = readNum(mem + "/memory.usage_in_bytes");
    s.memLimit = readNum(mem + "/memory.limit_in_bytes");
  } else {
    std::string d = cgroupDir(pid, "");
    s.memUsage = readNum(d + "/memory.current");
    s.memLimit = readNum(d + "/memory.max");
  }
  if (s.memLimit <= 0 || s.memLimit > (int64_t{1} << 60)) {
    s.memLimit = static_cast<int64_t>(sysconf(_SC_PHYS_PAGES)) * sysconf(_SC_PAGESIZE);
  }
  std::string pd = cgroupDir(pid, "pids");
  if (pd.empty()) pd = cgroupDir(pid, "");
  s.pids = readNum(pd + "/pids.current");
  if (s.pids == 0) {
    auto p = runtime().pids(r.id);
    if (p) s.pids = static_cast<int64_t>(p->size());
  }
  // /proc/<pid>/net/dev shows the container's own network namespace.
  if (auto nd = fs::readFile("/proc/" + std::to_string(pid) + "/net/dev"); nd) {
    for (auto& line : str::split(*nd, '\n')) {
      auto colon = line.find(':');
      if (colon == std::string::npos) continue;
      auto ifname = str::trim(line.substr(0, colon));
      if (ifname == "lo") continue;
      std::vector<std::string> f;
      for (auto& x : str::split(line.substr(colon + 1), ' '))
        if (!x.empty()) f.push_back(x);
      if (f.size() >= 9) {
        s.netRx += str::parseI64(f[0]).value_or(0);
        s.netTx += str::parseI64(f[8]).value_or(0);
      }
    }
  }
  return s;
}

namespace {
// As Docker's HostConfig.SecurityOpt, plus the seccomp profile in effect: "seccomp=builtin"
// (berth's default, engine/seccomp_profile.cc), "seccomp=unconfined" (also --privileged), or
// "seccomp=" and the user's profile.
json securityOpt(const ContainerConfig& c) {
  json a = json::array();
  if (c.noNewPrivileges) a.push_back("no-new-privileges");
  if (c.privileged || c.seccomp == "unconfined") a.push_back("seccomp=unconfined");
  else if (c.seccomp.empty()) a.push_back("seccomp=builtin");
  else a.push_back("seccomp=" + json::parse(c.seccomp, nullptr, false).dump());
  return a;
}
}  // namespace

std::string Engine::inspectJson(const Record& r) {
  const auto& c = r.config;
  json ports = json::object();
  for (auto& p : c.ports) {
    std::string key = std::to_string(p.containerPort) + "/" + p.protocol;
    if (!ports.contains(key)) ports[key] = json::array();
  }
  for (auto& p : r.ports) {
    std::string key = std::to_string(p.containerPort) + "/" + p.protocol;
    if (!ports.contains(key) || ports[key].is_null()) ports[key] = json::array();
    ports[key].push_back({{"HostIp", p.hostIp.empty() ? "0.0.0.0" : p.hostIp},
                          {"HostPort", std::to_string(p.hostPort)}});
  }
  json nets = json::object();
  for (auto& a : r.networks)
    nets[a.network] = {{"IPAddress", a.ip}, {"Gateway", a.gateway}, {"MacAddress", a.mac},
                       {"Aliases", a.aliases}, {"InterfaceName", a.ifname}};
  json mounts = json::array();
  for (auto& m : c.mounts)
    mounts.push_back({{"Type", m.type},
                      {"Name", m.type == "volume" ? m.source : ""},
                      {"Source", m.type == "volume" ? paths_.volumeData(m.source) : m.source},
                      {"Destination", m.destination},
                      {"RW", !m.readOnly}});
  json health = nullptr;
  if (c.health) {
    auto log = json::parse(r.healthLog.empty() ? "[]" : r.healthLog, nullptr, false);
    health = {{"Status", r.health.empty() ? "none" : r.health},
              {"FailingStreak", r.healthFailures},
              {"Log", log.is_discarded() ? json::array() : log}};
  }
  json st = {{"Status", std::string(stateName(r.state))},
             {"Running", r.state == State::kRunning || r.state == State::kPaused},
             {"Paused", r.state == State::kPaused},
             {"Restarting", r.state == State::kRestarting},
             {"Dead", r.state == State::kDead},
             {"Pid", r.pid},
             {"ExitCode", r.exitCode},
             {"Error", r.error},
             {"StartedAt", rfc3339(r.started)},
             {"FinishedAt", rfc3339(r.finished)}};
  if (!health.is_null()) st["Health"] = health;
  json ulimits = json::array();
  for (auto& u : c.ulimits) ulimits.push_back({{"Name", u.name}, {"Soft", u.soft}, {"Hard", u.hard}});
  json j = {
      {"Id", r.id},
      {"Created", rfc3339(r.created)},
      {"Path", c.args.empty() ? "" : c.args[0]},
      {"Args", c.args.size() > 1 ? json(std::vector<std::string>(c.args.begin() + 1, c.args.end()))
                                 : json::array()},
      {"State", st},
      {"Image", r.imageId},
      {"Name", "/" + r.name},
      {"RestartCount", r.restartCount},
      {"LogPath", paths_.log(r.id)},
      {"HostConfig",
       {{"NetworkMode", c.network},
        {"RestartPolicy", {{"Name", c.restart.name}, {"MaximumRetryCount", c.restart.maxRetries}}},
        {"AutoRemove", c.autoRemove},
        {"Privileged", c.privileged},
        {"ReadonlyRootfs", c.readOnly},
        {"Memory", c.memory},
        {"NanoCpus", c.nanoCpus},
        {"PidsLimit", c.pidsLimit},
        {"CapAdd", c.capAdd},
        {"CapDrop", c.capDrop},
        {"Init", c.init},
        {"Ulimits", ulimits},
        {"SecurityOpt", securityOpt(c)},
        {"LogConfig", {{"Type", "json-file"},
                       {"Config", {{"max-size", std::to_string(c.logMaxSize)},
                                   {"max-file", std::to_string(c.logMaxFile)}}}}}}},
      {"Mounts", mounts},
      {"Config",
       {{"Hostname", c.hostname.empty() ? r.shortId() : c.hostname},
        {"User", c.user},
        {"Tty", c.tty},
        {"OpenStdin", c.interactive},
        {"Env", c.env},
        {"Cmd", c.cmd},
        {"Image", r.image},
        {"WorkingDir", c.workdir},
        {"Entrypoint", c.entrypoint ? json(*c.entrypoint) : json(nullptr)},
        {"Labels", c.labels},
        {"StopSignal", c.stopSignal},
        {"StopTimeout", c.stopTimeout}}},
      {"NetworkSettings",
       {{"Ports", ports},
        {"Networks", nets},
        {"IPAddress", r.networks.empty() ? "" : r.networks[0].ip},
        {"SandboxKey", c.network == "host" ? "" : paths_.netns(r.id)}}}};
  return j.dump(4);
}

}  // namespace berth::engine
