// berth-monitor: the lean half of a container's monitor (see docs/design/engine.md).
//
// `berth __monitor` (the full engine, forked from the CLI) sets the container up and starts its
// init as its own child, then execs this program in the same process, which therefore stays the
// init's parent (and child subreaper). Here, with only libc and a few pages touched, it:
//   * pumps the init's stdout/stderr (or, with -t, the pty master it holds) into rotated
//     JSON-line logs, and to the attached CLI; with -t -i attached, copies the CLI's stdin into
//     the pty and follows the CLI terminal's size (the CLI passes SIGWINCH on to us),
//   * runs health checks (`berth-runtime exec` into the container) and writes their state to
//     <dir>/health.json, which the engine reads when it reports the container,
//   * kills an unhealthy init when the container has a restart policy,
//   * when the init exits: tells an attached CLI (which may finish the exit itself and answer
//     "done"), or execs `berth __monitor-exit ...` to record the exit, apply the restart
//     policy, tear down and remove --rm containers.
//
// argv: berth-monitor KEY=VALUE... [-- HEALTHCHECK ARGS...]
// fds:  0 container stdin (with tty=1 stdin=1: the attached CLI's stdin, copied into the pty),
//       1/2 the attached CLI's stdout/stderr (or /dev/null), 3 init stdout pipe or (tty=1) the
//       pty master, 4 exit channel (socket or pipe to the attached CLI, or /dev/null), 5 init
//       stderr pipe (absent with tty=1).
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/timerfd.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "engine/log_writer.h"
#include "engine/monitor/monitor_util.h"

namespace {

using berth::engine::appendJsonEscaped;
using berth::engine::LogWriter;
using berth::engine::rfc3339Utc;

using berth::engine::monitor::clockNs;
using berth::engine::monitor::monoMs;
using berth::engine::monitor::writeAll;

int64_t toI64(const std::string& s, int64_t def) {
  if (s.empty()) return def;
  char* end = nullptr;
  long long v = std::strtoll(s.c_str(), &end, 10);
  return end && *end == 0 ? v : def;
}

struct Opts {
  std::string id, root, runroot, dir, log, berth, runtime;
  std::string logLevel;
  pid_t init = -1;
  bool attach = false;
  int64_t logMax = 10 << 20, logFiles = 3;
  int64_t started = 0;        // CLOCK_MONOTONIC ms of the init's start
  int64_t backoff = 100;      // restart backoff carried between restarts
  bool restartPolicy = false;  // an unhealthy init is killed (and restarted by the policy)
  bool tty = false;            // fd 3 is a pty master (stdout and stderr in one), no fd 5
  bool stdinPump = false;      // copy fd 0 into the pty (attached with -i -t)
  int64_t hInterval = 0, hTimeout = 30000, hStart = 0, hRetries = 3;
  std::vector<std::string> health;  // the command to exec, already in argv form
};

struct Health {
  pid_t pid = -1;
  int out = -1;
  std::string output;
  int64_t startNs = 0, deadline = 0;
  std::string status = "starting";
  int64_t failures = 0;
  std::vector<std::string> log;  // the last five results, as JSON objects
};

class Monitor {
 public:
  explicit Monitor(Opts o)
      : o_(std::move(o)), logs_(o_.log, o_.logMax, static_cast<int>(o_.logFiles)) {
    if (o_.tty) err_ = -1;
    if (o_.tty && o_.stdinPump) in_ = 0;
  }
  int run(int sigfd);

 private:
  void tee(int si, const char* data, size_t n);
  void startHealth();
  void finishHealth(int status);
  void writeHealth();
  bool drain(int& fd, int si);
  void readInput();
  void flushInput();
  void followWinsize();
  [[noreturn]] void handOff();

  Opts o_;
  LogWriter logs_;
  int out_ = 3, err_ = 5, in_ = -1, timer_ = -1;
  std::string pending_;  // stdin not yet taken by the pty
  winsize ws_{};
  bool teeOk_ = true;
  int status_ = 0;
  bool unhealthyKill_ = false;
  Health hc_;
};

void Monitor::tee(int si, const char* data, size_t n) {
  logs_.write(si, std::string_view(data, n));
  if (o_.attach && teeOk_) {
    std::string s(data, n);
    teeOk_ = writeAll(si == 0 ? 1 : 2, s);
  }
}

bool Monitor::drain(int& fd, int si) {
  char buf[16384];
  ssize_t r = ::read(fd, buf, sizeof buf);
  if (r > 0) {
    tee(si, buf, static_cast<size_t>(r));
    return true;
  }
  if (r == 0 || (errno != EINTR && errno != EAGAIN)) {
    ::close(fd);
    fd = -1;
  }
  return false;
}

// The pty's input queue is small and the master non-blocking: what it does not take now
// waits in pending_, and stdin is not read again until that is gone.
void Monitor::flushInput() {
  while (!pending_.empty() && out_ >= 0) {
    ssize_t w = ::write(out_, pending_.data(), pending_.size());
    if (w > 0) {
      pending_.erase(0, static_cast<size_t>(w));
    } else if (w < 0 && errno == EINTR) {
      continue;
    } else {
      if (w < 0 && errno == EAGAIN) return;
      pending_.clear();
      return;
    }
  }
}

void Monitor::readInput() {
  char buf[4096];
  ssize_t r = ::read(in_, buf, sizeof buf);
  if (r > 0) {
    pending_.append(buf, static_cast<size_t>(r));
  } else if (r == 0 || (errno != EINTR && errno != EAGAIN)) {
    ::close(in_);
    in_ = -1;
    pending_ += '\x04';  // end of input: ^D to the pty's line discipline
  }
  flushInput();
}

// An attached CLI sends us SIGWINCH when its terminal is resized: give the pty the same size
// (the kernel then signals the container's foreground process group).
void Monitor::followWinsize() {
  if (!o_.tty || !o_.attach || out_ < 0) return;
  winsize ws{};
  if (::ioctl(1, TIOCGWINSZ, &ws) != 0 && ::ioctl(0, TIOCGWINSZ, &ws) != 0) return;
  if (!ws.ws_row || !ws.ws_col || (ws.ws_row == ws_.ws_row && ws.ws_col == ws_.ws_col)) return;
  ws_ = ws;
  ::ioctl(out_, TIOCSWINSZ, &ws);
}

void Monitor::startHealth() {
  if (hc_.pid > 0 || o_.health.empty()) return;
  int p[2];
  if (::pipe2(p, O_CLOEXEC | O_NONBLOCK) < 0) return;
  std::string pidFile = o_.dir + "/health.pid";
  ::unlink(pidFile.c_str());
  std::vector<std::string> args = {o_.runtime, "--root", o_.runroot + "/runtime", "exec",
                                   "--pid-file", pidFile, o_.id};
  args.insert(args.end(), o_.health.begin(), o_.health.end());
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  hc_.startNs = clockNs(CLOCK_REALTIME);
  pid_t pid = ::fork();
  if (pid == 0) {
    for (int s : {SIGCHLD, SIGUSR1, SIGTERM, SIGINT, SIGHUP, SIGPIPE}) ::signal(s, SIG_DFL);
    int dn = ::open("/dev/null", O_RDONLY);
    ::dup2(dn, 0);
    ::dup2(p[1], 1);
    ::dup2(p[1], 2);
    ::execv(argv[0], argv.data());
    ::_exit(127);
  }
  ::close(p[1]);
  if (pid < 0) {
    ::close(p[0]);
    return;
  }
  hc_.pid = pid;
  hc_.out = p[0];
  hc_.output.clear();
  hc_.deadline = monoMs() + (o_.hTimeout > 0 ? o_.hTimeout : 1);
}

void Monitor::writeHealth() {
  std::string j = "{\"Status\":\"" + hc_.status + "\",\"FailingStreak\":" +
                  std::to_string(hc_.failures) + ",\"Log\":[";
  for (size_t i = 0; i < hc_.log.size(); ++i) j += (i ? "," : "") + hc_.log[i];
  j += "]}\n";
  std::string tmp = o_.dir + "/.health.json.tmp";
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return;
  bool ok = writeAll(fd, j);
  ::close(fd);
  if (ok) ::rename(tmp.c_str(), (o_.dir + "/health.json").c_str());
}

void Monitor::finishHealth(int status) {
  if (hc_.out >= 0) {
    char buf[4096];
    ssize_t n;
    while ((n = ::read(hc_.out, buf, sizeof buf)) > 0 && hc_.output.size() < 65536)
      hc_.output.append(buf, static_cast<size_t>(n));
    ::close(hc_.out);
    hc_.out = -1;
  }
  hc_.pid = -1;
  int code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  bool inStart = monoMs() - o_.started < o_.hStart;
  std::string e = "{\"Start\":\"" + rfc3339Utc(hc_.startNs) + "\",\"End\":\"" +
                  rfc3339Utc(clockNs(CLOCK_REALTIME)) + "\",\"ExitCode\":" +
                  std::to_string(code) + ",\"Output\":\"";
  appendJsonEscaped(e, std::string_view(hc_.output).substr(0, 4096));
  e += "\"}";
  hc_.log.push_back(std::move(e));
  if (hc_.log.size() > 5) hc_.log.erase(hc_.log.begin());
  if (code == 0) {
    hc_.status = "healthy";
    hc_.failures = 0;
  } else if (!inStart || hc_.status == "healthy") {
    hc_.failures++;
    if (hc_.failures >= (o_.hRetries < 1 ? 1 : o_.hRetries)) hc_.status = "unhealthy";
  }
  writeHealth();
  if (hc_.status == "unhealthy" && o_.restartPolicy && !unhealthyKill_) {
    unhealthyKill_ = true;  // an unhealthy container with a restart policy is restarted
    ::kill(o_.init, SIGKILL);  // PID 1 of the container's pid namespace: all of it goes
  }
}

int Monitor::run(int sigfd) {
  (void)logs_.open();  // if the log cannot be written, the container runs without one
  if (!o_.health.empty() && o_.hInterval > 0) {
    timer_ = ::timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
    itimerspec its{};
    int64_t iv = o_.hInterval < 10 ? 10 : o_.hInterval;
    its.it_value = {static_cast<time_t>(iv / 1000), static_cast<long>((iv % 1000) * 1000000)};
    its.it_interval = its.it_value;
    ::timerfd_settime(timer_, 0, &its, nullptr);
  }
  bool exited = false;
  // A signal may have come between exec and our handlers: look once before waiting.
  char junk[64];
  bool checkChildren = true;
  while (!exited) {
    if (checkChildren) {
      int st;
      pid_t p;
      while ((p = ::waitpid(-1, &st, WNOHANG)) > 0) {
        if (p == o_.init) {
          status_ = st;
          exited = true;
        } else if (p == hc_.pid) {
          finishHealth(st);
        }
      }
      checkChildren = false;
      if (exited) break;
    }
    pollfd fds[6];
    int n = 0, iOut = -1, iErr = -1, iIn = -1, iTimer = -1, iHc = -1;
    fds[n++] = {sigfd, POLLIN, 0};
    if (out_ >= 0) {
      iOut = n;
      fds[n++] = {out_, static_cast<short>(POLLIN | (pending_.empty() ? 0 : POLLOUT)), 0};
    }
    if (in_ >= 0 && pending_.empty()) { iIn = n; fds[n++] = {in_, POLLIN, 0}; }
    if (err_ >= 0) { iErr = n; fds[n++] = {err_, POLLIN, 0}; }
    if (timer_ >= 0) { iTimer = n; fds[n++] = {timer_, POLLIN, 0}; }
    if (hc_.out >= 0) { iHc = n; fds[n++] = {hc_.out, POLLIN, 0}; }
    int timeout = -1;
    if (hc_.pid > 0) {
      int64_t left = hc_.deadline - monoMs();
      if (left <= 0) {
        // Timed out: kill the command in the container, and the exec that waits for it.
        std::string pidText;
        int pf = ::open((o_.dir + "/health.pid").c_str(), O_RDONLY | O_CLOEXEC);
        if (pf >= 0) {
          char b[32];
          ssize_t r = ::read(pf, b, sizeof b - 1);
          if (r > 0) pidText.assign(b, static_cast<size_t>(r));
          ::close(pf);
        }
        if (int64_t ip = toI64(pidText.substr(0, pidText.find_first_of("\n ")), 0); ip > 0)
          ::kill(static_cast<pid_t>(ip), SIGKILL);
        ::kill(hc_.pid, SIGKILL);
        timeout = 50;
      } else {
        timeout = static_cast<int>(left);
      }
    }
    int rc = ::poll(fds, static_cast<nfds_t>(n), timeout);
    if (rc < 0 && errno != EINTR) break;
    if (rc <= 0) continue;
    if (iOut >= 0 && (fds[iOut].revents & (POLLIN | POLLHUP | POLLERR))) drain(out_, 0);
    if (iErr >= 0 && (fds[iErr].revents & (POLLIN | POLLHUP | POLLERR))) drain(err_, 1);
    if (iOut >= 0 && (fds[iOut].revents & POLLOUT)) flushInput();
    if (iIn >= 0 && (fds[iIn].revents & (POLLIN | POLLHUP | POLLERR))) readInput();
    if (iHc >= 0 && (fds[iHc].revents & (POLLIN | POLLHUP | POLLERR))) {
      char buf[4096];
      ssize_t r = ::read(hc_.out, buf, sizeof buf);
      if (r > 0 && hc_.output.size() < 65536) {
        hc_.output.append(buf, static_cast<size_t>(r));
      } else if (r == 0) {
        ::close(hc_.out);
        hc_.out = -1;
      }
    }
    if (iTimer >= 0 && (fds[iTimer].revents & POLLIN)) {
      uint64_t ticks;
      (void)!::read(timer_, &ticks, sizeof ticks);
      startHealth();
    }
    if (fds[0].revents & POLLIN) {
      while (::read(sigfd, junk, sizeof junk) > 0) {
      }
      checkChildren = true;
      followWinsize();
    }
  }
  // The init is gone; its pid namespace went with it. Drain what is left, briefly.
  int64_t until = monoMs() + 500;
  while ((out_ >= 0 || err_ >= 0) && monoMs() < until) {
    pollfd fds[2];
    int n = 0, which[2];
    if (out_ >= 0) { which[n] = 0; fds[n++] = {out_, POLLIN, 0}; }
    if (err_ >= 0) { which[n] = 1; fds[n++] = {err_, POLLIN, 0}; }
    if (::poll(fds, static_cast<nfds_t>(n), 100) <= 0) break;
    for (int i = 0; i < n; ++i)
      if (fds[i].revents & (POLLIN | POLLHUP | POLLERR)) {
        if (which[i] == 0) drain(out_, 0);
        else drain(err_, 1);
      }
  }
  logs_.flush();
  if (hc_.pid > 0) {
    ::kill(hc_.pid, SIGKILL);
    int st;
    ::waitpid(hc_.pid, &st, 0);
  }
  handOff();
}

// The init has exited. An attached CLI waiting on a socket (fd 4) may finish the exit itself:
// we tell it the status and wait for "done"; if it says "self", goes away, or there is no such
// CLI, the full engine takes over in this process.
void Monitor::handOff() {
  int code = WIFEXITED(status_) ? WEXITSTATUS(status_) : 128 + WTERMSIG(status_);
  int type = 0;
  socklen_t tl = sizeof type;
  if (o_.attach && ::getsockopt(4, SOL_SOCKET, SO_TYPE, &type, &tl) == 0) {
    std::string msg = "exit " + std::to_string(code) + " " + (unhealthyKill_ ? "1" : "0") + "\n";
    if (writeAll(4, msg)) {
      char buf[16];
      ssize_t r;
      while ((r = ::read(4, buf, sizeof buf)) < 0 && errno == EINTR) {
      }
      if (r >= 4 && std::memcmp(buf, "done", 4) == 0) ::_exit(0);
    }
  }
  std::vector<std::string> args = {o_.berth, "__monitor-exit", o_.root, o_.runroot, o_.id,
                                   !o_.attach ? "detach" : o_.stdinPump ? "attach-stdin" : "attach",
                                   std::to_string(code),
                                   std::to_string(o_.backoff), std::to_string(o_.started),
                                   unhealthyKill_ ? "1" : "0"};
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  // The full engine installs its handlers at once; until then a stop's SIGUSR1 must not kill
  // us (SIGCHLD stays default: ignoring it would reap children behind our back).
  for (int s : {SIGUSR1, SIGTERM, SIGINT, SIGHUP, SIGPIPE}) ::signal(s, SIG_IGN);
  ::fcntl(4, F_SETFD, 0);
  ::execv(argv[0], argv.data());
  // No engine to finish with: the next berth command finds the init gone and records it.
  writeAll(4, std::to_string(code) + "\n");
  ::_exit(1);
}

}  // namespace

int main(int argc, char** argv) {
  Opts o;
  int i = 1;
  for (; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--") {
      ++i;
      break;
    }
    auto eq = a.find('=');
    if (eq == std::string::npos) continue;
    std::string k = a.substr(0, eq), v = a.substr(eq + 1);
    if (k == "id") o.id = v;
    else if (k == "root") o.root = v;
    else if (k == "runroot") o.runroot = v;
    else if (k == "dir") o.dir = v;
    else if (k == "log") o.log = v;
    else if (k == "berth") o.berth = v;
    else if (k == "runtime") o.runtime = v;
    else if (k == "init") o.init = static_cast<pid_t>(toI64(v, -1));
    else if (k == "attach") o.attach = v == "1";
    else if (k == "logmax") o.logMax = toI64(v, o.logMax);
    else if (k == "logfiles") o.logFiles = toI64(v, o.logFiles);
    else if (k == "started") o.started = toI64(v, 0);
    else if (k == "backoff") o.backoff = toI64(v, 100);
    else if (k == "restart") o.restartPolicy = v == "1";
    else if (k == "hinterval") o.hInterval = toI64(v, 0);
    else if (k == "htimeout") o.hTimeout = toI64(v, 30000);
    else if (k == "hstart") o.hStart = toI64(v, 0);
    else if (k == "hretries") o.hRetries = toI64(v, 3);
    else if (k == "tty") o.tty = v == "1";
    else if (k == "stdin") o.stdinPump = v == "1";
  }
  for (; i < argc; ++i) o.health.push_back(argv[i]);
  if (o.id.empty() || o.init <= 0 || o.berth.empty()) {
    const char kUsage[] = "berth-monitor: started by berth, not by hand\n";
    (void)!::write(2, kUsage, sizeof kUsage - 1);
    return 2;
  }
  ::syscall(SYS_close_range, 6, ~0U, 0);
  ::prctl(PR_SET_CHILD_SUBREAPER, 1);
  int sigRead = berth::engine::monitor::installSelfPipeSignals();
  if (sigRead < 0) return 1;
  for (int fd : {3, 4, 5}) ::fcntl(fd, F_SETFD, FD_CLOEXEC);
  if (o.tty) ::fcntl(3, F_SETFL, ::fcntl(3, F_GETFL) | O_NONBLOCK);
  Monitor m(std::move(o));
  return m.run(sigRead);
}
