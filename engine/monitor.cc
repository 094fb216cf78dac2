// The full-engine half of a container's monitor (the lean half is engine/monitor/
// berth_monitor.cc, see docs/design/engine.md). One process plays both, by exec:
//
//   `start` forks (setsid, double fork) and calls runMonitor in the child, which claims the
//   record, sets the network and rootfs up, creates and starts the init through
//   berth::runtime in-process (the init is our child), answers the CLI on the sync pipe, and
//   execs `berth-monitor`: same pid, still the init's parent, a few hundred KiB resident.
//   When the init exits, berth-monitor execs `berth __monitor-exit ...` (runMonitorExit): it
//   records the exit, applies the restart policy with backoff (a restart starts a new init
//   and execs berth-monitor again), or tears down, removes --rm containers and writes the
//   exit code to the attached CLI.
//
// fds: 0 = the container's stdin (with -t: what berth-monitor copies into the pty when the
// CLI is attached with -i), 1/2 = the attached CLI's stdout/stderr (or /dev/null),
// 3 = sync pipe ("ok" or "err CODE MESSAGE" once the first start is decided; closed after),
// 4 = exit channel (the exit code, for an attached CLI).
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <memory>

#include "common/fs.h"
#include "common/log.h"
#include "common/scoped_pid.h"
#include "engine/bundle.h"
#include "engine/engine.h"
#include "engine/monitor/monitor_util.h"
#include "runtime/process_setup.h"
#include "runtime/runtime.h"

namespace berth::engine {
namespace {

using monitor::kSignals;
using monitor::monoMs;
using monitor::writeAll;

// Docker's rule for a process that could not be started.
int startFailureCode(const Error& e) {
  const std::string& m = e.message();
  if (e.is(ENOENT) || m.find("no such file") != std::string::npos ||
      m.find("No such file") != std::string::npos || m.find("not found") != std::string::npos)
    return 127;
  if (e.is(EACCES) || m.find("ermission denied") != std::string::npos) return 126;
  return 125;
}

std::string selfExe() { return fs::selfExe().value_or("/usr/bin/berth"); }

std::string siblingExe(const std::string& name) {
  return fs::siblingExe(name).value_or("/usr/bin/" + name);
}

// The self-pipe handlers (monitor_util.h), and an empty signal mask.
Result<UniqueFd> installSignals() {
  int rd = monitor::installSelfPipeSignals();
  if (rd < 0) return failErrno("pipe");
  sigset_t none;
  sigemptyset(&none);
  ::sigprocmask(SIG_SETMASK, &none, nullptr);
  return UniqueFd(rd);
}

// The pty's first size: the attached caller's terminal, else 24x80 (a detached container's
// programs would otherwise see 0x0).
oci::ConsoleSize terminalSize(bool attached) {
  struct winsize ws {};
  if (attached)
    for (int fd : {1, 0})
      if (::ioctl(fd, TIOCGWINSZ, &ws) == 0 && ws.ws_row && ws.ws_col)
        return oci::ConsoleSize{ws.ws_row, ws.ws_col};
  return oci::ConsoleSize{24, 80};
}

class Monitor {
 public:
  Monitor(std::unique_ptr<Engine> eng, std::string id, bool attach, bool interactive,
          UniqueFd sigfd)
      : eng_(std::move(eng)),
        id_(std::move(id)),
        attach_(attach),
        interactive_(interactive),
        sigfd_(std::move(sigfd)) {}

  /// `__monitor`: claim, set up, start the init, answer on the sync pipe, become berth-monitor.
  int start();
  /// `__monitor-exit`: the init exited with `exitCode`; restart it or finish.
  int exited(int exitCode, int64_t backoffMs, int64_t startedMs, bool unhealthyKill);

 private:
  Result<void> startOnce();
  [[noreturn]] void becomeLean();
  bool shouldRestart(int exitCode);
  int finish(int exitCode);

  std::unique_ptr<Engine> eng_;
  std::string id_;
  bool attach_, interactive_;
  Record rec_;
  UniqueFd sigfd_;
  UniqueFd out_, err_;
  pid_t init_ = -1;
  int64_t startedMs_ = 0, backoffMs_ = 100;
};

Result<void> Monitor::startOnce() {
  const auto& c = rec_.config;
  BERTH_ASSIGN(auto spec, buildSpec(rec_, eng_->paths(),
                                    c.network == "host" ? "" : eng_->paths().netns(id_)));
  runtime::CreateOptions co;
  co.id = id_;
  co.bundle = eng_->paths().containerDir(id_);
  // berth's default seccomp profile (or none) lets the init's exec stub wait on the fifo.
  co.vforkInit = c.privileged || c.seccomp.empty() || c.seccomp == "unconfined";
  UniqueFd outW, errW, consoleOurs, consoleTheirs;
  out_.reset();
  err_.reset();
  spec.process->terminal = c.tty;
  if (c.tty) {
    // -t: the init makes a pty in the container's own devpts, takes the slave as its
    // controlling terminal and stdio, and sends us the master, which berth-monitor holds.
    int sp[2];
    if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp) < 0) return failErrno("socketpair");
    consoleOurs.reset(sp[0]);
    consoleTheirs.reset(sp[1]);
    co.consoleSocketFd = consoleTheirs.get();
    spec.process->consoleSize = terminalSize(attach_);
  } else {
    int p[2];
    if (::pipe2(p, O_CLOEXEC) < 0) return failErrno("pipe");
    out_.reset(p[0]);
    outW.reset(p[1]);
    if (::pipe2(p, O_CLOEXEC) < 0) return failErrno("pipe");
    err_.reset(p[0]);
    errW.reset(p[1]);
    co.stdio = {0, outW.get(), errW.get()};
  }
  co.spec = std::make_shared<const oci::Spec>(std::move(spec));
  (void)::unlink((co.bundle + "/health.json").c_str());
  BERTH_TRY(eng_->runtime().create(co));
  outW.reset();
  errW.reset();
  if (c.tty) {
    // The init sent the master before it reported ready, so it is waiting in the socket.
    consoleTheirs.reset();
    auto master = runtime::recvFd(consoleOurs.get());
    if (!master) {
      (void)eng_->runtime().remove(id_, true);
      return fail(master.error().context("receive the pty master"));
    }
    out_.reset(*master);
  }
  auto st = eng_->runtime().state(id_);
  if (!st) {
    (void)eng_->runtime().remove(id_, true);
    return fail(std::move(st.error()));
  }
  init_ = st->pid;
  if (auto s = eng_->runtime().start(id_); !s) {
    (void)eng_->runtime().remove(id_, true);
    int stt;
    ::waitpid(init_, &stt, WNOHANG);
    return fail(std::move(s.error()));
  }
  startedMs_ = monoMs();
  uint64_t ps = pidStartTime(init_).value_or(0);
  BERTH_ASSIGN(rec_, eng_->records().modify(id_, [&](Record& x) -> Result<void> {
    if (x.state != State::kRemoving) x.state = State::kRunning;
    x.pid = init_;
    x.pidStart = ps;
    x.started = nowNs();
    x.error.clear();
    x.health = x.config.health ? "starting" : "";
    x.healthFailures = 0;
    return {};
  }));
  return {};
}

void Monitor::becomeLean() {
  const auto& c = rec_.config;
  const auto& p = eng_->paths();
  std::string exe = siblingExe("berth-monitor");
  std::vector<std::string> args = {
      exe, "root=" + p.root, "runroot=" + p.runroot, "id=" + id_,
      "dir=" + p.containerDir(id_), "log=" + p.log(id_), "berth=" + selfExe(),
      "runtime=" + siblingExe("berth-runtime"), "init=" + std::to_string(init_),
      std::string("attach=") + (attach_ ? "1" : "0"),
      "logmax=" + std::to_string(c.logMaxSize), "logfiles=" + std::to_string(c.logMaxFile),
      "started=" + std::to_string(startedMs_), "backoff=" + std::to_string(backoffMs_),
      std::string("restart=") + (c.restart.name != "no" ? "1" : "0"),
      std::string("tty=") + (c.tty ? "1" : "0"),
      std::string("stdin=") + (attach_ && interactive_ ? "1" : "0")};
  if (c.health && !c.health->test.empty()) {
    const auto& h = *c.health;
    std::vector<std::string> cmd;
    if (h.test[0] == "CMD-SHELL" && h.test.size() > 1) cmd = {"/bin/sh", "-c", h.test[1]};
    else if (h.test[0] == "CMD") cmd.assign(h.test.begin() + 1, h.test.end());
    else cmd = h.test;
    if (!cmd.empty()) {
      args.push_back("hinterval=" + std::to_string(h.intervalMs));
      args.push_back("htimeout=" + std::to_string(h.timeoutMs));
      args.push_back("hstart=" + std::to_string(h.startPeriodMs));
      args.push_back("hretries=" + std::to_string(h.retries));
      args.push_back("--");
      args.insert(args.end(), cmd.begin(), cmd.end());
    }
  }
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  // berth-monitor installs its handlers first thing; until then a stop's SIGUSR1 must not
  // kill us (SIGCHLD stays default: ignoring it would reap the init behind our back). This
  // comes before the dup2s below, which may close the self-pipe's read end: a SIGCHLD from
  // an init that already exited would then write into a pipe without reader, and the
  // handler would be re-entered by its own SIGPIPE for ever.
  for (int s : kSignals)
    if (s != SIGCHLD) ::signal(s, SIG_IGN);
  ::signal(SIGCHLD, SIG_DFL);
  // fd 3: the init's stdout pipe or the pty master; fd 5: its stderr pipe (none with a pty).
  ::dup2(out_.get(), 3);
  if (err_) ::dup2(err_.get(), 5);
  else ::close(5);
  ::fcntl(4, F_SETFD, 0);
  // We may still be running in the CLI's memory (Engine::spawnMonitor): our SQLite handle
  // must be closed before the exec, or SQLite's lock records there would claim it is open.
  eng_->closeRecords();
  ::execv(exe.c_str(), argv.data());
  int e = errno;
  // Without its watcher the container must not run on unseen: stop it and record why.
  ::kill(init_, SIGKILL);
  int st;
  ::waitpid(init_, &st, 0);
  if (!eng_->reopenRecords()) ::_exit(1);
  (void)eng_->records().modify(id_, [&](Record& x) -> Result<void> {
    x.error = "cannot run " + exe + ": " + std::strerror(e);
    return {};
  });
  ::_exit(finish(125));
}

bool Monitor::shouldRestart(int exitCode) {
  auto cur = eng_->records().get(id_);
  if (!cur) return false;
  rec_ = *cur;
  if (rec_.stopRequested || rec_.state == State::kRemoving) return false;
  const auto& p = rec_.config.restart;
  if (p.name == "always" || p.name == "unless-stopped") return true;
  if (p.name == "on-failure")
    return exitCode != 0 && (p.maxRetries == 0 || rec_.restartCount < p.maxRetries);
  return false;
}

// Teardown, the exit in the record, and --rm: the end of a container that is not restarted.
void recordExit(Engine& eng, Record& r, int exitCode) {
  (void)eng.teardownRuntimeEnv(r);
  auto fin = eng.records().modify(r.id, [&](Record& x) -> Result<void> {
    if (x.state != State::kRemoving) x.state = State::kExited;
    x.exitCode = exitCode;
    x.finished = nowNs();
    x.pid = 0;
    x.monitorPid = 0;
    x.monitorStart = 0;
    x.health.clear();
    return {};
  });
  if (fin && fin->state == State::kExited && fin->config.autoRemove) {
    (void)eng.deleteContainer(*fin, true);
  }
}

int Monitor::finish(int exitCode) {
  recordExit(*eng_, rec_, exitCode);
  writeAll(4, std::to_string(exitCode) + "\n");
  return 0;
}

int Monitor::start() {
  int syncFd = 3;
  std::string lean = siblingExe("berth-monitor");
  if (::access(lean.c_str(), X_OK) != 0) {
    writeAll(syncFd, "err 125 cannot run " + lean + ": " + std::strerror(errno) + "\n");
    return 1;
  }
  auto claim = eng_->records().modify(id_, [&](Record& x) -> Result<void> {
    if (!x.lifecycle().canStart())
      return fail(ErrorCode::kFailedPrecondition, "container " + x.name + " is already running");
    if (x.monitorPid > 0 && x.monitorPid != ::getpid() && pidAlive(x.monitorPid, x.monitorStart))
      return fail(ErrorCode::kFailedPrecondition, "container " + x.name + " is being started");
    x.monitorPid = ::getpid();
    x.monitorStart = pidStartTime(::getpid()).value_or(0);
    x.stopRequested = false;
    x.restartCount = 0;
    x.healthLog.clear();
    return {};
  });
  if (!claim) {
    writeAll(syncFd, "err 125 " + claim.error().message() + "\n");
    return 1;
  }
  rec_ = *claim;
  Result<void> ok = eng_->setupRuntimeEnv(rec_);
  if (ok) ok = startOnce();
  if (!ok) {
    int exitCode = startFailureCode(ok.error());
    std::string msg = ok.error().message();
    (void)eng_->records().modify(id_, [&](Record& x) -> Result<void> {
      x.error = msg;
      return {};
    });
    writeAll(syncFd, "err " + std::to_string(exitCode) + " " + msg + "\n");
    ::close(syncFd);
    return finish(exitCode);
  }
  writeAll(syncFd, "ok\n");
  ::close(syncFd);
  becomeLean();
}

int Monitor::exited(int exitCode, int64_t backoffMs, int64_t startedMs, bool unhealthyKill) {
  (void)eng_->runtime().remove(id_, true);
  auto cur = eng_->records().get(id_);
  if (!cur) {  // removed under us (rm -f): nothing left to record
    writeAll(4, std::to_string(exitCode) + "\n");
    return 0;
  }
  rec_ = *cur;
  if (!shouldRestart(exitCode) &&
      !(unhealthyKill && !rec_.stopRequested && rec_.state != State::kRemoving))
    return finish(exitCode);
  backoffMs_ = monoMs() - startedMs > 10000 ? 100 : backoffMs;
  auto m = eng_->records().modify(id_, [&](Record& x) -> Result<void> {
    if (x.state == State::kRemoving) return fail(ErrorCode::kFailedPrecondition, "removing");
    x.state = State::kRestarting;
    x.exitCode = exitCode;
    x.finished = nowNs();
    x.pid = 0;
    x.health.clear();
    return {};
  });
  if (!m) return finish(exitCode);
  rec_ = *m;
  // Back off, but wake at once when stop/rm signal us (SIGUSR1) to look at the record.
  int64_t until = monoMs() + backoffMs_;
  for (int64_t left; (left = until - monoMs()) > 0;) {
    pollfd p{sigfd_.get(), POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(left) + 1) > 0) {
      char junk[64];
      while (::read(sigfd_.get(), junk, sizeof junk) > 0) {
      }
      auto now = eng_->records().get(id_);
      if (!now || now->stopRequested || now->state == State::kRemoving) return finish(exitCode);
    }
  }
  backoffMs_ = std::min<int64_t>(backoffMs_ * 2, 30000);
  if (auto inc = eng_->records().modify(id_, [](Record& x) -> Result<void> {
        x.restartCount++;
        return {};
      }))
    rec_ = *inc;
  if (auto ok = startOnce(); !ok) {
    std::string msg = ok.error().message();
    (void)eng_->records().modify(id_, [&](Record& x) -> Result<void> {
      x.error = msg;
      return {};
    });
    return finish(startFailureCode(ok.error()));
  }
  becomeLean();
}

}  // namespace

bool Engine::finishExit(const std::string& id, int exitCode, bool unhealthyKill) {
  if (unhealthyKill) return false;
  auto r = store_->get(id);
  if (!r) return false;
  // Anything that may restart stays with the monitor (backoff, new init as its child).
  if (r->config.restart.name != "no" || !r->lifecycle().isActive()) return false;
  (void)runtime().remove(id, true);
  recordExit(*this, *r, exitCode);
  return true;
}

namespace {

Result<std::unique_ptr<Monitor>> openMonitor(const std::string& root, const std::string& runroot,
                                             const std::string& id, bool attach,
                                             bool interactive) {
  for (int fd : {3, 4}) ::fcntl(fd, F_SETFD, FD_CLOEXEC);
  ::prctl(PR_SET_CHILD_SUBREAPER, 1);
  BERTH_ASSIGN(auto sigfd, installSignals());
  BERTH_ASSIGN(auto eng, Engine::open(root, runroot));
  log::init(log::Level::kWarn, log::Format::kText, eng->paths().containerDir(id) + "/monitor.log");
  return std::make_unique<Monitor>(std::move(eng), id, attach, interactive, std::move(sigfd));
}

}  // namespace

int runMonitor(const std::string& root, const std::string& runroot, const std::string& id,
               bool attach, bool interactive) {
  auto m = openMonitor(root, runroot, id, attach, interactive);
  if (!m) {
    writeAll(3, "err 125 " + m.error().message() + "\n");
    return 1;
  }
  return (*m)->start();
}

int runMonitorExit(const std::string& root, const std::string& runroot, const std::string& id,
                   bool attach, bool interactive, int exitCode, int64_t backoffMs,
                   int64_t startedMs, bool unhealthyKill) {
  auto m = openMonitor(root, runroot, id, attach, interactive);
  if (!m) {
    writeAll(4, std::to_string(exitCode) + "\n");
    return 1;
  }
  return (*m)->exited(exitCode, backoffMs, startedMs, unhealthyKill);
}

}  // namespace berth::engine
