// The per-container monitor: `berth __monitor ROOT RUNROOT ID attach|detach`, started detached
// (setsid + double fork) by `start`. It is a child subreaper, so the container init (created
// in-process through berth::runtime) is its child; it pumps the init's stdout/stderr into
// rotated JSON-line logs (and to the attached CLI), runs health checks, records the exit,
// applies the restart policy with backoff, tears the network and rootfs down and removes --rm
// containers.
//
// fds on entry: 0 = the container's stdin, 1/2 = the attached CLI's stdout/stderr (or
// /dev/null), 3 = sync pipe ("ok" or "err CODE MESSAGE" once the first start is decided),
// 4 = exit pipe (the exit code, for an attached CLI).
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/timerfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <memory>
#include <nlohmann/json.hpp>

#include "common/log.h"
#include "common/scoped_pid.h"
#include "engine/bundle.h"
#include "engine/engine.h"
#include "engine/logs.h"
#include "runtime/runtime.h"

namespace berth::engine {
namespace {

using Clock = std::chrono::steady_clock;

int gSelfPipe = -1;
void onSignal(int) {
  int e = errno;
  char c = 0;
  (void)!::write(gSelfPipe, &c, 1);
  errno = e;
}

void writeAll(int fd, const std::string& s) {
  size_t off = 0;
  while (off < s.size()) {
    ssize_t n = ::write(fd, s.data() + off, s.size() - off);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;
    off += static_cast<size_t>(n);
  }
}

// Docker's rule for a process that could not be started.
int startFailureCode(const Error& e) {
  const std::string& m = e.message();
  if (e.is(ENOENT) || m.find("no such file") != std::string::npos ||
      m.find("No such file") != std::string::npos || m.find("not found") != std::string::npos)
    return 127;
  if (e.is(EACCES) || m.find("ermission denied") != std::string::npos) return 126;
  return 125;
}

struct HealthRun {
  pid_t pid = -1;
  UniqueFd out;
  std::string output;
  Clock::time_point started, deadline;
  int64_t startedNs = 0;
};

class Monitor {
 public:
  Monitor(std::unique_ptr<Engine> eng, std::string id, bool attach, UniqueFd sigfd)
      : eng_(std::move(eng)), id_(std::move(id)), attach_(attach), sigfd_(std::move(sigfd)) {}

  int run();

 private:
  Result<void> startOnce();
  void pump();
  void onHealthTimer();
  void onHealthDone(int status);
  void recordHealth(int exitCode, const std::string& output);
  bool shouldRestart(int exitCode);
  void teeOut(int si, const char* data, size_t n);

  std::unique_ptr<Engine> eng_;
  std::string id_;
  bool attach_;
  Record rec_;
  UniqueFd sigfd_, timer_;
  UniqueFd out_, err_;
  pid_t init_ = -1;
  int status_ = 0;
  bool exited_ = false;
  bool teeOk_ = true;
  bool unhealthyKill_ = false;
  std::unique_ptr<LogWriter> logs_;
  HealthRun hc_;
  Clock::time_point startedAt_;
};

Result<void> Monitor::startOnce() {
  const auto& c = rec_.config;
  BERTH_ASSIGN(auto spec, buildSpec(rec_, eng_->paths(),
                                    c.network == "host" ? "" : eng_->paths().netns(id_)));
  runtime::CreateOptions co;
  co.id = id_;
  co.bundle = eng_->paths().containerDir(id_);
  UniqueFd outW, errW;
  bool direct = c.tty && attach_;  // -t in the foreground: the container shares our terminal
  if (direct) {
    spec.process->terminal = false;
    co.stdio = {0, 1, 2};
  } else {
    spec.process->terminal = false;
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
  BERTH_TRY(eng_->runtime().create(co));
  outW.reset();
  errW.reset();
  auto st = eng_->runtime().state(id_);
  if (!st) {
    (void)eng_->runtime().remove(id_, true);
    return fail(std::move(st.error()));
  }
  init_ = st->pid;
  exited_ = false;
  if (auto s = eng_->runtime().start(id_); !s) {
    (void)eng_->runtime().remove(id_, true);
    int stt;
    ::waitpid(init_, &stt, WNOHANG);
    return fail(std::move(s.error()));
  }
  startedAt_ = Clock::now();
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
  if (c.health) {
    timer_.reset(::timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK));
    itimerspec its{};
    int64_t iv = std::max<int64_t>(c.health->intervalMs, 10);
    its.it_value = {static_cast<time_t>(iv / 1000), static_cast<long>((iv % 1000) * 1000000)};
    its.it_interval = its.it_value;
    ::timerfd_settime(timer_.get(), 0, &its, nullptr);
  }
  return {};
}

void Monitor::teeOut(int si, const char* data, size_t n) {
  if (logs_) logs_->write(si, std::string_view(data, n));
  if (attach_ && teeOk_) {
    int fd = si == 0 ? 1 : 2;
    size_t off = 0;
    while (off < n) {
      ssize_t w = ::write(fd, data + off, n - off);
      if (w < 0 && errno == EINTR) continue;
      if (w <= 0) {
        teeOk_ = false;
        break;
      }
      off += static_cast<size_t>(w);
    }
  }
}

void Monitor::onHealthTimer() {
  uint64_t ticks;
  (void)::read(timer_.get(), &ticks, sizeof ticks);
  if (hc_.pid > 0 || exited_) return;
  const auto& h = *rec_.config.health;
  runtime::ExecOptions o;
  if (h.test[0] == "CMD-SHELL" && h.test.size() > 1) o.args = {"/bin/sh", "-c", h.test[1]};
  else if (h.test[0] == "CMD") o.args.assign(h.test.begin() + 1, h.test.end());
  else o.args = h.test;
  if (o.args.empty()) return;
  int p[2];
  if (::pipe2(p, O_CLOEXEC | O_NONBLOCK) < 0) return;
  UniqueFd r(p[0]), w(p[1]);
  UniqueFd devnull(::open("/dev/null", O_RDONLY | O_CLOEXEC));
  o.stdio = {devnull.get(), w.get(), w.get()};
  hc_.startedNs = nowNs();
  auto pid = eng_->runtime().exec(id_, o);
  if (!pid) {
    recordHealth(1, pid.error().message());
    return;
  }
  hc_.pid = *pid;
  hc_.out = std::move(r);
  hc_.output.clear();
  hc_.started = Clock::now();
  hc_.deadline = hc_.started + std::chrono::milliseconds(std::max<int64_t>(h.timeoutMs, 1));
}

void Monitor::recordHealth(int exitCode, const std::string& output) {
  const auto& h = *rec_.config.health;
  bool inStart = Clock::now() - startedAt_ < std::chrono::milliseconds(h.startPeriodMs);
  auto m = eng_->records().modify(id_, [&](Record& x) -> Result<void> {
    auto logj = nlohmann::json::parse(x.healthLog.empty() ? "[]" : x.healthLog, nullptr, false);
    if (!logj.is_array()) logj = nlohmann::json::array();
    logj.push_back({{"Start", rfc3339(hc_.startedNs)}, {"End", rfc3339(nowNs())},
                    {"ExitCode", exitCode}, {"Output", output.substr(0, 4096)}});
    while (logj.size() > 5) logj.erase(logj.begin());
    x.healthLog = logj.dump();
    if (exitCode == 0) {
      x.health = "healthy";
      x.healthFailures = 0;
    } else if (!inStart || x.health == "healthy") {
      x.healthFailures++;
      if (x.healthFailures >= std::max(1, h.retries)) x.health = "unhealthy";
    }
    return {};
  });
  if (!m) return;
  rec_ = *m;
  if (rec_.health == "unhealthy" && rec_.config.restart.name != "no" && !unhealthyKill_) {
    unhealthyKill_ = true;  // an unhealthy container with a restart policy is restarted
    (void)eng_->runtime().kill(id_, SIGKILL, true);
  }
}

void Monitor::onHealthDone(int status) {
  std::string out = hc_.output;
  if (hc_.out) {
    char buf[4096];
    ssize_t n;
    while ((n = ::read(hc_.out.get(), buf, sizeof buf)) > 0) out.append(buf, n);
  }
  hc_ = HealthRun{};
  recordHealth(exitCodeFromStatus(status), out);
}

void Monitor::pump() {
  while (!exited_) {
    pollfd fds[5];
    int n = 0;
    int iOut = -1, iErr = -1, iSig, iTimer = -1, iHc = -1;
    iSig = n;
    fds[n++] = {sigfd_.get(), POLLIN, 0};
    if (out_) { iOut = n; fds[n++] = {out_.get(), POLLIN, 0}; }
    if (err_) { iErr = n; fds[n++] = {err_.get(), POLLIN, 0}; }
    if (timer_) { iTimer = n; fds[n++] = {timer_.get(), POLLIN, 0}; }
    if (hc_.out) { iHc = n; fds[n++] = {hc_.out.get(), POLLIN, 0}; }
    int timeout = -1;
    if (hc_.pid > 0) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(hc_.deadline -
                                                                        Clock::now()).count();
      if (left <= 0) {
        ::kill(hc_.pid, SIGKILL);
        timeout = 50;
      } else {
        timeout = static_cast<int>(left);
      }
    }
    int rc = ::poll(fds, n, timeout);
    if (rc < 0 && errno != EINTR) break;
    char buf[65536];
    auto drain = [&](int idx, UniqueFd& fd, int si) {
      if (idx < 0 || !(fds[idx].revents & (POLLIN | POLLHUP | POLLERR))) return;
      ssize_t r = ::read(fd.get(), buf, sizeof buf);
      if (r > 0) teeOut(si, buf, static_cast<size_t>(r));
      else if (r == 0 || (errno != EINTR && errno != EAGAIN)) fd.reset();
    };
    drain(iOut, out_, 0);
    drain(iErr, err_, 1);
    if (iHc >= 0 && (fds[iHc].revents & (POLLIN | POLLHUP))) {
      ssize_t r = ::read(hc_.out.get(), buf, sizeof buf);
      if (r > 0 && hc_.output.size() < 65536) hc_.output.append(buf, r);
      else if (r == 0) hc_.out.reset();
    }
    if (iTimer >= 0 && (fds[iTimer].revents & POLLIN)) onHealthTimer();
    if (fds[iSig].revents & POLLIN) {
      char junk[64];
      while (::read(sigfd_.get(), junk, sizeof junk) > 0) {
      }
      int st;
      pid_t p;
      while ((p = ::waitpid(-1, &st, WNOHANG)) > 0) {
        if (p == init_) {
          status_ = st;
          exited_ = true;
        } else if (p == hc_.pid) {
          onHealthDone(st);
        }
      }
    }
  }
  // The init is gone; its namespace's processes die with it. Drain what is left briefly.
  auto until = Clock::now() + std::chrono::milliseconds(500);
  while ((out_ || err_) && Clock::now() < until) {
    pollfd fds[2];
    int n = 0;
    UniqueFd* which[2];
    if (out_) { which[n] = &out_; fds[n++] = {out_.get(), POLLIN, 0}; }
    if (err_) { which[n] = &err_; fds[n++] = {err_.get(), POLLIN, 0}; }
    if (::poll(fds, n, 100) <= 0) break;
    char buf[65536];
    for (int i = 0; i < n; ++i) {
      if (!(fds[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
      ssize_t r = ::read(which[i]->get(), buf, sizeof buf);
      if (r > 0) teeOut(which[i] == &out_ ? 0 : 1, buf, static_cast<size_t>(r));
      else which[i]->reset();
    }
  }
  out_.reset();
  err_.reset();
  if (logs_) logs_->flush();
  if (hc_.pid > 0) {
    ::kill(hc_.pid, SIGKILL);
    int st;
    ::waitpid(hc_.pid, &st, 0);
    hc_ = HealthRun{};
  }
  timer_.reset();
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

int Monitor::run() {
  int syncFd = 3, exitFd = 4;
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
  logs_ = std::make_unique<LogWriter>(eng_->paths().log(id_), rec_.config.logMaxSize,
                                      rec_.config.logMaxFile);
  bool first = true;
  int exitCode = 0;
  int backoffMs = 100;
  bool envReady = false;
  for (;;) {
    Result<void> ok;
    if (!envReady) {
      ok = eng_->setupRuntimeEnv(rec_);
      envReady = static_cast<bool>(ok);
      if (ok) ok = logs_->open();
    }
    if (ok) ok = startOnce();
    if (!ok) {
      exitCode = startFailureCode(ok.error());
      std::string msg = ok.error().message();
      (void)eng_->records().modify(id_, [&](Record& x) -> Result<void> {
        x.error = msg;
        return {};
      });
      if (first) {
        writeAll(syncFd, "err " + std::to_string(exitCode) + " " + msg + "\n");
        ::close(syncFd);
        syncFd = -1;
      }
      break;
    }
    if (first) {
      writeAll(syncFd, "ok\n");
      ::close(syncFd);
      syncFd = -1;
      first = false;
    }
    pump();
    exitCode = exitCodeFromStatus(status_);
    (void)eng_->runtime().remove(id_, true);
    bool ranLong = Clock::now() - startedAt_ > std::chrono::seconds(10);
    if (!shouldRestart(exitCode) && !(unhealthyKill_ && !rec_.stopRequested &&
                                      rec_.state != State::kRemoving)) {
      break;
    }
    unhealthyKill_ = false;
    if (ranLong) backoffMs = 100;
    auto m = eng_->records().modify(id_, [&](Record& x) -> Result<void> {
      if (x.state == State::kRemoving) return fail(ErrorCode::kFailedPrecondition, "removing");
      x.state = State::kRestarting;
      x.exitCode = exitCode;
      x.finished = nowNs();
      x.pid = 0;
      x.health.clear();
      return {};
    });
    if (!m) break;
    // Back off, but wake at once when stop/rm signal us (SIGUSR1) to look at the record.
    auto until = Clock::now() + std::chrono::milliseconds(backoffMs);
    bool stopNow = false;
    while (Clock::now() < until && !stopNow) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(until - Clock::now());
      pollfd p{sigfd_.get(), POLLIN, 0};
      if (::poll(&p, 1, static_cast<int>(left.count()) + 1) > 0) {
        char junk[64];
        while (::read(sigfd_.get(), junk, sizeof junk) > 0) {
        }
        auto cur = eng_->records().get(id_);
        stopNow = !cur || cur->stopRequested || cur->state == State::kRemoving;
      }
    }
    if (stopNow) break;
    backoffMs = std::min(backoffMs * 2, 30000);
    auto inc = eng_->records().modify(id_, [](Record& x) -> Result<void> {
      x.restartCount++;
      return {};
    });
    if (inc) rec_ = *inc;
  }
  (void)eng_->teardownRuntimeEnv(rec_);
  auto fin = eng_->records().modify(id_, [&](Record& x) -> Result<void> {
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
    (void)eng_->deleteContainer(*fin, true);
  }
  writeAll(exitFd, std::to_string(exitCode) + "\n");
  return 0;
}

}  // namespace

int runMonitor(const std::string& root, const std::string& runroot, const std::string& id,
               bool attach) {
  for (int fd : {3, 4}) ::fcntl(fd, F_SETFD, FD_CLOEXEC);
  ::prctl(PR_SET_CHILD_SUBREAPER, 1);
  // Signals arrive through a self-pipe from handlers, not by blocking or ignoring them: a
  // blocked mask or SIG_IGN would be inherited by the container's init across exec, handlers
  // are reset to the default there.
  int sp[2];
  if (::pipe2(sp, O_CLOEXEC | O_NONBLOCK) < 0) return 1;
  gSelfPipe = sp[1];
  struct sigaction sa {};
  sa.sa_handler = onSignal;
  sa.sa_flags = SA_RESTART;
  sigemptyset(&sa.sa_mask);
  for (int s : {SIGCHLD, SIGUSR1, SIGTERM, SIGINT, SIGHUP, SIGPIPE}) ::sigaction(s, &sa, nullptr);
  auto eng = Engine::open(root, runroot);
  if (!eng) {
    writeAll(3, "err 125 " + eng.error().message() + "\n");
    return 1;
  }
  log::init(log::Level::kWarn, log::Format::kText,
            (*eng)->paths().containerDir(id) + "/monitor.log");
  Monitor m(std::move(*eng), id, attach, UniqueFd(sp[0]));
  return m.run();
}

}  // namespace berth::engine
