// The container init (child side of create) and the common pre-exec tail.
#include "runtime/init.h"

#include <fcntl.h>
#include <sched.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>

#include "common/fs.h"
#include "common/strings.h"
#include "common/unique_fd.h"
#include "runtime/hooks.h"
#include "runtime/lsm.h"
#include "runtime/rootfs.h"
#include "runtime/sync.h"

#ifndef CLONE_NEWTIME
#define CLONE_NEWTIME 0x00000080
#endif
#ifndef MFD_EXEC
#define MFD_EXEC 0x0010U
#endif

extern "C" const char berth_exec_stub_start[];
extern "C" const char berth_exec_stub_end[];

namespace berth::runtime {
namespace {

[[noreturn]] void die(int syncFd, const Error& e) {
  if (syncFd >= 0 && sendSync(syncFd, SyncMsg::kError, e.message())) _exit(1);
  std::string line = "berth-runtime: " + e.message() + "\n";
  (void)!::write(2, line.data(), line.size());
  _exit(e.is(ENOENT) ? 127 : e.is(EACCES) ? 126 : 1);
}

Result<void> writeProcFile(const std::string& path, std::string_view v) {
  UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CLOEXEC));
  if (!fd) return failErrno("open " + path);
  if (::write(fd.get(), v.data(), v.size()) < 0) return failErrno("write " + path);
  return {};
}

Result<void> enterNewTimeNs(const oci::Linux& l) {
  if (::unshare(CLONE_NEWTIME) < 0) return failErrno("unshare time namespace");
  std::string offs;
  for (const auto& [clock, secs] : l.timeOffsets) {
    if (clock != "monotonic" && clock != "boottime")
      return fail(ErrorCode::kInvalidArgument, "linux.timeOffsets: unknown clock \"" + clock + "\"");
    offs += clock + " " + std::to_string(secs) + " 0\n";
  }
  if (!offs.empty()) BERTH_TRY(writeProcFile("/proc/self/timens_offsets", offs));
  // unshare() only affects children; enter it ourselves (we are single-threaded).
  UniqueFd ns(::open("/proc/self/ns/time_for_children", O_RDONLY | O_CLOEXEC));
  if (!ns || ::setns(ns.get(), CLONE_NEWTIME) < 0) return failErrno("enter time namespace");
  return {};
}

Result<void> applySysctl(const std::map<std::string, std::string>& sysctl) {
  for (const auto& [k, v] : sysctl) {
    std::string path = "/proc/sys/" + k;
    for (size_t i = 10; i < path.size(); ++i)
      if (path[i] == '.') path[i] = '/';
    if (!fs::staysInside(path.substr(10)))
      return fail(ErrorCode::kInvalidArgument, "linux.sysctl: bad key \"" + k + "\"");
    BERTH_TRY_CTX(writeProcFile(path, v), "sysctl " + k);
  }
  return {};
}

Result<UniqueFd> sealedStub() {
  size_t len = static_cast<size_t>(berth_exec_stub_end - berth_exec_stub_start);
  int fd = static_cast<int>(
      ::syscall(SYS_memfd_create, "berth-exec", MFD_CLOEXEC | MFD_ALLOW_SEALING | MFD_EXEC));
  if (fd < 0 && errno == EINVAL)
    fd = static_cast<int>(::syscall(SYS_memfd_create, "berth-exec", MFD_CLOEXEC | MFD_ALLOW_SEALING));
  if (fd < 0) return failErrno("memfd_create");
  UniqueFd m(fd);
  size_t off = 0;
  while (off < len) {
    ssize_t n = ::write(m.get(), berth_exec_stub_start + off, len - off);
    if (n <= 0) return failErrno("write exec stub");
    off += static_cast<size_t>(n);
  }
  if (::fchmod(m.get(), 0555) < 0) return failErrno("chmod exec stub");
  if (::fcntl(m.get(), F_ADD_SEALS, F_SEAL_SEAL | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE) < 0)
    return failErrno("seal exec stub");
  return m;
}

}  // namespace

Error finishAndExec(const oci::Process& proc, const std::vector<std::string>& env,
                    const CapSets& caps, SeccompFilter* seccomp, int keepFds, bool setGroups,
                    const FifoWait* wait) {
  auto fail1 = [](Error e) { return e; };
  if (proc.args.empty()) return Error(ErrorCode::kInvalidArgument, "process.args: empty");
  auto exe = findExecutable(proc.args[0], env);
  if (!exe) return fail1(exe.error());
  // The stub must exist before we drop privileges; sealing makes it unwritable, so the
  // container can never reach a writable runtime binary through /proc/<pid>/exe.
  auto stub = sealedStub();
  if (!stub) return fail1(stub.error());
  // AppArmor and SELinux take effect at the exec below; they must be set before
  // no_new_privs, which limits profile transitions.
  if (auto r = lsm::setExecAttributes(proc); !r) return fail1(r.error());
  if (proc.noNewPrivileges && ::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
    return Error::fromErrno("prctl no_new_privs");
  int notifyFd = -1;
  // Without no_new_privs, loading a filter needs CAP_SYS_ADMIN: load it before dropping caps.
  if (seccomp && !proc.noNewPrivileges) {
    auto fd = seccomp->load();
    if (!fd) return fail1(fd.error());
    notifyFd = *fd;
  }
  if (proc.user.umask) ::umask(*proc.user.umask);
  else ::umask(022);
  if (auto r = applyUserAndCaps(proc.user, caps, setGroups); !r) return fail1(r.error());
  if (auto r = enterCwd(proc.cwd.empty() ? "/" : proc.cwd); !r) return fail1(r.error());
  if (seccomp && proc.noNewPrivileges) {
    auto fd = seccomp->load();
    if (!fd) return fail1(fd.error());
    notifyFd = *fd;
  }
  if (notifyFd >= 0) {
    auto sock = connectUnix(seccomp->listenerPath());
    if (!sock) return fail1(sock.error().context("seccomp listener"));
    std::string meta = "{\"ociVersion\":\"1.0.2\",\"fds\":[\"seccompFd\"],\"pid\":" +
                       std::to_string(::getpid()) + ",\"metadata\":\"" +
                       seccomp->listenerMetadata() + "\"}";
    auto sent = sendFd(*sock, notifyFd, meta);
    ::close(*sock);
    ::close(notifyFd);
    if (!sent) return fail1(sent.error());
  }
  // The stub's mode (exec_stub.c): "x" execs at once; "w" first waits on the exec fifo.
  std::string mode = wait ? "w" : "x", fifoPath, fifoFdText;
  int fifoFd = -1;
  if (wait) {
    // A number above the preserved fds, inherited by the stub only (it closes it).
    fifoFd = ::fcntl(wait->fifoFd, F_DUPFD_CLOEXEC, 3 + keepFds);
    if (fifoFd < 0) return Error::fromErrno("dup exec fifo");
    fifoPath = "/proc/self/fd/" + std::to_string(fifoFd);
    fifoFdText = std::to_string(fifoFd);
  }
  cloexecFrom(3 + keepFds);
  if (wait && ::fcntl(fifoFd, F_SETFD, 0) < 0) return Error::fromErrno("exec fifo fd");
  std::vector<char*> argv, envp;
  std::string path = *exe, none;
  argv.push_back(none.data());
  argv.push_back(mode.data());
  if (wait) {
    argv.push_back(fifoPath.data());
    argv.push_back(fifoFdText.data());
  }
  argv.push_back(path.data());
  std::vector<std::string> args = proc.args;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  std::vector<std::string> e = env;
  for (auto& x : e) envp.push_back(x.data());
  envp.push_back(nullptr);
  // Everything that can fail has: the caller that waits for us (vfork) hears "ready" now.
  if (wait && !sendSync(wait->syncFd, SyncMsg::kReady))
    return Error(ErrorCode::kInternal, "report ready");
  ::syscall(SYS_execveat, stub->get(), "", argv.data(), envp.data(), AT_EMPTY_PATH);
  return Error::fromErrno("exec " + proc.args[0]);
}

void runInit(InitConfig& cfg) {
  const oci::Spec& spec = *cfg.spec;
  const oci::Process& proc = *spec.process;
  int sync = cfg.syncFd;
  auto check = [&](const Result<void>& r, std::string_view ctx = {}) {
    if (!r) {
      Error e = r.error();
      if (!ctx.empty()) e.context(ctx);
      die(sync, e);
    }
  };
  // 1. Wait until the parent has written our id maps and placed us in the cgroups; or, when
  // our parent is suspended until we exec (cfg.vfork: no user namespace, no hooks), join
  // the cgroups ourselves ("0" is the writer) and set our OOM score.
  std::string stateJson;
  if (cfg.vfork) {
    check(cfg.joinCgroups->addProcess(0));
    if (proc.oomScoreAdj)
      check(writeProcFile("/proc/self/oom_score_adj", std::to_string(*proc.oomScoreAdj)),
            "process.oomScoreAdj");
  } else {
    auto go = recvSync(sync);
    if (!go || go->first != SyncMsg::kGo) _exit(1);
    stateJson = go->second;
  }
  if (cfg.newUserNs) {
    if (::syscall(SYS_setresgid, 0, 0, 0) < 0 || ::syscall(SYS_setresuid, 0, 0, 0) < 0)
      die(sync, Error::fromErrno("become root in the user namespace"));
  }
  // 2. Namespaces joined by path (user first, then the rest).
  for (auto [type, fd] : cfg.joins)
    if (::setns(fd, type) < 0) die(sync, Error::fromErrno("join namespace"));
  if (cfg.newTimeNs) check(enterNewTimeNs(*spec.linux));
  if (::setsid() < 0) die(sync, Error::fromErrno("setsid"));
  // sysctls are per-namespace and read through the host's /proc here, before the container's
  // /proc/sys is made read-only.
  if (spec.linux) check(applySysctl(spec.linux->sysctl));
  // 3. The file system.
  auto root = prepareRootfs(*cfg.plan, *cfg.cgroups);
  if (!root) die(sync, root.error());
  if (cfg.hostHooks) {
    check(sendSync(sync, SyncMsg::kHooks));
    auto done = recvSync(sync);
    if (!done || done->first != SyncMsg::kHooksDone) _exit(1);
  }
  check(runHooks(spec.hooks.createContainer, stateJson, "createContainer"));
  UniqueFd hostProc(::open("/proc", O_PATH | O_DIRECTORY | O_CLOEXEC));
  if (!hostProc) die(sync, Error::fromErrno("open /proc"));
  check(enterRootfs(root->get(), cfg.noPivot));
  root->reset();
  // 4. Identity and limits.
  if (cfg.newUts) {
    if (!spec.hostname.empty() && ::sethostname(spec.hostname.data(), spec.hostname.size()) < 0)
      die(sync, Error::fromErrno("sethostname"));
    if (!spec.domainname.empty() &&
        ::setdomainname(spec.domainname.data(), spec.domainname.size()) < 0)
      die(sync, Error::fromErrno("setdomainname"));
  }
  check(finishRootfs(*cfg.plan));
  check(applyRlimits(cfg.rlimits));
  // 5. stdio or console.
  if (proc.terminal) {
    check(setupConsole(cfg.consoleFd, proc.consoleSize), "console");
    ::close(cfg.consoleFd);
  } else {
    check(setupStdio(cfg.stdio.in, cfg.stdio.out, cfg.stdio.err));
  }
  // Catch a missing cwd or program now, while create can still report it.
  {
    struct stat st;
    std::string cwd = proc.cwd.empty() ? "/" : proc.cwd;
    if (::stat(cwd.c_str(), &st) < 0) die(sync, Error::fromErrno("process.cwd " + cwd));
    if (!S_ISDIR(st.st_mode)) die(sync, Error(ENOTDIR, "process.cwd " + cwd + ": not a directory"));
    if (proc.user.uid == 0) {
      auto exe = findExecutable(proc.args[0], cfg.env);
      if (!exe) die(sync, exe.error());
    }
  }
  if (cfg.vfork) {
    // 6. The stub blocks on the exec fifo in our place (exec_stub.c) once all of the below
    // is done, and we report ready just before exec'ing it: our parent resumes at that exec.
    // No startContainer hooks here (cfg.vfork is only set without hooks).
    FifoWait wait{cfg.fifoFd, sync};
    Error e = finishAndExec(proc, cfg.env, cfg.caps, cfg.seccomp, cfg.preserveFds, true, &wait);
    die(sync, e);
  }
  // 6. Ready: block until start opens the fifo's read end.
  check(sendSync(sync, SyncMsg::kReady));
  ::close(sync);
  sync = -1;
  std::string fdLink = "self/fd/" + std::to_string(cfg.fifoFd);
  int fifo = ::openat(hostProc.get(), fdLink.c_str(), O_WRONLY | O_CLOEXEC);
  if (fifo < 0) die(-1, Error::fromErrno("open exec fifo"));
  if (::write(fifo, "0", 1) != 1) die(-1, Error::fromErrno("write exec fifo"));
  ::close(fifo);
  ::close(cfg.fifoFd);
  hostProc.reset();
  check(runHooks(spec.hooks.startContainer, stateJson, "startContainer"));
  Error e = finishAndExec(proc, cfg.env, cfg.caps, cfg.seccomp, cfg.preserveFds,
                          !cfg.newUserNs || true);
  die(-1, e);
}

}  // namespace berth::runtime
