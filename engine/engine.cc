#include "engine/engine.h"

#include <fcntl.h>
#include <signal.h>
#include <sched.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <thread>

#include <nlohmann/json.hpp>

#include "common/fs.h"
#include "common/log.h"
#include "common/strings.h"
#include "engine/bundle.h"
#include "engine/tty.h"
#include "image/store.h"
#include "common/scoped_pid.h"
#include "runtime/process_setup.h"
#include "runtime/runtime.h"

namespace berth::engine {
namespace {

std::string randomName() {
  static const char* kAdj[] = {"brave", "calm", "eager", "fancy", "gentle", "happy", "jolly",
                               "keen", "lucid", "merry", "nifty", "proud", "quiet", "swift",
                               "tidy", "vivid", "witty", "zesty"};
  static const char* kNoun[] = {"otter", "heron", "lynx", "panda", "quail", "raven", "seal",
                                "tern", "vole", "wren", "yak", "zebu", "ibis", "koala", "moth"};
  auto h = str::randomHex(4);
  auto v = std::stoul(h, nullptr, 16);
  return std::string(kAdj[v % 18]) + "_" + kNoun[(v / 18) % 15] + "_" + h.substr(0, 4);
}

uint64_t selfStart() { return pidStartTime(::getpid()).value_or(0); }

}  // namespace

Engine::Engine(Paths p, std::unique_ptr<RecordStore> s)
    : paths_(std::move(p)), store_(std::move(s)) {
  nets_ = std::make_unique<network::NetworkStore>(paths_.root, paths_.runroot);
}
Engine::~Engine() = default;

Result<std::unique_ptr<Engine>> Engine::open(const std::string& root, const std::string& runroot) {
  BERTH_ASSIGN(auto store, RecordStore::open(root));
  return std::unique_ptr<Engine>(new Engine(Paths{root, runroot}, std::move(store)));
}

runtime::Runtime& Engine::runtime() {
  if (!runtime_) runtime_ = std::make_unique<runtime::Runtime>(paths_.runtimeRoot());
  return *runtime_;
}

Result<void> Engine::ensureVolume(const std::string& name, bool anonymous) {
  auto v = store_->getVolume(name);
  if (!v) {
    if (!v.error().is(ErrorCode::kNotFound)) return fail(std::move(v.error()));
    VolumeRecord nv{name, "local", nowNs(), {}, anonymous};
    BERTH_TRY(fs::mkdirs(paths_.volumeData(name), 0755));
    auto r = store_->insertVolume(nv);
    if (!r && !r.error().is(ErrorCode::kAlreadyExists)) return r;
  }
  return fs::mkdirs(paths_.volumeData(name), 0755);
}

Result<Record> Engine::create(const RunFlags& flags) {
  BERTH_ASSIGN(ContainerConfig cfg, parseRunFlags(flags));
  if (cfg.network != "host" && cfg.network != "none" && cfg.network != network::kDefaultNetwork) {
    auto n = nets_->get(cfg.network);
    if (!n) return fail(ErrorCode::kNotFound, "network " + cfg.network + " not found");
  }
  BERTH_ASSIGN(auto images, image::Store::open(paths_.root));
  auto img = images.resolve(cfg.image);
  if (!img) {
    if (img.error().is(ErrorCode::kNotFound))
      return fail(ErrorCode::kNotFound, "Unable to find image '" + cfg.image + "' locally");
    return fail(std::move(img.error()));
  }
  BERTH_TRY(mergeImageConfig(cfg, img->config));
  Record r;
  r.id = str::randomHex(32);
  r.name = flags.name.empty() ? randomName() : flags.name;
  r.image = cfg.image;
  r.imageId = img->id;
  r.config = std::move(cfg);
  r.state = State::kCreating;
  r.ownerPid = ::getpid();
  r.ownerStart = selfStart();
  r.created = nowNs();
  BERTH_TRY(store_->insert(r));
  auto rest = [&]() -> Result<void> {
    BERTH_TRY(images.setLease("container-" + r.id, {img->id}));
    BERTH_ASSIGN(auto lowers, images.snapshotDirs(*img));
    std::string dir = paths_.containerDir(r.id);
    BERTH_TRY(fs::mkdirs(dir, 0700));
    std::string lowerText;
    for (auto& l : lowers) lowerText += l + "\n";
    // No fsync: like the record itself (synchronous=NORMAL), this need not survive an OS
    // crash; rm removes the directory whatever is in it.
    BERTH_TRY(fs::writeFile(dir + "/lowers", lowerText, 0600));
    for (auto& m : r.config.mounts) {
      if (m.type != "volume") continue;
      bool anon = m.source.empty();
      if (anon) m.source = str::randomHex(32);
      BERTH_TRY(ensureVolume(m.source, anon));
    }
    BERTH_ASSIGN(r, store_->modify(r.id, [&](Record& x) -> Result<void> {
      x.config = r.config;
      x.state = State::kCreated;
      x.ownerPid = 0;
      x.ownerStart = 0;
      return {};
    }));
    return {};
  };
  if (auto ok = rest(); !ok) {
    (void)deleteContainer(r, true);
    return fail(std::move(ok.error()));
  }
  return r;
}

namespace {
struct MonitorChild {
  Engine* eng;
  const Record* rec;
  const StartIo* io;
  int syncW, exitW;
};

// The monitor's first moments: our own session (setsid alone detaches us from the CLI's
// terminal; we stay the CLI's child until it exits, it never waits for us), then fds
// 0 = container stdin (or /dev/null), 1/2 = the CLI's stdio when attached, 3 = sync pipe,
// 4 = exit-code channel, nothing else; then the full-engine half of the monitor.
int monitorChildMain(void* arg) {
  auto* m = static_cast<MonitorChild*>(arg);
  ::setsid();
  int devnull = ::open("/dev/null", O_RDWR);
  int in = m->io->interactive ? ::dup(0) : ::dup(devnull);
  int out = m->io->attach ? ::dup(1) : ::dup(devnull);
  int err = m->io->attach ? ::dup(2) : ::dup(devnull);
  int s = ::dup(m->syncW);
  int e = m->exitW >= 0 ? ::dup(m->exitW) : ::dup(devnull);
  ::dup2(in, 0);
  ::dup2(out, 1);
  ::dup2(err, 2);
  ::dup2(s, 3);
  ::dup2(e, 4);
  ::syscall(SYS_close_range, 5, ~0U, 0);
  const Paths& p = m->eng->paths();
  ::_exit(runMonitor(p.root, p.runroot, m->rec->id, m->io->attach, m->io->interactive));
}

// True when this process has one thread (/proc/self/stat field 20).
bool singleThreaded() {
  auto stat = fs::readFile("/proc/self/stat");
  if (!stat) return false;
  auto close = stat->rfind(')');
  if (close == std::string::npos) return false;
  auto fields = str::split(stat->substr(close + 2), ' ');
  return fields.size() > 17 && fields[17] == "1";
}
}  // namespace

Result<void> Engine::spawnMonitor(const Record& r, const StartIo& io, UniqueFd& syncRead,
                                  UniqueFd* exitRead) {
  int sp[2], ep[2] = {-1, -1};
  if (::pipe2(sp, O_CLOEXEC) < 0) return failErrno("pipe");
  syncRead.reset(sp[0]);
  UniqueFd syncW(sp[1]);
  UniqueFd exitW;
  if (io.attach) {
    // A socket, not a pipe: the monitor asks the attached CLI to finish the exit (see
    // finishExit) and waits for its answer on the same channel.
    if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, ep) < 0) return failErrno("socketpair");
    exitRead->reset(ep[0]);
    exitW.reset(ep[1]);
  }
  // SQLite keeps per-process lock and shared-memory state that a child must not inherit:
  // close our handle around the spawn, reopen it after.
  store_.reset();
  MonitorChild mc{this, &r, &io, syncW.get(), exitW ? exitW.get() : -1};
  pid_t pid = -1;
  if (singleThreaded()) {
    // The monitor starts in our address space (CLONE_VM) on a stack of its own, and we are
    // suspended (CLONE_VFORK) until it execs berth-monitor or exits. A fork would copy our
    // page tables and then take a copy-on-write fault for every page either side touches
    // (30-50 us each on these VMs: a fifth of a `run`). This is safe because we are single-
    // threaded and suspended, so the child is in effect a call that never returns: it
    // allocates on our heap (leaked to us, harmlessly), and before its exec it closes the
    // SQLite handle it opened (see Monitor::becomeLean), so SQLite's process-wide lock
    // records in our memory are as we left them. Its fds, signal dispositions, session and
    // cwd are its own (no CLONE_FILES/SIGHAND/FS).
    constexpr size_t kStack = 1 << 20;
    void* stack = ::mmap(nullptr, kStack, PROT_READ | PROT_WRITE,
                         MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
    if (stack != MAP_FAILED) {
      pid = ::clone(monitorChildMain, static_cast<char*>(stack) + kStack,
                    CLONE_VM | CLONE_VFORK | SIGCHLD, &mc);
      ::munmap(stack, kStack);
    }
  }
  if (pid < 0) {
    // Threads besides ours (a pull's workers) could be inside malloc: fork instead.
    pid = ::fork();
    if (pid == 0) ::_exit(monitorChildMain(&mc));
  }
  auto reopened = reopenRecords();
  if (pid < 0) return failErrno("fork monitor");
  if (!reopened) return fail(std::move(reopened.error()));
  return {};
}

Result<void> Engine::reopenRecords() {
  BERTH_ASSIGN(store_, RecordStore::open(paths_.root));
  return {};
}

Result<void> Engine::start(const std::string& ref, const StartIo& io, UniqueFd* exitPipe,
                           int* exitCode) {
  BERTH_ASSIGN(Record r, get(ref));
  if (!r.lifecycle().canStart()) {
    if (r.lifecycle().isActive()) return fail(ErrorCode::kFailedPrecondition,
                                              "container " + ref + " is already running");
    return fail(ErrorCode::kFailedPrecondition,
                "cannot start container " + ref + " in state " + std::string(stateName(r.state)));
  }
  UniqueFd syncR, dummy;
  BERTH_TRY(spawnMonitor(r, io, syncR, exitPipe ? exitPipe : &dummy));
  std::string msg;
  char buf[4096];
  for (;;) {
    ssize_t n = ::read(syncR.get(), buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    msg.append(buf, static_cast<size_t>(n));
  }
  if (str::startsWith(msg, "ok")) return {};
  if (str::startsWith(msg, "err ")) {
    auto rest = msg.substr(4);
    auto [code, text] = str::splitOnce(rest, ' ');
    if (exitCode) *exitCode = static_cast<int>(str::parseI64(code).value_or(125));
    std::string t = std::string(str::trim(text.value_or("start failed")));
    return fail(ErrorCode::kFailedPrecondition, t);
  }
  return fail(ErrorCode::kInternal, "the container monitor died before the container started");
}

int Engine::waitAttached(UniqueFd& exitPipe, const std::string& id) {
  std::string msg;
  char buf[64];
  for (;;) {
    ssize_t n = ::read(exitPipe.get(), buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    msg.append(buf, static_cast<size_t>(n));
  }
  if (auto c = str::parseI64(str::trim(msg)); c) return static_cast<int>(*c);
  auto r = get(id);
  return r ? r->exitCode : 125;
}

namespace {
// While the init runs, health is the monitor's to write (<dir>/health.json, see
// engine/monitor/berth_monitor.cc): fold it into the record we report.
void overlayHealth(Record& r, const std::string& file) {
  auto text = fs::readFile(file);
  if (!text) return;
  auto j = nlohmann::json::parse(*text, nullptr, false);
  if (!j.is_object()) return;
  r.health = j.value("Status", r.health);
  r.healthFailures = j.value("FailingStreak", 0);
  if (auto l = j.find("Log"); l != j.end() && l->is_array()) r.healthLog = l->dump();
}
}  // namespace

Record Engine::reconcile(Record r) {
  auto lc = r.lifecycle();
  if (lc.isActive() && r.config.health && r.state != State::kRestarting)
    overlayHealth(r, paths_.containerDir(r.id) + "/health.json");
  if (lc.isActive()) {
    if (pidAlive(r.monitorPid, r.monitorStart)) return r;
    if (r.pid > 0 && pidAlive(r.pid, r.pidStart)) return r;  // orphaned but running
    auto fixed = store_->modify(r.id, [&](Record& x) -> Result<void> {
      if (!x.lifecycle().isActive() || pidAlive(x.monitorPid, x.monitorStart))
        return fail(ErrorCode::kFailedPrecondition, "changed");
      x.state = State::kExited;
      if (x.finished < x.started) {
        x.finished = nowNs();
        x.exitCode = x.stopRequested ? 137 : 255;
      }
      x.pid = 0;
      x.monitorPid = 0;
      x.health.clear();
      return {};
    });
    if (fixed) return *fixed;
    auto again = store_->get(r.id);
    return again ? *again : r;
  }
  if (r.state == State::kCreating || r.state == State::kRemoving) {
    if (pidAlive(r.ownerPid, r.ownerStart)) return r;
    auto fixed = store_->modify(r.id, [&](Record& x) -> Result<void> {
      if (x.state != State::kCreating && x.state != State::kRemoving)
        return fail(ErrorCode::kFailedPrecondition, "changed");
      if (pidAlive(x.ownerPid, x.ownerStart))
        return fail(ErrorCode::kFailedPrecondition, "changed");
      x.state = State::kDead;
      return {};
    });
    if (fixed) return *fixed;
  }
  return r;
}

Result<Record> Engine::stop(const std::string& ref, std::optional<int> timeout) {
  BERTH_ASSIGN(Record r, get(ref));
  if (!r.lifecycle().canStop()) return r;  // stopping a stopped container is fine (Docker)
  BERTH_ASSIGN(r, store_->modify(r.id, [](Record& x) -> Result<void> {
    x.stopRequested = true;
    return {};
  }));
  if (r.state == State::kRestarting) {
    if (r.monitorPid > 0) ::kill(r.monitorPid, SIGUSR1);
  } else {
    int t = timeout.value_or(r.config.stopTimeout);
    if (r.state == State::kPaused) (void)runtime().resume(r.id);
    (void)runtime().kill(r.id, r.config.stopSignal);
    if (r.pid > 0 && r.config.stopSignal != SIGKILL &&
        !waitPidGone(r.pid, r.pidStart, t < 0 ? -1 : t * 1000)) {
      if (!runtime().kill(r.id, SIGKILL, true) && r.pid > 0) ::kill(r.pid, SIGKILL);
    }
    if (r.pid > 0) waitPidGone(r.pid, r.pidStart, 10000);
  }
  if (r.monitorPid > 0) {
    ::kill(r.monitorPid, SIGUSR1);
    waitPidGone(r.monitorPid, r.monitorStart, 15000);
  }
  auto after = get(r.id);
  if (!after && after.error().is(ErrorCode::kNotFound)) return r;  // --rm removed it
  return after;
}

Result<Record> Engine::kill(const std::string& ref, int sig) {
  BERTH_ASSIGN(Record r, get(ref));
  if (!r.lifecycle().canKill())
    return fail(ErrorCode::kFailedPrecondition, "container " + ref + " is not running");
  if (sig == SIGKILL || sig == r.config.stopSignal) {
    BERTH_ASSIGN(r, store_->modify(r.id, [](Record& x) -> Result<void> {
      x.stopRequested = true;
      return {};
    }));
  }
  auto k = runtime().kill(r.id, sig);
  if (!k) {
    if (r.pid > 0 && pidAlive(r.pid, r.pidStart) && ::kill(r.pid, sig) == 0) return r;
    return fail(std::move(k.error()).context("kill " + ref));
  }
  return r;
}

Result<Record> Engine::restart(const std::string& ref, std::optional<int> timeout) {
  BERTH_ASSIGN(Record r, stop(ref, timeout));
  StartIo io;
  BERTH_TRY(start(r.id, io, nullptr));
  return get(r.id);
}

Result<Record> Engine::pause(const std::string& ref) {
  BERTH_ASSIGN(Record r, get(ref));
  if (!r.lifecycle().canPause())
    return fail(ErrorCode::kFailedPrecondition, "container " + ref + " is not running");
  BERTH_TRY_CTX(runtime().pause(r.id), "pause " + ref);
  return store_->modify(r.id, [](Record& x) -> Result<void> {
    if (x.state == State::kRunning) x.state = State::kPaused;
    return {};
  });
}

Result<Record> Engine::unpause(const std::string& ref) {
  BERTH_ASSIGN(Record r, get(ref));
  if (!r.lifecycle().canUnpause())
    return fail(ErrorCode::kFailedPrecondition, "container " + ref + " is not paused");
  BERTH_TRY_CTX(runtime().resume(r.id), "unpause " + ref);
  return store_->modify(r.id, [](Record& x) -> Result<void> {
    if (x.state == State::kPaused) x.state = State::kRunning;
    return {};
  });
}

Result<Record> Engine::remove(const std::string& ref, bool force, bool volumes) {
  BERTH_ASSIGN(Record r, get(ref));
  if (!r.lifecycle().canRemove(force)) {
    if (r.lifecycle().isActive())
      return fail(ErrorCode::kFailedPrecondition,
                  "cannot remove container " + ref +
                      ": container is running: stop the container before removing or force "
                      "remove");
    return fail(ErrorCode::kFailedPrecondition,
                "cannot remove container " + ref + " in state " + std::string(stateName(r.state)));
  }
  bool wasActive = r.lifecycle().isActive();
  BERTH_ASSIGN(r, store_->modify(r.id, [&](Record& x) -> Result<void> {
    if (!x.lifecycle().canRemove(force))
      return fail(ErrorCode::kFailedPrecondition, "container " + ref + " changed state");
    x.state = State::kRemoving;
    x.stopRequested = true;
    x.ownerPid = ::getpid();
    x.ownerStart = selfStart();
    return {};
  }));
  if (wasActive) {
    if (!runtime().kill(r.id, SIGKILL, true) && r.pid > 0 && pidAlive(r.pid, r.pidStart))
      ::kill(r.pid, SIGKILL);
    if (r.pid > 0) waitPidGone(r.pid, r.pidStart, 10000);
    if (r.monitorPid > 0) {
      ::kill(r.monitorPid, SIGUSR1);
      waitPidGone(r.monitorPid, r.monitorStart, 15000);
    }
    auto again = store_->get(r.id);
    if (!again) return r;  // the monitor removed it (--rm)
    r = *again;
  }
  BERTH_TRY(teardownRuntimeEnv(r));
  BERTH_TRY(deleteContainer(r, volumes));
  return r;
}

Result<int> Engine::wait(const std::string& ref) {
  BERTH_ASSIGN(Record r, get(ref));
  while (r.lifecycle().isActive() || (r.state == State::kCreated && r.monitorPid > 0 &&
                                      pidAlive(r.monitorPid, r.monitorStart))) {
    if (r.monitorPid > 0 && pidAlive(r.monitorPid, r.monitorStart)) {
      waitPidGone(r.monitorPid, r.monitorStart, 1000);
    } else if (r.pid > 0) {
      waitPidGone(r.pid, r.pidStart, 1000);
    }
    auto n = get(r.id);
    if (!n) {
      if (n.error().is(ErrorCode::kNotFound)) return r.exitCode;
      return fail(std::move(n.error()));
    }
    r = *n;
  }
  return r.exitCode;
}

Result<void> Engine::rename(const std::string& ref, const std::string& newName) {
  if (!validContainerName(newName))
    return fail(ErrorCode::kInvalidArgument, "invalid container name \"" + newName + "\"");
  BERTH_ASSIGN(Record r, get(ref));
  if (!r.lifecycle().canRename())
    return fail(ErrorCode::kFailedPrecondition, "cannot rename container " + ref + " now");
  BERTH_TRY(store_->rename(r.id, newName));
  refreshHosts();
  return {};
}

Result<ExecResult> Engine::exec(const std::string& ref, const ExecRequest& req) {
  BERTH_ASSIGN(Record r, get(ref));
  if (!r.lifecycle().canExec()) {
    if (r.state == State::kPaused)
      return fail(ErrorCode::kFailedPrecondition, "container " + ref + " is paused, unpause it first");
    return fail(ErrorCode::kFailedPrecondition, "container " + ref + " is not running");
  }
  if (req.args.empty()) return fail(ErrorCode::kInvalidArgument, "exec needs a command");
  runtime::ExecOptions o;
  o.args = req.args;
  o.env = req.env;
  o.cwd = req.workdir;
  if (!req.user.empty()) {
    BERTH_ASSIGN(auto u, resolveUser(paths_.rootfs(r.id), req.user));
    o.uid = u.uid;
    o.gid = u.gid;
    o.additionalGids = u.additionalGids;
  }
  UniqueFd devnull(::open("/dev/null", O_RDWR | O_CLOEXEC));
  o.stdio.in = req.interactive ? 0 : devnull.get();
  if (req.detach) o.stdio.out = o.stdio.err = devnull.get();
  // -t (not detached): the process gets a pty of the container's devpts as its controlling
  // terminal; we receive the master and copy it to and from our stdio.
  UniqueFd consoleOurs, consoleTheirs;
  if (req.tty && !req.detach) {
    int sp[2];
    if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp) < 0) return failErrno("socketpair");
    consoleOurs.reset(sp[0]);
    consoleTheirs.reset(sp[1]);
    o.tty = true;
    o.consoleSocketFd = consoleTheirs.get();
    auto hasTerm = [](const std::vector<std::string>& env) {
      for (const auto& e : env)
        if (str::startsWith(e, "TERM=")) return true;
      return false;
    };
    if (!hasTerm(req.env) && !hasTerm(r.config.env)) o.env.push_back("TERM=xterm");
  }
  auto pid = runtime().exec(r.id, o);
  if (!pid) {
    auto& e = pid.error();
    const std::string& m = e.message();
    if (e.is(ENOENT) || m.find("no such file") != std::string::npos ||
        m.find("not found") != std::string::npos)
      return ExecResult{127, m};
    if (e.is(EACCES) || m.find("ermission denied") != std::string::npos)
      return ExecResult{126, m};
    return fail(std::move(pid.error()));
  }
  if (req.detach) {
    // Reaped by us on exit would block; let init of the container's pid ns not matter: we
    // double-wait nothing and leave it. The berth process exits right away, so the child is
    // reparented and reaped by the host's init.
    return ExecResult{0, {}};
  }
  if (o.tty) {
    consoleTheirs.reset();
    auto master = runtime::recvFd(consoleOurs.get());
    if (!master) {
      ::kill(*pid, SIGKILL);
      ::waitpid(*pid, nullptr, 0);
      return fail(master.error().context("receive the pty master"));
    }
    UniqueFd m(*master);
    return ExecResult{exitCodeFromStatus(pumpTerminal(m.get(), req.interactive, *pid)), {}};
  }
  int st = 0;
  while (::waitpid(*pid, &st, 0) < 0 && errno == EINTR) {
  }
  return ExecResult{exitCodeFromStatus(st), {}};
}

}  // namespace berth::engine
