// runc's command line (hand-parsed: berth-runtime must start fast and stay small).
#include "runtime/cli.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <map>
#include <nlohmann/json.hpp>

#include "common/fs.h"
#include "common/log.h"
#include "common/strings.h"
#include "runtime/cli_args.h"
#include "runtime/cli_tty.h"
#include "runtime/runtime.h"

namespace berth::runtime {
namespace {

constexpr const char* kVersion = "0.1.0";

bool gLogToFile = false;

int report(const Error& e) {
  // One line on stderr; with --log the engine reads the log file too (runc's contract).
  if (gLogToFile) log::error(e.message());
  std::fprintf(stderr, "berth-runtime: %s\n", e.message().c_str());
  return 1;
}
int report(const std::string& m) { return report(Error(ErrorCode::kInvalidArgument, m)); }

std::optional<int> parseSignal(std::string s) {
  if (auto n = str::parseU64(s)) return *n < 65 ? std::optional<int>(static_cast<int>(*n)) : std::nullopt;
  for (auto& c : s) c = static_cast<char>(toupper(static_cast<unsigned char>(c)));
  if (str::startsWith(s, "SIG")) s = s.substr(3);
  static const std::map<std::string, int> kSigs = {
      {"HUP", SIGHUP},   {"INT", SIGINT},     {"QUIT", SIGQUIT}, {"ILL", SIGILL},
      {"TRAP", SIGTRAP}, {"ABRT", SIGABRT},   {"BUS", SIGBUS},   {"FPE", SIGFPE},
      {"KILL", SIGKILL}, {"USR1", SIGUSR1},   {"SEGV", SIGSEGV}, {"USR2", SIGUSR2},
      {"PIPE", SIGPIPE}, {"ALRM", SIGALRM},   {"TERM", SIGTERM}, {"CHLD", SIGCHLD},
      {"CONT", SIGCONT}, {"STOP", SIGSTOP},   {"TSTP", SIGTSTP}, {"TTIN", SIGTTIN},
      {"TTOU", SIGTTOU}, {"URG", SIGURG},     {"XCPU", SIGXCPU}, {"XFSZ", SIGXFSZ},
      {"VTALRM", SIGVTALRM}, {"PROF", SIGPROF}, {"WINCH", SIGWINCH}, {"IO", SIGIO},
      {"PWR", SIGPWR},   {"SYS", SIGSYS}};
  if (auto it = kSigs.find(s); it != kSigs.end()) return it->second;
  return std::nullopt;
}

std::string absPath(const std::string& p) {
  if (!p.empty() && p[0] == '/') return fs::clean(p);
  char cwd[4096];
  if (!::getcwd(cwd, sizeof cwd)) return p;
  return fs::clean(std::string(cwd) + "/" + (p.empty() ? "." : p));
}

/// Wait for our child `pid`, forwarding the usual terminating signals to it.
int waitForward(pid_t pid) {
  sigset_t set, old;
  sigemptyset(&set);
  for (int s : {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2, SIGCHLD, SIGWINCH})
    sigaddset(&set, s);
  sigprocmask(SIG_BLOCK, &set, &old);
  int status = 0;
  for (;;) {
    pid_t r = ::waitpid(pid, &status, WNOHANG);
    if (r == pid) break;
    if (r < 0 && errno != EINTR) {
      status = 0;
      break;
    }
    int sig = sigwaitinfo(&set, nullptr);
    if (sig > 0 && sig != SIGCHLD) ::kill(pid, sig);
  }
  sigprocmask(SIG_SETMASK, &old, nullptr);
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return 1;
}

CreateOptions createOptions(const Args& a) {
  CreateOptions o;
  o.id = a.positional.empty() ? "" : a.positional[0];
  o.bundle = absPath(a.get("bundle", "."));
  o.pidFile = a.has("pid-file") ? absPath(a.get("pid-file")) : "";
  o.consoleSocket = a.has("console-socket") ? absPath(a.get("console-socket")) : "";
  o.noPivot = a.flag("no-pivot");
  o.preserveFds = static_cast<int>(str::parseU64(a.get("preserve-fds", "0")).value_or(0));
  return o;
}

int cmdCreate(Runtime& rt, const Args& a) {
  if (a.positional.size() != 1) return report("create: expected exactly one container id");
  if (auto r = rt.create(createOptions(a)); !r) return report(r.error());
  return 0;
}

int cmdRun(Runtime& rt, const Args& a) {
  if (a.positional.size() != 1) return report("run: expected exactly one container id");
  CreateOptions o = createOptions(a);
  // A terminal without --console-socket: we hold the pty ourselves (runc does the same).
  std::optional<ConsoleProxy> console;
  if (o.consoleSocket.empty() && !a.flag("detach")) {
    auto text = fs::readFile(o.bundle + "/config.json");
    if (!text) return report(text.error().context("bundle " + o.bundle));
    auto spec = oci::parseSpec(*text);
    if (!spec) return report(spec.error());
    if (spec->process && spec->process->terminal) {
      auto c = ConsoleProxy::listen(rt.stateRoot() + "/.consoles");
      if (!c) return report(c.error());
      console.emplace(std::move(*c));
      o.consoleSocket = console->path();
    }
    o.spec = std::make_shared<oci::Spec>(std::move(*spec));
  }
  if (auto r = rt.create(o); !r) return report(r.error());
  if (console) {
    if (auto r = console->acceptMaster(); !r) {
      (void)rt.remove(o.id, true);
      return report(r.error());
    }
  }
  // The pid must be read while "created": a fast process may be gone right after start.
  auto st = rt.state(o.id);
  if (!st) return report(st.error());
  pid_t pid = st->pid;
  if (auto r = rt.start(o.id); !r) {
    (void)rt.remove(o.id, true);
    return report(r.error());
  }
  if (a.flag("detach")) return 0;
  if (console) console->proxy();
  int code = waitForward(pid);
  if (!a.flag("keep")) (void)rt.remove(o.id, true);
  return code;
}

int cmdState(Runtime& rt, const Args& a) {
  if (a.positional.size() != 1) return report("state: expected exactly one container id");
  auto s = rt.state(a.positional[0]);
  if (!s) return report(s.error());
  std::printf("%s\n", stateToJson(*s).c_str());
  return 0;
}

int cmdKill(Runtime& rt, const Args& a) {
  if (a.positional.empty() || a.positional.size() > 2) return report("kill: usage: kill [--all] ID [SIGNAL]");
  auto sig = parseSignal(a.positional.size() == 2 ? a.positional[1] : "SIGTERM");
  if (!sig) return report("kill: unknown signal \"" + a.positional[1] + "\"");
  if (auto r = rt.kill(a.positional[0], *sig, a.flag("all")); !r) return report(r.error());
  return 0;
}

int cmdDelete(Runtime& rt, const Args& a) {
  if (a.positional.empty()) return report("delete: expected a container id");
  int rc = 0;
  for (const auto& id : a.positional) {
    auto r = rt.remove(id, a.flag("force"));
    if (!r && !(a.flag("force") && r.error().is(ErrorCode::kNotFound))) rc = report(r.error());
  }
  return rc;
}

int cmdExec(Runtime& rt, const Args& a) {
  if (a.positional.empty()) return report("exec: expected a container id");
  ExecOptions o;
  std::string id = a.positional[0];
  o.args.assign(a.positional.begin() + 1, a.positional.end());
  if (a.has("process")) {
    auto text = fs::readFile(a.get("process"));
    if (!text) return report(text.error().context("exec --process"));
    auto p = oci::parseProcess(*text);
    if (!p) return report(p.error());
    o.process = std::make_shared<oci::Process>(std::move(*p));
  } else if (o.args.empty()) {
    return report("exec: no command given (args or --process)");
  }
  o.env = a.all("env");
  o.cwd = a.get("cwd", "");
  if (a.has("user")) {
    auto [u, g] = str::splitOnce(a.get("user"), ':');
    auto uid = str::parseU64(u);
    if (!uid) return report("exec --user: expected UID[:GID]");
    o.uid = static_cast<uint32_t>(*uid);
    if (g) {
      auto gid = str::parseU64(*g);
      if (!gid) return report("exec --user: expected UID[:GID]");
      o.gid = static_cast<uint32_t>(*gid);
    }
  }
  for (const auto& g : a.all("additional-gids"))
    if (auto v = str::parseU64(g)) o.additionalGids.push_back(static_cast<uint32_t>(*v));
  o.addCaps = a.all("cap");
  o.tty = a.flag("tty");
  o.consoleSocket = a.has("console-socket") ? absPath(a.get("console-socket")) : "";
  o.pidFile = a.has("pid-file") ? absPath(a.get("pid-file")) : "";
  o.preserveFds = static_cast<int>(str::parseU64(a.get("preserve-fds", "0")).value_or(0));
  if (a.flag("no-new-privs") && o.process) {
    auto p = std::make_shared<oci::Process>(*o.process);
    p->noNewPrivileges = true;
    o.process = p;
  }
  std::optional<ConsoleProxy> console;
  bool tty = o.tty || (o.process && o.process->terminal);
  if (tty && o.consoleSocket.empty() && !a.flag("detach")) {
    auto c = ConsoleProxy::listen(rt.stateRoot() + "/.consoles");
    if (!c) return report(c.error());
    console.emplace(std::move(*c));
    o.consoleSocket = console->path();
  }
  auto pid = rt.exec(id, o);
  if (!pid) return report(pid.error());
  if (a.flag("detach")) return 0;
  if (console) {
    if (auto r = console->acceptMaster(); !r) return report(r.error());
    console->proxy();
  }
  return waitForward(*pid);
}

std::string cmdline(pid_t pid) {
  auto t = fs::readFile("/proc/" + std::to_string(pid) + "/cmdline");
  if (!t) return "";
  for (auto& c : *t)
    if (c == 0) c = ' ';
  return std::string(str::trim(*t));
}

int cmdPs(Runtime& rt, const Args& a) {
  if (a.positional.empty()) return report("ps: expected a container id");
  auto pids = rt.pids(a.positional[0]);
  if (!pids) return report(pids.error());
  if (a.get("format", "table") == "json") {
    std::printf("%s\n", nlohmann::json(*pids).dump().c_str());
    return 0;
  }
  std::printf("PID\tCMD\n");
  for (pid_t p : *pids) std::printf("%d\t%s\n", p, cmdline(p).c_str());
  return 0;
}

int cmdList(Runtime& rt, const Args& a) {
  auto l = rt.list();
  if (!l) return report(l.error());
  if (a.flag("quiet")) {
    for (const auto& s : *l) std::printf("%s\n", s.id.c_str());
    return 0;
  }
  if (a.get("format", "table") == "json") {
    nlohmann::json j = nlohmann::json::array();
    for (const auto& s : *l) j.push_back(nlohmann::json::parse(stateToJson(s, false)));
    std::printf("%s\n", j.dump().c_str());
    return 0;
  }
  std::printf("%-20s %-8s %-10s %-40s %-31s %s\n", "ID", "PID", "STATUS", "BUNDLE", "CREATED", "OWNER");
  for (const auto& s : *l)
    std::printf("%-20s %-8d %-10s %-40s %-31s %s\n", s.id.c_str(), s.pid,
                std::string(statusName(s.status)).c_str(), s.bundle.c_str(), s.created.c_str(),
                s.owner.empty() ? "root" : s.owner.c_str());
  return 0;
}

int cmdUpdate(Runtime& rt, const Args& a) {
  if (a.positional.size() != 1) return report("update: expected exactly one container id");
  oci::Resources r;
  if (a.has("resources")) {
    std::string f = a.get("resources");
    std::string text;
    if (f == "-") {
      char buf[4096];
      ssize_t n;
      while ((n = ::read(0, buf, sizeof buf)) > 0) text.append(buf, static_cast<size_t>(n));
    } else {
      auto t = fs::readFile(f);
      if (!t) return report(t.error().context("update --resources"));
      text = *t;
    }
    auto p = oci::parseResources(text);
    if (!p) return report(p.error());
    r = *p;
  }
  auto num = [&](const char* flag) -> std::optional<int64_t> {
    if (!a.has(flag)) return std::nullopt;
    if (auto b = str::parseBytes(a.get(flag))) return b;
    return str::parseI64(a.get(flag));
  };
  if (auto v = num("memory")) { if (!r.memory) r.memory.emplace(); r.memory->limit = v; }
  if (auto v = num("memory-swap")) { if (!r.memory) r.memory.emplace(); r.memory->swap = v; }
  if (auto v = num("memory-reservation")) { if (!r.memory) r.memory.emplace(); r.memory->reservation = v; }
  if (auto v = num("pids-limit")) r.pids = oci::PidsResources{*v};
  if (auto v = num("cpu-quota")) { if (!r.cpu) r.cpu.emplace(); r.cpu->quota = v; }
  if (auto v = num("cpu-period")) { if (!r.cpu) r.cpu.emplace(); r.cpu->period = static_cast<uint64_t>(*v); }
  if (auto v = num("cpu-share")) { if (!r.cpu) r.cpu.emplace(); r.cpu->shares = static_cast<uint64_t>(*v); }
  if (a.has("cpuset-cpus")) { if (!r.cpu) r.cpu.emplace(); r.cpu->cpus = a.get("cpuset-cpus"); }
  if (a.has("cpuset-mems")) { if (!r.cpu) r.cpu.emplace(); r.cpu->mems = a.get("cpuset-mems"); }
  if (auto res = rt.update(a.positional[0], r); !res) return report(res.error());
  return 0;
}

int cmdSpec(const Args& a) {
  std::string bundle = absPath(a.get("bundle", "."));
  std::string path = bundle + "/config.json";
  if (fs::exists(path)) return report("spec: " + path + " already exists");
  oci::Spec s = a.flag("rootless") ? oci::rootlessSpec(::getuid(), ::getgid()) : oci::defaultSpec();
  if (auto r = fs::writeFileAtomic(path, oci::toJson(s), 0644); !r) return report(r.error());
  return 0;
}

const std::vector<VerbSpec>& verbs() {
  static const std::vector<VerbSpec> v = {
      {"create", {{"bundle", 'b', true}, {"pid-file", 0, true}, {"console-socket", 0, true},
                  {"no-pivot", 0, false}, {"no-new-keyring", 0, false}, {"preserve-fds", 0, true}}},
      {"run", {{"bundle", 'b', true}, {"pid-file", 0, true}, {"console-socket", 0, true},
               {"no-pivot", 0, false}, {"no-new-keyring", 0, false}, {"preserve-fds", 0, true},
               {"detach", 'd', false}, {"keep", 0, false}, {"no-subreaper", 0, false}}},
      {"start", {}},
      {"state", {}},
      {"kill", {{"all", 'a', false}}},
      {"delete", {{"force", 'f', false}}},
      {"exec", {{"process", 'p', true}, {"detach", 'd', false}, {"tty", 't', false},
                {"console-socket", 0, true}, {"pid-file", 0, true}, {"env", 'e', true},
                {"cwd", 0, true}, {"user", 'u', true}, {"additional-gids", 'g', true},
                {"cap", 'c', true}, {"no-new-privs", 0, false}, {"preserve-fds", 0, true},
                {"process-label", 0, true}, {"apparmor", 0, true}, {"ignore-paused", 0, false},
                {"cgroup", 0, true}},
       /*stopAtFirstPositional=*/true},
      {"ps", {{"format", 'f', true}}, true},
      {"list", {{"format", 'f', true}, {"quiet", 'q', false}}},
      {"pause", {}},
      {"resume", {}},
      {"update", {{"resources", 'r', true}, {"memory", 0, true}, {"memory-swap", 0, true},
                  {"memory-reservation", 0, true}, {"pids-limit", 0, true},
                  {"cpu-quota", 0, true}, {"cpu-period", 0, true}, {"cpu-share", 0, true},
                  {"cpuset-cpus", 0, true}, {"cpuset-mems", 0, true}}},
      {"spec", {{"bundle", 'b', true}, {"rootless", 0, false}}},
      {"features", {}},
      {"checkpoint", {}, true},
      {"restore", {}, true},
  };
  return v;
}

void usage() {
  std::printf(
      "usage: berth-runtime [--root DIR] [--log FILE] [--log-format text|json] [--debug]\n"
      "                     [--systemd-cgroup] COMMAND [ARGS]\n"
      "commands: create start run state kill delete exec ps list pause resume update spec "
      "features\n");
}

}  // namespace

int cliMain(int argc, char** argv) {
  std::string root = "/run/berth/runtime", logPath, logFormat = "text";
  bool debug = false, systemdCgroup = false;
  int i = 1;
  for (; i < argc; ++i) {
    std::string_view a = argv[i];
    if (a.empty() || a[0] != '-') break;
    std::string name(a), value;
    bool hasValue = false;
    if (auto eq = name.find('='); eq != std::string::npos) {
      value = name.substr(eq + 1);
      name = name.substr(0, eq);
      hasValue = true;
    }
    auto take = [&]() -> bool {
      if (hasValue) return true;
      if (i + 1 >= argc) return false;
      value = argv[++i];
      return true;
    };
    if (name == "--root") { if (!take()) return report("--root needs a value"); root = value; }
    else if (name == "--log") { if (!take()) return report("--log needs a value"); logPath = value; }
    else if (name == "--log-format") { if (!take()) return report("--log-format needs a value"); logFormat = value; }
    else if (name == "--debug") debug = !hasValue || value == "true";
    else if (name == "--systemd-cgroup") systemdCgroup = !hasValue || value == "true";
    else if (name == "--rootless" || name == "--criu") { if (!hasValue) take(); }
    else if (name == "--version" || name == "-v") {
      std::printf("berth-runtime version %s\nspec: %s\n", kVersion, oci::kOciVersion);
      return 0;
    } else if (name == "--help" || name == "-h") {
      usage();
      return 0;
    } else {
      return report("unknown global option " + name);
    }
  }
  if (logFormat != "text" && logFormat != "json")
    return report("--log-format: expected text or json, got \"" + logFormat + "\"");
  if (!log::init(debug ? log::Level::kDebug : log::Level::kWarn,
                 logFormat == "json" ? log::Format::kJson : log::Format::kText, logPath))
    return report("--log: cannot open " + logPath);
  gLogToFile = !logPath.empty();
  if (i >= argc) {
    usage();
    return 1;
  }
  std::string verb = argv[i++];
  const VerbSpec* vs = nullptr;
  for (const auto& v : verbs())
    if (v.name == verb) vs = &v;
  if (!vs) return report("unknown command \"" + verb + "\"");
  auto args = parseArgs(*vs, argc - i, argv + i);
  if (!args) return report(verb + ": " + args.error().message());
  if (systemdCgroup && (verb == "create" || verb == "run"))
    return report("--systemd-cgroup: the systemd cgroup driver is not supported; use cgroupfs paths");
  Runtime rt(root);
  if (verb == "create") return cmdCreate(rt, *args);
  if (verb == "run") return cmdRun(rt, *args);
  if (verb == "start") {
    if (args->positional.size() != 1) return report("start: expected exactly one container id");
    if (auto r = rt.start(args->positional[0]); !r) return report(r.error());
    return 0;
  }
  if (verb == "state") return cmdState(rt, *args);
  if (verb == "kill") return cmdKill(rt, *args);
  if (verb == "delete") return cmdDelete(rt, *args);
  if (verb == "exec") return cmdExec(rt, *args);
  if (verb == "ps") return cmdPs(rt, *args);
  if (verb == "list") return cmdList(rt, *args);
  if (verb == "pause" || verb == "resume") {
    if (args->positional.size() != 1) return report(verb + ": expected exactly one container id");
    auto r = verb == "pause" ? rt.pause(args->positional[0]) : rt.resume(args->positional[0]);
    if (!r) return report(r.error());
    return 0;
  }
  if (verb == "update") return cmdUpdate(rt, *args);
  if (verb == "spec") return cmdSpec(*args);
  if (verb == "features") {
    std::printf("%s\n", featuresJson().c_str());
    return 0;
  }
  return report(verb + ": not supported by berth-runtime (no CRIU integration)");
}

}  // namespace berth::runtime
