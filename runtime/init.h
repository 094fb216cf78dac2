#pragma once
/// The container init: the code that runs in the cloned child, from the clone to the exec
/// of the user program. Everything it needs is prepared and validated by the parent
/// (create.cc) before the clone; the child only performs system calls and reports the first
/// failure over the sync socket.

#include <string>
#include <utility>
#include <vector>

#include "oci/runtime_spec.h"
#include "runtime/cgroup.h"
#include "runtime/mount_plan.h"
#include "runtime/process_setup.h"
#include "runtime/runtime.h"
#include "runtime/seccomp.h"

namespace berth::runtime {

struct InitConfig {
  const oci::Spec* spec = nullptr;
  const MountPlan* plan = nullptr;
  const CgroupPaths* cgroups = nullptr;
  bool newUserNs = false, newUts = false, newTimeNs = false;
  std::vector<std::pair<int, int>> joins;  ///< (CLONE_NEW* type, fd), user first
  int syncFd = -1;
  int fifoFd = -1;     ///< O_PATH fd of the exec fifo
  int consoleFd = -1;  ///< connected console socket, if process.terminal
  Stdio stdio;
  int preserveFds = 0;
  bool noPivot = false;
  bool hostHooks = false;  ///< prestart/createRuntime hooks: ask the parent at that point
  std::vector<std::string> env;
  CapSets caps;
  std::vector<ParsedRlimit> rlimits;
  SeccompFilter* seccomp = nullptr;
  /// Cloned with CLONE_VM|CLONE_VFORK: our parent is suspended until we exec or exit, so we
  /// join `joinCgroups` ourselves and the stub waits on the exec fifo (runtime/create.cc).
  bool vfork = false;
  Cgroups* joinCgroups = nullptr;
};

/// For finishAndExec: the exec stub waits on this exec fifo (O_PATH fd) before it execs the
/// process, and kReady is sent on syncFd just before the stub is exec'd.
struct FifoWait {
  int fifoFd = -1;
  int syncFd = -1;
};

/// Runs in the child; never returns (exec or _exit).
[[noreturn]] void runInit(InitConfig& cfg);

/// Shared by init and exec: the last steps before exec of a process (user, caps, NNP,
/// seccomp, cwd, fds), then exec through the sealed stub. Returns only on error.
Error finishAndExec(const oci::Process& proc, const std::vector<std::string>& env,
                    const CapSets& caps, SeccompFilter* seccomp, int keepFds, bool setGroups,
                    const FifoWait* wait = nullptr);

}  // namespace berth::runtime
