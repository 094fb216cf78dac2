// Runtime verbs other than create and exec: start, state, kill, delete, pause, resume, list,
// pids, update, spec; plus the OCI state/features JSON.
#include "runtime/runtime.h"

#include "runtime/lsm.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <nlohmann/json.hpp>

#include "common/fs.h"
#include "common/log.h"
#include "common/unique_fd.h"
#include "runtime/cgroup.h"
#include "runtime/hooks.h"
#include "runtime/process_setup.h"
#include "runtime/runtime_internal.h"
#include "runtime/seccomp.h"

namespace berth::runtime {
namespace {

using nlohmann::ordered_json;

tl::unexpected<Error> notFound(const std::string& id) {
  return fail(ErrorCode::kNotFound, "container \"" + id + "\" does not exist");
}

/// pidfd for the record's init, or an invalid fd if it is gone/recycled.
UniqueFd openInit(const Record& r) {
  if (r.pid <= 0) return {};
  UniqueFd fd(static_cast<int>(::syscall(SYS_pidfd_open, r.pid, 0)));
  if (!fd) return {};
  // Checked after opening the pidfd: if the start time still matches, the fd is our process.
  if (!sameProcessAlive(r.pid, r.startTime)) return {};
  return fd;
}

bool waitGone(int pidfd, int timeoutMs) {
  struct pollfd p {pidfd, POLLIN, 0};
  int rc;
  do rc = ::poll(&p, 1, timeoutMs);
  while (rc < 0 && errno == EINTR);
  return rc > 0;
}

}  // namespace

std::string_view statusName(Status s) {
  switch (s) {
    case Status::kCreating: return "creating";
    case Status::kCreated: return "created";
    case Status::kRunning: return "running";
    case Status::kPaused: return "paused";
    case Status::kStopped: return "stopped";
  }
  return "unknown";
}

bool validContainerId(std::string_view id) {
  if (id.empty() || id.size() > 1024 || id == "." || id == "..") return false;
  if (!isalnum(static_cast<unsigned char>(id[0]))) return false;
  for (char c : id)
    if (!isalnum(static_cast<unsigned char>(c)) && c != '_' && c != '-' && c != '.' && c != '+')
      return false;
  return true;
}

std::string stateToJson(const State& s, bool pretty) {
  ordered_json j;
  j["ociVersion"] = s.ociVersion;
  j["id"] = s.id;
  j["status"] = std::string(statusName(s.status));
  j["pid"] = s.pid;
  j["bundle"] = s.bundle;
  j["rootfs"] = s.rootfs;
  j["created"] = s.created;
  j["owner"] = s.owner;
  if (!s.annotations.empty()) j["annotations"] = s.annotations;
  return pretty ? j.dump(2) : j.dump();
}

State recordToState(const Record& r) {
  State s;
  s.id = r.id;
  s.pid = r.pid;
  s.bundle = r.bundle;
  s.rootfs = r.rootfs;
  s.created = r.created;
  s.owner = r.owner;
  s.annotations = r.annotations;
  return s;
}

Status computeStatus(const std::string& dir, const Record& r) {
  if (!sameProcessAlive(r.pid, r.startTime)) return Status::kStopped;
  if (fs::exists(dir + "/" + kFifoFile)) return Status::kCreated;
  if (r.hasCgroups) {
    auto cg = openCgroups(realSys(), r.cgroups);
    if (auto f = cg->isFrozen(); f && *f) return Status::kPaused;
  }
  return Status::kRunning;
}

Runtime::Runtime(std::string stateRoot) : root_(std::move(stateRoot)) {}
Runtime::~Runtime() = default;
Runtime::Runtime(Runtime&&) noexcept = default;
Runtime& Runtime::operator=(Runtime&&) noexcept = default;

Result<State> Runtime::state(const std::string& id) {
  if (!validContainerId(id)) return fail(ErrorCode::kInvalidArgument, "invalid container id \"" + id + "\"");
  std::string dir = root_ + "/" + id;
  auto rec = readRecord(dir);
  if (!rec) {
    if (fs::isDir(dir)) {  // create in progress: no state.json yet
      State s;
      s.id = id;
      s.status = Status::kCreating;
      return s;
    }
    return notFound(id);
  }
  State s = recordToState(*rec);
  s.status = computeStatus(dir, *rec);
  if (s.status == Status::kStopped) s.pid = 0;
  return s;
}

Result<void> Runtime::start(const std::string& id) {
  BERTH_ASSIGN(State st, state(id));
  if (!st.canStart())
    return fail(ErrorCode::kFailedPrecondition,
                "cannot start container \"" + id + "\": it is " + std::string(statusName(st.status)));
  std::string dir = root_ + "/" + id;
  BERTH_ASSIGN(Record rec, readRecord(dir));
  std::string fifoPath = dir + "/" + kFifoFile;
  UniqueFd fifo(::open(fifoPath.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC));
  if (!fifo) return failErrno("open exec fifo");
  // Opening the read end released the init; wait for its byte (it may die instead).
  for (;;) {
    struct pollfd p {fifo.get(), POLLIN, 0};
    int rc = ::poll(&p, 1, 50);
    if (rc > 0) {
      char c;
      ssize_t n = ::read(fifo.get(), &c, 1);
      if (n == 1) break;
      if (n == 0 || (n < 0 && errno != EAGAIN)) return fail(ErrorCode::kFailedPrecondition, "start: container init exited");
    }
    if (!sameProcessAlive(rec.pid, rec.startTime))
      return fail(ErrorCode::kFailedPrecondition, "start: container init exited");
  }
  ::unlink(fifoPath.c_str());
  if (rec.hasPoststart) {
    BERTH_ASSIGN(oci::Spec spec, this->spec(id));
    State s = recordToState(rec);
    s.status = Status::kRunning;
    BERTH_TRY(runHooks(spec.hooks.poststart, stateToJson(s, false), "poststart"));
  }
  return {};
}

Result<void> Runtime::kill(const std::string& id, int sig, bool all) {
  BERTH_ASSIGN(State st, state(id));
  std::string dir = root_ + "/" + id;
  BERTH_ASSIGN(Record rec, readRecord(dir));
  if (all && rec.hasCgroups) {
    auto cg = openCgroups(realSys(), rec.cgroups);
    BERTH_ASSIGN(auto pids, cg->pids());
    for (pid_t p : pids) ::kill(p, sig);
    if (sig == SIGKILL || sig == SIGTERM) (void)cg->freeze(false);
    if (!pids.empty() || st.canKill()) return {};
  }
  if (!st.canKill())
    return fail(ErrorCode::kFailedPrecondition, "container \"" + id + "\" is not running");
  UniqueFd pfd = openInit(rec);
  if (!pfd) return fail(ErrorCode::kFailedPrecondition, "container \"" + id + "\" is not running");
  if (::syscall(SYS_pidfd_send_signal, pfd.get(), sig, nullptr, 0) < 0)
    return failErrno("kill " + id);
  return {};
}

Result<void> Runtime::remove(const std::string& id, bool force) {
  if (!validContainerId(id)) return fail(ErrorCode::kInvalidArgument, "invalid container id \"" + id + "\"");
  std::string dir = root_ + "/" + id;
  auto recR = readRecord(dir);
  if (!recR) {
    if (!fs::isDir(dir)) return notFound(id);
    if (!force) return fail(ErrorCode::kFailedPrecondition, "container \"" + id + "\" is being created");
    return fs::removeAll(dir);
  }
  Record rec = *recR;
  Status status = computeStatus(dir, rec);
  if ((status == Status::kRunning || status == Status::kPaused) && !force)
    return fail(ErrorCode::kFailedPrecondition,
                "cannot delete container \"" + id + "\" that is not stopped: " +
                    std::string(statusName(status)) + " (use --force)");
  std::unique_ptr<Cgroups> cg;
  if (rec.hasCgroups) cg = openCgroups(realSys(), rec.cgroups);
  if (status != Status::kStopped) {
    if (cg) (void)cg->freeze(false);
    UniqueFd pfd = openInit(rec);
    if (pfd) {
      ::syscall(SYS_pidfd_send_signal, pfd.get(), SIGKILL, nullptr, 0);
      if (!waitGone(pfd.get(), 10000)) return fail(ErrorCode::kTimeout, "delete: init did not die");
    }
  }
  if (cg) BERTH_TRY(cg->destroy());
  if (rec.hasPoststop) {
    if (auto spec = this->spec(id)) {
      State s = recordToState(rec);
      s.status = Status::kStopped;
      s.pid = 0;
      if (auto r = runHooks(spec->hooks.poststop, stateToJson(s, false), "poststop"); !r)
        log::warn(r.error().message());
    }
  }
  return fs::removeAll(dir);
}

Result<void> Runtime::pause(const std::string& id) {
  BERTH_ASSIGN(State st, state(id));
  if (!st.canPause())
    return fail(ErrorCode::kFailedPrecondition,
                "cannot pause container \"" + id + "\": it is " + std::string(statusName(st.status)));
  BERTH_ASSIGN(Record rec, readRecord(root_ + "/" + id));
  return openCgroups(realSys(), rec.cgroups)->freeze(true);
}

Result<void> Runtime::resume(const std::string& id) {
  BERTH_ASSIGN(State st, state(id));
  if (!st.canResume())
    return fail(ErrorCode::kFailedPrecondition,
                "cannot resume container \"" + id + "\": it is " + std::string(statusName(st.status)));
  BERTH_ASSIGN(Record rec, readRecord(root_ + "/" + id));
  return openCgroups(realSys(), rec.cgroups)->freeze(false);
}

Result<std::vector<State>> Runtime::list() {
  std::vector<State> out;
  BERTH_ASSIGN(auto names, fs::listDir(root_));
  std::sort(names.begin(), names.end());
  for (const auto& n : names) {
    if (!validContainerId(n)) continue;
    if (auto s = state(n)) out.push_back(*s);
  }
  return out;
}

Result<std::vector<pid_t>> Runtime::pids(const std::string& id) {
  BERTH_ASSIGN(State st, state(id));
  BERTH_ASSIGN(Record rec, readRecord(root_ + "/" + id));
  if (!rec.hasCgroups) return std::vector<pid_t>{};
  return openCgroups(realSys(), rec.cgroups)->pids();
}

Result<void> Runtime::update(const std::string& id, const oci::Resources& r) {
  BERTH_ASSIGN(State st, state(id));
  if (st.status == Status::kStopped)
    return fail(ErrorCode::kFailedPrecondition, "container \"" + id + "\" is stopped");
  BERTH_ASSIGN(Record rec, readRecord(root_ + "/" + id));
  return openCgroups(realSys(), rec.cgroups)->apply(r);
}

Result<oci::Spec> Runtime::spec(const std::string& id) {
  if (!validContainerId(id)) return fail(ErrorCode::kInvalidArgument, "invalid container id \"" + id + "\"");
  auto text = fs::readFile(root_ + "/" + id + "/" + kConfigFile);
  if (!text) return notFound(id);
  return oci::parseSpec(*text);
}

std::string featuresJson() {
  ordered_json j;
  j["ociVersionMin"] = "1.0.0";
  j["ociVersionMax"] = "1.1.0";
  j["hooks"] = {"prestart", "createRuntime", "createContainer", "startContainer", "poststart",
                "poststop"};
  j["mountOptions"] = {"async", "atime", "bind", "defaults", "dev", "diratime", "dirsync",
                       "exec", "lazytime", "loud", "mand", "noatime", "nodev", "nodiratime",
                       "noexec", "nolazytime", "nomand", "norelatime", "nostrictatime",
                       "nosuid", "nosymfollow", "private", "rbind", "relatime", "remount",
                       "ro", "rprivate", "rro", "rshared", "rslave", "runbindable", "rw",
                       "shared", "silent", "slave", "strictatime", "suid", "symfollow",
                       "sync", "tmpcopyup", "unbindable"};
  ordered_json lx;
  lx["namespaces"] = {"cgroup", "ipc", "mount", "network", "pid", "time", "user", "uts"};
  lx["capabilities"] = allCapNames();
  lx["cgroup"] = {{"v1", true}, {"v2", true}, {"systemd", false}, {"systemdUser", false},
                  {"rdma", false}};
  lx["seccomp"] = {{"enabled", true},
                   {"actions", seccompActionNames()},
                   {"operators", seccompOpNames()},
                   {"archs", seccompArchNames()},
                   {"knownFlags", seccompFlagNames()},
                   {"supportedFlags", seccompFlagNames()}};
  // Applied where the host has them, rejected where it does not (runtime/lsm.h).
  lx["apparmor"] = {{"enabled", lsm::apparmorEnabled()}};
  lx["selinux"] = {{"enabled", lsm::selinuxEnabled()}};
  lx["intelRdt"] = {{"enabled", false}};
  lx["mountExtensions"] = {{"idmap", {{"enabled", false}}}};
  j["linux"] = lx;
  j["annotations"] = {{"io.github.berth.runtime.cgroups", "v1,v2,hybrid"},
                      // linux.resources.devices: v1 devices.allow/deny, and on cgroup2 (pure
                      // v2, and the unified dir of hybrid hosts) a BPF_CGROUP_DEVICE program.
                      {"io.github.berth.runtime.cgroups.devices", "v1,ebpf"},
                      {"org.opencontainers.runc.checkpoint.enabled", "false"}};
  return j.dump(2);
}

}  // namespace berth::runtime
