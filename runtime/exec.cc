// Runtime::exec: a new process in a running container, as a direct child of the caller.
#include <fcntl.h>
#include <sched.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>

#include "common/fs.h"
#include "common/scoped_pid.h"
#include "common/strings.h"
#include "common/unique_fd.h"
#include "runtime/init.h"
#include "runtime/runtime_internal.h"
#include "runtime/sync.h"

#ifndef CLONE_NEWTIME
#define CLONE_NEWTIME 0x00000080
#endif

namespace berth::runtime {
namespace {

struct NsFile {
  const char* name;
  int type;
};
// User first (it grants the rights for the rest), mount last (it changes our root).
const NsFile kNs[] = {{"user", CLONE_NEWUSER}, {"ipc", CLONE_NEWIPC},   {"uts", CLONE_NEWUTS},
                      {"net", CLONE_NEWNET},   {"pid", CLONE_NEWPID},   {"cgroup", CLONE_NEWCGROUP},
                      {"time", CLONE_NEWTIME}, {"mnt", CLONE_NEWNS}};

std::vector<std::string> mergeEnv(std::vector<std::string> base, const std::vector<std::string>& add) {
  for (const auto& e : add) {
    auto key = e.substr(0, e.find('=') + 1);
    std::erase_if(base, [&](const std::string& b) { return str::startsWith(b, key); });
    base.push_back(e);
  }
  return base;
}

[[noreturn]] void childFail(int sock, const Error& e) {
  (void)sendSync(sock, SyncMsg::kError, e.message());
  _exit(e.is(ENOENT) ? 127 : 126);
}

}  // namespace

Result<pid_t> Runtime::exec(const std::string& id, const ExecOptions& o) {
  BERTH_ASSIGN(State st, state(id));
  if (!st.canExec())
    return fail(ErrorCode::kFailedPrecondition,
                "cannot exec in container \"" + id + "\": it is " + std::string(statusName(st.status)));
  std::string dir = root_ + "/" + id;
  BERTH_ASSIGN(Record rec, readRecord(dir));
  BERTH_ASSIGN(oci::Spec spec, this->spec(id));
  oci::Process proc;
  if (o.process) {
    proc = *o.process;
  } else {
    if (!spec.process) return fail(ErrorCode::kInvalidArgument, "container has no process spec");
    proc = *spec.process;
    proc.args = o.args;
    proc.env = mergeEnv(proc.env, o.env);
    if (!o.cwd.empty()) proc.cwd = o.cwd;
    if (o.uid) proc.user.uid = *o.uid;
    if (o.gid) proc.user.gid = *o.gid;
    if (!o.additionalGids.empty()) proc.user.additionalGids = o.additionalGids;
    proc.terminal = o.tty;
  }
  if (o.process && !o.env.empty()) proc.env = mergeEnv(proc.env, o.env);
  if (o.tty) proc.terminal = true;
  if (proc.args.empty()) return fail(ErrorCode::kInvalidArgument, "exec: no command given");
  if (!o.addCaps.empty()) {
    if (!proc.capabilities) proc.capabilities = oci::Capabilities{};
    auto& c = *proc.capabilities;
    for (const auto& cap : o.addCaps)
      for (auto* set : {&c.bounding, &c.effective, &c.permitted, &c.inheritable})
        if (std::find(set->begin(), set->end(), cap) == set->end()) set->push_back(cap);
  }
  BERTH_ASSIGN(CapSets caps, parseCaps(proc.capabilities));
  BERTH_ASSIGN(auto rlimits, parseRlimits(proc.rlimits));
  std::unique_ptr<SeccompFilter> seccomp;
  if (spec.linux && spec.linux->seccomp) {
    BERTH_ASSIGN(seccomp, compileSeccomp(*spec.linux->seccomp));
  }
  if (proc.terminal && o.consoleSocket.empty() && o.consoleSocketFd < 0)
    return fail(ErrorCode::kInvalidArgument, "exec --tty needs --console-socket");

  // Namespace fds of the init, skipping those we already share.
  std::string procDir = "/proc/" + std::to_string(rec.pid);
  std::vector<std::pair<int, UniqueFd>> ns;
  for (const auto& n : kNs) {
    struct stat theirs, ours;
    std::string p = procDir + "/ns/" + n.name;
    if (::stat(p.c_str(), &theirs) < 0) continue;
    if (::stat(("/proc/self/ns/" + std::string(n.name)).c_str(), &ours) == 0 &&
        ours.st_ino == theirs.st_ino && ours.st_dev == theirs.st_dev)
      continue;
    UniqueFd fd(::open(p.c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd) return failErrno("open " + p);
    ns.push_back({n.type, std::move(fd)});
  }
  UniqueFd rootFd(::open((procDir + "/root").c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
  if (!rootFd) return failErrno("open container root");
  // The fds are the init's: make sure the pid was not recycled while we opened them.
  if (!sameProcessAlive(rec.pid, rec.startTime))
    return fail(ErrorCode::kFailedPrecondition, "container \"" + id + "\" is not running");
  UniqueFd console;
  if (proc.terminal && o.consoleSocketFd >= 0) {
    console.reset(::fcntl(o.consoleSocketFd, F_DUPFD_CLOEXEC, 3));
    if (!console) return failErrno("dup console socket");
  } else if (proc.terminal) {
    BERTH_ASSIGN(int c, connectUnix(o.consoleSocket));
    console.reset(c);
  }
  std::unique_ptr<Cgroups> cg;
  if (rec.hasCgroups) cg = openCgroups(realSys(), rec.cgroups);
  int sp[2];
  if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sp) < 0) return failErrno("socketpair");
  UniqueFd parentSock(sp[0]), childSock(sp[1]);

  pid_t helper = ::fork();
  if (helper < 0) return failErrno("fork");
  if (helper == 0) {
    parentSock.reset();
    int s = childSock.get();
    if (cg) {
      if (auto r = cg->addProcess(::getpid()); !r) childFail(s, r.error());
    }
    for (auto& [type, fd] : ns)
      if (::setns(fd.get(), type) < 0) childFail(s, Error::fromErrno("join container namespace"));
    if (::fchdir(rootFd.get()) < 0 || ::chroot(".") < 0 || ::chdir("/") < 0)
      childFail(s, Error::fromErrno("enter container root"));
    long c = ::syscall(SYS_clone, CLONE_PARENT | SIGCHLD, nullptr, nullptr, nullptr, nullptr);
    if (c < 0) childFail(s, Error::fromErrno("clone"));
    if (c > 0) {
      (void)sendSync(s, SyncMsg::kPid, std::to_string(c));
      _exit(0);
    }
    // The exec'd process.
    ::setsid();
    if (proc.terminal) {
      if (auto r = setupConsole(console.get(), proc.consoleSize); !r) childFail(s, r.error());
    } else if (auto r = setupStdio(o.stdio.in, o.stdio.out, o.stdio.err); !r) {
      childFail(s, r.error());
    }
    if (auto r = applyRlimits(rlimits); !r) childFail(s, r.error());
    Error e = finishAndExec(proc, proc.env, caps, seccomp.get(), o.preserveFds, true);
    childFail(s, e);
  }
  childSock.reset();
  console.reset();
  auto msg = recvSync(parentSock.get());
  ::waitpid(helper, nullptr, 0);
  if (!msg) return fail(msg.error().context("exec"));
  if (msg->first != SyncMsg::kPid) return fail(Error(ErrorCode::kFailedPrecondition, msg->second));
  pid_t pid = static_cast<pid_t>(std::atoi(msg->second.c_str()));
  ScopedPid child(pid);
  // EOF means the exec happened (the socket is close-on-exec); a message is an error.
  auto done = recvSync(parentSock.get());
  if (done && done->first == SyncMsg::kError)
    return fail(Error(ErrorCode::kFailedPrecondition, done->second));
  if (!o.pidFile.empty()) BERTH_TRY_CTX(fs::writeFileAtomic(o.pidFile, std::to_string(pid)), "pid file");
  return child.release();
}

}  // namespace berth::runtime
