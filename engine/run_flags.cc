#include "engine/run_flags.h"

#include <signal.h>
#include <unistd.h>

#include <cmath>
#include <cstdlib>
#include <fstream>

#include "common/fs.h"
#include "common/strings.h"

namespace berth::engine {
namespace {

Error bad(const std::string& flag, const std::string& value, const std::string& why) {
  return Error(ErrorCode::kInvalidArgument,
               "invalid " + flag + " \"" + value + "\"" + (why.empty() ? "" : ": " + why));
}

const std::vector<std::pair<std::string, int>>& signalTable() {
  static const std::vector<std::pair<std::string, int>> t = {
      {"HUP", SIGHUP},     {"INT", SIGINT},     {"QUIT", SIGQUIT}, {"ILL", SIGILL},
      {"TRAP", SIGTRAP},   {"ABRT", SIGABRT},   {"BUS", SIGBUS},   {"FPE", SIGFPE},
      {"KILL", SIGKILL},   {"USR1", SIGUSR1},   {"SEGV", SIGSEGV}, {"USR2", SIGUSR2},
      {"PIPE", SIGPIPE},   {"ALRM", SIGALRM},   {"TERM", SIGTERM}, {"CHLD", SIGCHLD},
      {"CONT", SIGCONT},   {"STOP", SIGSTOP},   {"TSTP", SIGTSTP}, {"TTIN", SIGTTIN},
      {"TTOU", SIGTTOU},   {"URG", SIGURG},     {"XCPU", SIGXCPU}, {"XFSZ", SIGXFSZ},
      {"VTALRM", SIGVTALRM}, {"PROF", SIGPROF}, {"WINCH", SIGWINCH}, {"IO", SIGIO},
      {"PWR", SIGPWR},     {"SYS", SIGSYS}};
  return t;
}

const std::vector<std::string> kUlimitNames = {
    "core", "cpu", "data", "fsize", "locks", "memlock", "msgqueue", "nice", "nofile",
    "nproc", "rss", "rtprio", "rttime", "sigpending", "stack", "as"};

Result<void> addEnvFile(const std::string& path, std::vector<std::string>& env) {
  std::ifstream in(path);
  if (!in) return fail(bad("--env-file", path, "cannot read file"));
  std::string line;
  while (std::getline(in, line)) {
    auto t = std::string(str::trim(line));
    if (t.empty() || t[0] == '#') continue;
    auto [k, v] = str::splitOnce(t, '=');
    if (k.empty() || k.find_first_of(" \t") != std::string::npos)
      return fail(bad("--env-file", path, "bad line \"" + t + "\""));
    if (v) env.push_back(k + "=" + *v);
    else if (const char* hv = std::getenv(k.c_str())) env.push_back(k + "=" + hv);
  }
  return {};
}

Result<MountSpec> parseVolume(const std::string& v) {
  auto parts = str::split(v, ':');
  MountSpec m;
  if (parts.size() == 1) {
    m.type = "volume";  // anonymous
    m.destination = parts[0];
  } else if (parts.size() == 2 || parts.size() == 3) {
    m.source = parts[0];
    m.destination = parts[1];
    if (parts.size() == 3) {
      for (auto& o : str::split(parts[2], ',')) {
        if (o == "ro") m.readOnly = true;
        else if (o == "nocopy") m.noCopy = true;
        else if (o == "rw" || o == "z" || o == "Z" || o == "rprivate" || o == "private" ||
                 o == "rslave" || o == "slave" || o == "rshared" || o == "shared" ||
                 o == "delegated" || o == "cached" || o == "consistent")
          continue;
        else return fail(bad("-v", v, "unknown option \"" + o + "\""));
      }
    }
    if (m.source.empty()) return fail(bad("-v", v, "empty source"));
    if (m.source[0] == '/') {
      m.type = "bind";
      if (!fs::exists(m.source))
        return fail(bad("-v", v, "bind source path does not exist: " + m.source));
      m.source = fs::clean(m.source);
    } else if (validVolumeName(m.source)) {
      m.type = "volume";
    } else {
      return fail(bad("-v", v, "source must be an absolute path or a volume name"));
    }
  } else {
    return fail(bad("-v", v, "expected [SOURCE:]DEST[:OPTIONS]"));
  }
  if (m.destination.empty() || m.destination[0] != '/')
    return fail(bad("-v", v, "destination must be an absolute path"));
  if (fs::clean(m.destination) == "/") return fail(bad("-v", v, "destination can't be /"));
  m.destination = fs::clean(m.destination);
  return m;
}

Result<MountSpec> parseTmpfs(const std::string& v) {
  auto [dst, opts] = str::splitOnce(v, ':');
  if (dst.empty() || dst[0] != '/') return fail(bad("--tmpfs", v, "need an absolute path"));
  MountSpec m{"tmpfs", "", fs::clean(dst), false, {}};
  if (opts) {
    for (auto& o : str::split(*opts, ',')) {
      if (o.empty()) continue;
      auto [k, val] = str::splitOnce(o, '=');
      if (k == "size") {
        if (!val || !str::parseBytes(*val)) return fail(bad("--tmpfs", v, "bad size"));
      } else if (k == "mode") {
        if (!val || val->find_first_not_of("01234567") != std::string::npos)
          return fail(bad("--tmpfs", v, "bad mode"));
      } else if (k == "ro") {
        m.readOnly = true;
        continue;
      } else if (k != "rw" && k != "noexec" && k != "exec" && k != "nosuid" && k != "suid" &&
                 k != "nodev" && k != "dev" && k != "uid" && k != "gid") {
        return fail(bad("--tmpfs", v, "unknown option \"" + k + "\""));
      }
      m.options.push_back(o);
    }
  }
  return m;
}

}  // namespace

bool validContainerName(const std::string& s) {
  if (s.empty() || s.size() > 128 || !std::isalnum(static_cast<unsigned char>(s[0]))) return false;
  for (char c : s)
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_' && c != '.' && c != '-')
      return false;
  return true;
}
bool validVolumeName(const std::string& s) { return validContainerName(s); }

const std::vector<std::string>& allCapabilities() {
  static const std::vector<std::string> caps = {
      "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_DAC_READ_SEARCH", "CAP_FOWNER", "CAP_FSETID",
      "CAP_KILL", "CAP_SETGID", "CAP_SETUID", "CAP_SETPCAP", "CAP_LINUX_IMMUTABLE",
      "CAP_NET_BIND_SERVICE", "CAP_NET_BROADCAST", "CAP_NET_ADMIN", "CAP_NET_RAW",
      "CAP_IPC_LOCK", "CAP_IPC_OWNER", "CAP_SYS_MODULE", "CAP_SYS_RAWIO", "CAP_SYS_CHROOT",
      "CAP_SYS_PTRACE", "CAP_SYS_PACCT", "CAP_SYS_ADMIN", "CAP_SYS_BOOT", "CAP_SYS_NICE",
      "CAP_SYS_RESOURCE", "CAP_SYS_TIME", "CAP_SYS_TTY_CONFIG", "CAP_MKNOD", "CAP_LEASE",
      "CAP_AUDIT_WRITE", "CAP_AUDIT_CONTROL", "CAP_SETFCAP", "CAP_MAC_OVERRIDE",
      "CAP_MAC_ADMIN", "CAP_SYSLOG", "CAP_WAKE_ALARM", "CAP_BLOCK_SUSPEND", "CAP_AUDIT_READ",
      "CAP_PERFMON", "CAP_BPF", "CAP_CHECKPOINT_RESTORE"};
  return caps;
}

Result<std::string> normalizeCapability(const std::string& s) {
  std::string u;
  for (char c : s) u += static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  if (u == "ALL") return u;
  if (!str::startsWith(u, "CAP_")) u = "CAP_" + u;
  for (auto& c : allCapabilities())
    if (c == u) return u;
  return fail(ErrorCode::kInvalidArgument, "unknown capability \"" + s + "\"");
}

Result<int64_t> parseDurationMs(const std::string& s) {
  if (s.empty()) return fail(ErrorCode::kInvalidArgument, "empty duration");
  if (s == "0") return 0;
  double total = 0;
  size_t i = 0;
  while (i < s.size()) {
    size_t j = i;
    while (j < s.size() && (std::isdigit(static_cast<unsigned char>(s[j])) || s[j] == '.')) ++j;
    if (j == i) return fail(ErrorCode::kInvalidArgument, "invalid duration \"" + s + "\"");
    double v = std::strtod(s.substr(i, j - i).c_str(), nullptr);
    size_t k = j;
    while (k < s.size() && std::isalpha(static_cast<unsigned char>(s[k]))) ++k;
    std::string unit = s.substr(j, k - j);
    double mult;
    if (unit == "ms") mult = 1;
    else if (unit == "s") mult = 1000;
    else if (unit == "m") mult = 60000;
    else if (unit == "h") mult = 3600000;
    else if (unit == "us" || unit == "µs") mult = 0.001;
    else if (unit == "ns") mult = 0.000001;
    else return fail(ErrorCode::kInvalidArgument, "invalid duration \"" + s + "\"");
    total += v * mult;
    i = k;
  }
  return static_cast<int64_t>(std::llround(total));
}

Result<int> parseSignal(const std::string& s) {
  if (auto n = str::parseU64(s); n) {
    if (*n >= 1 && *n <= 64) return static_cast<int>(*n);
  } else {
    std::string u;
    for (char c : s) u += static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    if (str::startsWith(u, "SIG")) u = u.substr(3);
    for (auto& [name, num] : signalTable())
      if (name == u) return num;
  }
  return fail(ErrorCode::kInvalidArgument, "invalid signal \"" + s + "\"");
}

Result<ContainerConfig> parseRunFlags(const RunFlags& f) {
  ContainerConfig c;
  if (f.image.empty()) return fail(ErrorCode::kInvalidArgument, "no image given");
  c.image = f.image;
  c.cmd = f.cmd;
  if (f.entrypoint) {
    c.entrypoint = f.entrypoint->empty() ? std::vector<std::string>{}
                                         : std::vector<std::string>{*f.entrypoint};
  }
  if (!f.name.empty() && !validContainerName(f.name))
    return fail(bad("--name", f.name, "only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed"));
  c.tty = f.tty;
  c.interactive = f.interactive;
  c.autoRemove = f.rm;
  c.init = f.init;
  c.readOnly = f.readOnly;
  c.privileged = f.privileged;
  c.publishAll = f.publishAll;
  c.user = f.user;
  if (!f.workdir.empty() && f.workdir[0] != '/')
    return fail(bad("-w", f.workdir, "must be an absolute path"));
  c.workdir = f.workdir;
  if (!f.hostname.empty()) {
    if (f.hostname.size() > 63 || f.hostname.find_first_of(" /\t") != std::string::npos)
      return fail(bad("--hostname", f.hostname, ""));
    c.hostname = f.hostname;
  }
  for (auto& path : f.envFile) BERTH_TRY(addEnvFile(path, c.env));
  for (auto& e : f.env) {
    auto [k, v] = str::splitOnce(e, '=');
    if (k.empty()) return fail(bad("-e", e, "empty variable name"));
    if (v) c.env.push_back(e);
    else if (const char* hv = std::getenv(k.c_str())) c.env.push_back(k + "=" + hv);
  }
  for (auto& p : f.publish) {
    BERTH_ASSIGN(auto ms, network::parsePublish(p));
    c.ports.insert(c.ports.end(), ms.begin(), ms.end());
  }
  for (auto& v : f.volumes) {
    BERTH_ASSIGN(auto m, parseVolume(v));
    c.mounts.push_back(std::move(m));
  }
  for (auto& t : f.tmpfs) {
    BERTH_ASSIGN(auto m, parseTmpfs(t));
    c.mounts.push_back(std::move(m));
  }
  for (size_t i = 0; i < c.mounts.size(); ++i)
    for (size_t j = i + 1; j < c.mounts.size(); ++j)
      if (c.mounts[i].destination == c.mounts[j].destination)
        return fail(ErrorCode::kInvalidArgument,
                    "duplicate mount point: " + c.mounts[i].destination);
  if (!f.memory.empty()) {
    auto b = str::parseBytes(f.memory);
    if (!b) return fail(bad("--memory", f.memory, "expected a size like 512m or 1g"));
    if (*b < 6 * 1024 * 1024)
      return fail(bad("--memory", f.memory, "minimum memory limit is 6MB"));
    c.memory = *b;
  }
  if (!f.cpus.empty()) {
    char* end = nullptr;
    double v = std::strtod(f.cpus.c_str(), &end);
    if (!end || *end || !std::isfinite(v) || v <= 0)
      return fail(bad("--cpus", f.cpus, "expected a positive number"));
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    if (v > static_cast<double>(n))
      return fail(bad("--cpus", f.cpus, "only " + std::to_string(n) + " CPUs available"));
    c.nanoCpus = static_cast<int64_t>(v * 1e9);
  }
  if (!f.pidsLimit.empty()) {
    auto v = str::parseI64(f.pidsLimit);
    if (!v) return fail(bad("--pids-limit", f.pidsLimit, "expected an integer"));
    c.pidsLimit = *v < 0 ? 0 : *v;
  }
  for (auto& cap : f.capAdd) {
    auto n = normalizeCapability(cap);
    if (!n) return fail(bad("--cap-add", cap, "unknown capability"));
    c.capAdd.push_back(*n);
  }
  for (auto& cap : f.capDrop) {
    auto n = normalizeCapability(cap);
    if (!n) return fail(bad("--cap-drop", cap, "unknown capability"));
    c.capDrop.push_back(*n);
  }
  for (auto& o : f.securityOpt) {
    auto [k, v] = str::splitOnce(o, o.find('=') != std::string::npos ? '=' : ':');
    if (k == "no-new-privileges") {
      if (!v || *v == "true") c.noNewPrivileges = true;
      else if (*v == "false") c.noNewPrivileges = false;
      else return fail(bad("--security-opt", o, ""));
    } else if (k == "seccomp" && v) {
      if (*v == "unconfined") {
        c.seccomp = "unconfined";
      } else {
        auto text = fs::readFile(*v);
        if (!text) return fail(bad("--security-opt", o, "cannot read seccomp profile"));
        if (str::trim(*text).empty() || str::trim(*text)[0] != '{')
          return fail(bad("--security-opt", o, "seccomp profile is not a JSON object"));
        c.seccomp = *text;
      }
    } else if (k == "label" || k == "apparmor") {
      continue;  // no LSM on these hosts; accepted like podman does without one
    } else {
      return fail(bad("--security-opt", o, "supported: no-new-privileges, seccomp=FILE|unconfined"));
    }
  }
  if (f.network.empty()) return fail(bad("--network", f.network, ""));
  c.network = f.network;
  c.networkAliases = f.networkAliases;
  {
    auto [name, n] = str::splitOnce(f.restart, ':');
    if (name != "no" && name != "always" && name != "unless-stopped" && name != "on-failure")
      return fail(bad("--restart", f.restart,
                      "expected no, on-failure[:N], always or unless-stopped"));
    c.restart.name = name;
    if (n) {
      auto v = str::parseU64(*n);
      if (name != "on-failure" || !v)
        return fail(bad("--restart", f.restart, "a retry count is only valid with on-failure"));
      c.restart.maxRetries = static_cast<int>(*v);
    }
    if (c.restart.name != "no" && c.autoRemove)
      return fail(ErrorCode::kInvalidArgument, "conflicting options: --restart and --rm");
  }
  if (!f.stopSignal.empty()) {
    auto s = parseSignal(f.stopSignal);
    if (!s) return fail(bad("--stop-signal", f.stopSignal, ""));
    c.stopSignal = *s;
    c.labels["berth.stop-signal-set"] = "1";
  }
  if (!f.stopTimeout.empty()) {
    auto t = str::parseI64(f.stopTimeout);
    if (!t || *t < -1) return fail(bad("--stop-timeout", f.stopTimeout, "expected seconds"));
    c.stopTimeout = static_cast<int>(*t);
  }
  bool anyHealth = !f.healthCmd.empty() || !f.healthInterval.empty() ||
                   !f.healthTimeout.empty() || !f.healthStartPeriod.empty() ||
                   !f.healthRetries.empty();
  if (f.noHealthcheck && anyHealth)
    return fail(ErrorCode::kInvalidArgument, "--no-healthcheck conflicts with --health-* options");
  if (f.noHealthcheck) {
    c.health = HealthConfig{{"NONE"}};
  } else if (anyHealth) {
    HealthConfig h;
    if (!f.healthCmd.empty()) h.test = {"CMD-SHELL", f.healthCmd};
    auto dur = [&](const std::string& flag, const std::string& v, int64_t& out) -> Result<void> {
      if (v.empty()) return {};
      auto d = parseDurationMs(v);
      if (!d || *d < 0) return fail(bad(flag, v, "expected a duration like 30s"));
      out = *d;
      return {};
    };
    BERTH_TRY(dur("--health-interval", f.healthInterval, h.intervalMs));
    BERTH_TRY(dur("--health-timeout", f.healthTimeout, h.timeoutMs));
    BERTH_TRY(dur("--health-start-period", f.healthStartPeriod, h.startPeriodMs));
    if (!f.healthRetries.empty()) {
      auto r = str::parseU64(f.healthRetries);
      if (!r) return fail(bad("--health-retries", f.healthRetries, "expected an integer"));
      h.retries = static_cast<int>(*r);
    }
    c.health = h;
  }
  for (auto& l : f.labels) {
    auto [k, v] = str::splitOnce(l, '=');
    if (k.empty()) return fail(bad("--label", l, "empty key"));
    c.labels[k] = v.value_or("");
  }
  for (auto& u : f.ulimits) {
    auto [name, vals] = str::splitOnce(u, '=');
    bool known = false;
    for (auto& n : kUlimitNames) known = known || n == name;
    if (!known) return fail(bad("--ulimit", u, "unknown limit \"" + name + "\""));
    if (!vals) return fail(bad("--ulimit", u, "expected NAME=SOFT[:HARD]"));
    auto [soft, hard] = str::splitOnce(*vals, ':');
    auto parse = [](const std::string& s) -> std::optional<uint64_t> {
      if (s == "-1" || s == "unlimited") return UINT64_MAX;
      return str::parseU64(s);
    };
    auto sv = parse(soft);
    auto hv = hard ? parse(*hard) : sv;
    if (!sv || !hv) return fail(bad("--ulimit", u, "expected NAME=SOFT[:HARD]"));
    if (*sv > *hv) return fail(bad("--ulimit", u, "soft limit is above the hard limit"));
    c.ulimits.push_back({name, *sv, *hv});
  }
  for (auto& o : f.logOpts) {
    auto [k, v] = str::splitOnce(o, '=');
    if (k == "max-size" && v) {
      auto b = str::parseBytes(*v);
      if (!b || *b <= 0) return fail(bad("--log-opt", o, ""));
      c.logMaxSize = *b;
    } else if (k == "max-file" && v) {
      auto n = str::parseU64(*v);
      if (!n || *n < 1 || *n > 100) return fail(bad("--log-opt", o, ""));
      c.logMaxFile = static_cast<int>(*n);
    } else {
      return fail(bad("--log-opt", o, "supported: max-size=SIZE, max-file=N"));
    }
  }
  return c;
}

}  // namespace berth::engine
