// Runtime::create: validate, prepare, clone the init, drive it to "created".
#include <fcntl.h>
#include <linux/nsfs.h>
#include <sched.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
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
#include "runtime/hooks.h"
#include "runtime/init.h"
#include "runtime/lsm.h"
#include "runtime/sys.h"
#include "runtime/runtime_internal.h"
#include "runtime/state_store.h"
#include "runtime/sync.h"

#ifndef CLONE_NEWTIME
#define CLONE_NEWTIME 0x00000080
#endif

namespace berth::runtime {
namespace {

int cloneFlag(oci::NamespaceType t) {
  switch (t) {
    case oci::NamespaceType::kPid: return CLONE_NEWPID;
    case oci::NamespaceType::kNetwork: return CLONE_NEWNET;
    case oci::NamespaceType::kMount: return CLONE_NEWNS;
    case oci::NamespaceType::kIpc: return CLONE_NEWIPC;
    case oci::NamespaceType::kUts: return CLONE_NEWUTS;
    case oci::NamespaceType::kUser: return CLONE_NEWUSER;
    case oci::NamespaceType::kCgroup: return CLONE_NEWCGROUP;
    case oci::NamespaceType::kTime: return CLONE_NEWTIME;
  }
  return 0;
}

bool singleThreaded() {
  struct stat st;
  // /proc/self/task has one entry per thread plus "." and "..".
  return ::stat("/proc/self/task", &st) == 0 && st.st_nlink == 3;
}

std::string idMap(const std::vector<oci::IdMapping>& m) {
  std::string s;
  for (const auto& x : m)
    s += std::to_string(x.containerID) + " " + std::to_string(x.hostID) + " " +
         std::to_string(x.size) + "\n";
  return s;
}

/// Everything a failed create must undo, in reverse order.
struct CreateGuard {
  std::string dir;
  std::unique_ptr<Cgroups> cgroups;
  ScopedPid init;
  bool done = false;
  ~CreateGuard() {
    if (done) return;
    init.killAndReap();
    if (cgroups) (void)cgroups->destroy();
    if (!dir.empty()) (void)fs::removeAll(dir);
  }
};

// The init's entry when it shares our memory (see Runtime::create).
int vforkInitMain(void* arg) { runInit(*static_cast<InitConfig*>(arg)); }

uint32_t hostRootUid(const std::vector<oci::IdMapping>& m) {
  for (const auto& x : m)
    if (x.containerID == 0) return x.hostID;
  return 0;
}

}  // namespace

Result<void> Runtime::create(const CreateOptions& o) {
  if (!validContainerId(o.id))
    return fail(ErrorCode::kInvalidArgument, "invalid container id \"" + o.id + "\"");
  if (o.bundle.empty() || o.bundle[0] != '/')
    return fail(ErrorCode::kInvalidArgument, "bundle \"" + o.bundle + "\": must be an absolute path");
  // --- Load and validate everything before touching the system.
  std::string configText;
  std::shared_ptr<const oci::Spec> specPtr = o.spec;
  if (!specPtr) {
    auto text = fs::readFile(o.bundle + "/config.json");
    if (!text) return fail(text.error().context("bundle " + o.bundle));
    BERTH_ASSIGN(oci::Spec parsed, oci::parseSpec(*text));
    specPtr = std::make_shared<oci::Spec>(std::move(parsed));
    configText = std::move(*text);
  } else {
    configText = oci::toJson(*specPtr);
  }
  const oci::Spec& spec = *specPtr;
  if (!spec.process) return fail(ErrorCode::kInvalidArgument, "config.json: process: required");
  if (spec.process->args.empty())
    return fail(ErrorCode::kInvalidArgument, "config.json: process.args: must not be empty");
  if (!spec.root) return fail(ErrorCode::kInvalidArgument, "config.json: root: required");
  oci::Linux noLinux;
  const oci::Linux& lx = spec.linux ? *spec.linux : noLinux;
  if (!lx.hasNamespace(oci::NamespaceType::kMount))
    return fail(ErrorCode::kInvalidArgument, "config.json: linux.namespaces: a mount namespace is required");
  std::string rootfs = spec.root->path[0] == '/' ? spec.root->path : o.bundle + "/" + spec.root->path;
  char real[PATH_MAX];
  if (!::realpath(rootfs.c_str(), real)) return failErrno("rootfs " + rootfs);
  rootfs = real;
  if (!fs::isDir(rootfs))
    return fail(ErrorCode::kInvalidArgument, "rootfs " + rootfs + ": not a directory");
  const auto* userNs = lx.findNamespace(oci::NamespaceType::kUser);
  bool newUserNs = userNs && userNs->path.empty();
  if (newUserNs && (lx.uidMappings.empty() || lx.gidMappings.empty()))
    return fail(ErrorCode::kInvalidArgument,
                "config.json: linux.uidMappings/gidMappings: required with a new user namespace");
  BERTH_TRY(lsm::check(spec));  // applied by the init, or rejected here (runtime/lsm.h)
  if (spec.process->terminal && o.consoleSocket.empty() && o.consoleSocketFd < 0)
    return fail(ErrorCode::kInvalidArgument, "process.terminal is true: --console-socket is required");
  BERTH_ASSIGN(MountPlan plan, planMounts(spec, rootfs, userNs != nullptr));
  BERTH_ASSIGN(CapSets caps, parseCaps(spec.process->capabilities));
  BERTH_ASSIGN(auto rlimits, parseRlimits(spec.process->rlimits));
  std::unique_ptr<SeccompFilter> seccomp;
  if (lx.seccomp) {
    BERTH_ASSIGN(seccomp, compileSeccomp(*lx.seccomp));
  }
  if (!lx.timeOffsets.empty() && !lx.hasNamespace(oci::NamespaceType::kTime))
    return fail(ErrorCode::kInvalidArgument, "linux.timeOffsets: needs a time namespace");

  std::vector<std::string> env = spec.process->env;
  int preserve = o.preserveFds;
  if (const char* lf = ::getenv("LISTEN_FDS")) {
    const char* lp = ::getenv("LISTEN_PID");
    auto n = str::parseU64(lf);
    if (n && *n > 0 && (!lp || str::parseU64(lp) == static_cast<uint64_t>(::getpid()))) {
      env.push_back("LISTEN_FDS=" + std::to_string(*n));
      env.push_back("LISTEN_PID=1");
      preserve = std::max<int>(preserve, static_cast<int>(*n));
    }
  }

  // Namespaces joined by path: open and check the type now.
  std::vector<std::pair<int, UniqueFd>> joinFds;
  int cloneFlags = 0;
  UniqueFd pidJoin;
  bool newTime = false;
  for (const auto& ns : lx.namespaces) {
    int flag = cloneFlag(ns.type);
    if (ns.path.empty()) {
      if (flag == CLONE_NEWTIME) newTime = true;
      else cloneFlags |= flag;
      continue;
    }
    UniqueFd fd(::open(ns.path.c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd) return failErrno("linux.namespaces: " + std::string(oci::namespaceTypeName(ns.type)) + " " + ns.path);
    int t = ::ioctl(fd.get(), NS_GET_NSTYPE);
    if (t >= 0 && t != flag)
      return fail(ErrorCode::kInvalidArgument,
                  "linux.namespaces: " + ns.path + " is not a " +
                      std::string(oci::namespaceTypeName(ns.type)) + " namespace");
    if (flag == CLONE_NEWPID) pidJoin = std::move(fd);
    else if (flag == CLONE_NEWUSER) joinFds.insert(joinFds.begin(), {flag, std::move(fd)});
    else joinFds.push_back({flag, std::move(fd)});
  }

  // --- State dir: its creation is the atomic "id is taken" check.
  BERTH_TRY(fs::mkdirs(root_, 0700));
  CreateGuard guard;
  std::string dir = root_ + "/" + o.id;
  if (::mkdir(dir.c_str(), 0700) < 0) {
    if (errno == EEXIST)
      return fail(ErrorCode::kAlreadyExists, "container \"" + o.id + "\" already exists");
    return failErrno("mkdir " + dir);
  }
  guard.dir = dir;
  {
    UniqueFd cfd(::open((dir + "/" + kConfigFile).c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600));
    if (!cfd || ::write(cfd.get(), configText.data(), configText.size()) < 0)
      return failErrno("write config copy");
  }
  std::string fifoPath = dir + "/" + kFifoFile;
  if (::mkfifo(fifoPath.c_str(), 0622) < 0) return failErrno("mkfifo " + fifoPath);
  // Whatever our umask: a vfork init's stub opens it after the switch to the process's user
  // (the state dir stays 0700, so only the init's own O_PATH fd leads here).
  if (::chmod(fifoPath.c_str(), 0622) < 0) return failErrno("chmod " + fifoPath);
  if (newUserNs) {
    uint32_t uid = hostRootUid(lx.uidMappings), gid = hostRootUid(lx.gidMappings);
    if (::chown(fifoPath.c_str(), uid, gid) < 0) return failErrno("chown exec fifo");
    ::chmod(dir.c_str(), 0711);
  }
  UniqueFd fifo(::open(fifoPath.c_str(), O_PATH | O_CLOEXEC));
  if (!fifo) return failErrno("open " + fifoPath);

  // --- cgroups.
  Sys& sys = realSys();
  BERTH_ASSIGN(CgroupLayout layout, detectCgroupLayout(sys));
  BERTH_ASSIGN(std::string selfCg, sys.readFile("/proc/self/cgroup"));
  BERTH_ASSIGN(guard.cgroups, openCgroups(sys, layout, lx.cgroupsPath, o.id, selfCg));
  BERTH_TRY_CTX(guard.cgroups->create(), "create cgroup");
  if (lx.resources) {
    oci::Resources res = *lx.resources;
    if (!res.devices.empty()) {
      // Like runc: the default devices (and mknod of any) stay usable whatever the rules say.
      auto allow = [&](const char* t, int64_t maj, std::optional<int64_t> min, const char* acc) {
        res.devices.push_back({true, t, maj, min, acc});
      };
      res.devices.push_back({true, "c", std::nullopt, std::nullopt, "m"});
      res.devices.push_back({true, "b", std::nullopt, std::nullopt, "m"});
      for (const auto& d : defaultDeviceNodes()) allow("c", d.major, d.minor, "rwm");
      allow("c", 5, 2, "rwm");             // /dev/ptmx
      allow("c", 136, std::nullopt, "rwm");  // /dev/pts/*
      for (const auto& d : lx.devices)
        if (d.type == "c" || d.type == "b" || d.type == "u")
          allow(d.type == "b" ? "b" : "c", d.major, d.minor, "rwm");
    }
    BERTH_TRY_CTX(guard.cgroups->apply(res), "linux.resources");
  }

  UniqueFd console;
  if (spec.process->terminal && o.consoleSocketFd >= 0) {
    console.reset(::fcntl(o.consoleSocketFd, F_DUPFD_CLOEXEC, 3));
    if (!console) return failErrno("dup console socket");
  } else if (spec.process->terminal) {
    BERTH_ASSIGN(int c, connectUnix(o.consoleSocket));
    console.reset(c);
  }
  int sp[2];
  if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sp) < 0) return failErrno("socketpair");
  UniqueFd parentSock(sp[0]), childSock(sp[1]);

  InitConfig cfg;
  cfg.spec = &spec;
  cfg.plan = &plan;
  cfg.cgroups = &guard.cgroups->paths();
  cfg.newUserNs = newUserNs;
  cfg.newUts = lx.hasNamespace(oci::NamespaceType::kUts);
  cfg.newTimeNs = newTime;
  for (auto& [t, fd] : joinFds) cfg.joins.push_back({t, fd.get()});
  cfg.syncFd = childSock.get();
  cfg.fifoFd = fifo.get();
  cfg.consoleFd = console.get();
  cfg.stdio = o.stdio;
  cfg.preserveFds = preserve;
  cfg.noPivot = o.noPivot;
  cfg.hostHooks = !spec.hooks.prestart.empty() || !spec.hooks.createRuntime.empty();
  cfg.env = std::move(env);
  cfg.caps = caps;
  cfg.rlimits = std::move(rlimits);
  cfg.seccomp = seccomp.get();

  // --- Clone. A multi-threaded caller (or joining a pid namespace, which only applies to
  // children) goes through a short-lived helper that clones with CLONE_PARENT, so the init
  // is still our direct child and the raw clone runs in a single-threaded process.
  pid_t pid = -1;
  // The fast way, for callers that allow it (the engine, with its own seccomp profile or none:
  // the stub's fifo wait runs after seccomp is loaded): the init starts in our memory
  // (CLONE_VM) on a stack of its own and we are suspended until it execs the stub
  // (CLONE_VFORK), like posix_spawn. A fork would copy our page tables and then take a
  // copy-on-write fault for each page either side writes (30-50 us each on these VMs: a
  // tenth of a `berth run`). It needs what the parent does between clone and "go" to be
  // done by the init itself (cgroups, OOM score): so no new user namespace (id maps), no
  // hooks, no pid namespace to join, and no other thread that could hold a lock in our
  // memory while the init runs.
  bool vfork = o.vforkInit && !newUserNs && !pidJoin && spec.hooks.empty() && singleThreaded();
  if (vfork) {
    cfg.vfork = true;
    cfg.joinCgroups = guard.cgroups.get();
    constexpr size_t kStack = 2 << 20;
    void* stack = ::mmap(nullptr, kStack, PROT_READ | PROT_WRITE,
                         MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
    if (stack == MAP_FAILED) return failErrno("init stack");
    pid = ::clone(vforkInitMain, static_cast<char*>(stack) + kStack,
                  cloneFlags | CLONE_VM | CLONE_VFORK | SIGCHLD, &cfg);
    ::munmap(stack, kStack);
    if (pid < 0) return failErrno("clone");
  } else if (pidJoin || !singleThreaded()) {
    int hp[2];
    if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, hp) < 0) return failErrno("socketpair");
    UniqueFd hr(hp[0]), hw(hp[1]);
    pid_t helper = ::fork();
    if (helper < 0) return failErrno("fork");
    if (helper == 0) {
      parentSock.reset();
      if (pidJoin && ::setns(pidJoin.get(), CLONE_NEWPID) < 0) {
        (void)sendSync(hw.get(), SyncMsg::kError, Error::fromErrno("join pid namespace").message());
        _exit(1);
      }
      long c = ::syscall(SYS_clone, CLONE_PARENT | cloneFlags | SIGCHLD, nullptr, nullptr, nullptr, nullptr);
      if (c == 0) runInit(cfg);
      if (c < 0) (void)sendSync(hw.get(), SyncMsg::kError, Error::fromErrno("clone").message());
      else (void)sendSync(hw.get(), SyncMsg::kPid, std::to_string(c));
      _exit(0);
    }
    hw.reset();
    auto msg = recvSync(hr.get());
    ::waitpid(helper, nullptr, 0);
    if (!msg) return fail(msg.error());
    if (msg->first != SyncMsg::kPid) return fail(Error(ErrorCode::kInternal, msg->second).context("create init"));
    pid = static_cast<pid_t>(std::atoi(msg->second.c_str()));
  } else {
    long c = ::syscall(SYS_clone, cloneFlags | SIGCHLD, nullptr, nullptr, nullptr, nullptr);
    if (c == 0) runInit(cfg);
    if (c < 0) return failErrno("clone");
    pid = static_cast<pid_t>(c);
  }
  guard.init = ScopedPid(pid);
  childSock.reset();

  // --- Parent side of the setup (done by a vfork init itself).
  std::string proc = "/proc/" + std::to_string(pid);
  if (newUserNs && !vfork) {
    BERTH_TRY_CTX(writeKernelFile(proc + "/uid_map", idMap(lx.uidMappings)), "linux.uidMappings");
    BERTH_TRY_CTX(writeKernelFile(proc + "/gid_map", idMap(lx.gidMappings)), "linux.gidMappings");
  }
  if (!vfork) BERTH_TRY(guard.cgroups->addProcess(pid));
  if (spec.process->oomScoreAdj && !vfork)
    BERTH_TRY_CTX(writeKernelFile(proc + "/oom_score_adj", std::to_string(*spec.process->oomScoreAdj)),
                  "process.oomScoreAdj");
  Record rec;
  rec.id = o.id;
  rec.bundle = o.bundle;
  rec.rootfs = rootfs;
  rec.created = nowRfc3339();
  rec.pid = pid;
  rec.startTime = liveStartTime(pid).value_or(0);
  rec.annotations = spec.annotations;
  rec.hasCgroups = true;
  rec.cgroups = guard.cgroups->paths();
  rec.hasPoststart = !spec.hooks.poststart.empty();
  rec.hasPoststop = !spec.hooks.poststop.empty();
  bool anyHooks = !spec.hooks.empty();
  auto stateOf = [&](Status st) {
    State s = recordToState(rec);
    s.status = st;
    return stateToJson(s, false);
  };
  if (!vfork)
    BERTH_TRY(sendSync(parentSock.get(), SyncMsg::kGo, anyHooks ? stateOf(Status::kCreating) : ""));
  for (;;) {
    auto msg = recvSync(parentSock.get());
    if (!msg) return fail(msg.error());
    if (msg->first == SyncMsg::kError) return fail(Error(ErrorCode::kFailedPrecondition, msg->second));
    if (msg->first == SyncMsg::kHooks) {
      std::string st = stateOf(Status::kCreating);
      BERTH_TRY(runHooks(spec.hooks.prestart, st, "prestart"));
      BERTH_TRY(runHooks(spec.hooks.createRuntime, st, "createRuntime"));
      BERTH_TRY(sendSync(parentSock.get(), SyncMsg::kHooksDone));
      continue;
    }
    if (msg->first == SyncMsg::kReady) break;
    return fail(ErrorCode::kInternal, "create: unexpected message from init");
  }
  BERTH_TRY(writeRecord(dir, rec));
  if (!o.pidFile.empty()) BERTH_TRY_CTX(fs::writeFileAtomic(o.pidFile, std::to_string(pid)), "pid file");
  guard.init.release();
  guard.done = true;
  return {};
}

}  // namespace berth::runtime
