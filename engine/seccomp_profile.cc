#include "engine/seccomp_profile.h"

#include <sched.h>

#include <cerrno>

namespace berth::engine {
namespace {

// Syscalls that fail with EPERM. A name the host's libseccomp does not know is skipped by the
// runtime, and a name that exists on only some of the ABIs (vm86, stime, umount) applies there.
constexpr const char* kDenied[] = {
    // kernel code and the machine
    "kexec_load", "kexec_file_load", "init_module", "finit_module", "delete_module",
    "create_module", "get_kernel_syms", "query_module", "reboot", "swapon", "swapoff", "acct",
    "iopl", "ioperm", "vm86", "vm86old", "uselib", "nfsservctl", "_sysctl", "ustat", "sysfs",
    "lookup_dcookie", "quotactl", "quotactl_fd", "syslog",
    // the host's clocks
    "settimeofday", "stime", "clock_settime", "clock_settime64", "clock_adjtime",
    "clock_adjtime64", "adjtimex",
    // file handles reach files outside the container's root (CVE "shocker")
    "open_by_handle_at", "name_to_handle_at",
    // kernel attack surface a container has no use for
    "bpf", "perf_event_open", "userfaultfd", "keyctl", "add_key", "request_key",
    // peeking into other processes without ptrace's checks on exec
    "kcmp", "process_vm_readv", "process_vm_writev",
    // mounts and namespaces: the container's own are set up by the runtime
    "mount", "umount", "umount2", "pivot_root", "fsopen", "fsconfig", "fsmount", "fspick",
    "move_mount", "open_tree", "mount_setattr", "setns",
};

// Namespace flags refused to clone (arg 0) and unshare (arg 0). CLONE_NEWTIME shares its bit
// with clone's exit signal, so it is refused to unshare only.
constexpr unsigned long kNsFlags[] = {CLONE_NEWNS,   CLONE_NEWCGROUP, CLONE_NEWUTS, CLONE_NEWIPC,
                                      CLONE_NEWUSER, CLONE_NEWPID,    CLONE_NEWNET};
constexpr unsigned long kNewTime = 0x00000080;

oci::Seccomp build() {
  oci::Seccomp s;
  s.defaultAction = "SCMP_ACT_ALLOW";
#if defined(__x86_64__)
  s.architectures = {"SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"};
#elif defined(__aarch64__)
  s.architectures = {"SCMP_ARCH_AARCH64", "SCMP_ARCH_ARM"};
#endif
  oci::SeccompSyscall denied;
  denied.action = "SCMP_ACT_ERRNO";
  denied.errnoRet = EPERM;
  for (const char* n : kDenied) denied.names.emplace_back(n);
  s.syscalls.push_back(std::move(denied));
  // One rule per flag: a filter rule ANDs its conditions, and "any of these bits" is an OR.
  auto nsRule = [&](const char* name, unsigned long flag) {
    oci::SeccompSyscall r;
    r.names = {name};
    r.action = "SCMP_ACT_ERRNO";
    r.errnoRet = EPERM;
    r.args.push_back({0, flag, flag, "SCMP_CMP_MASKED_EQ"});
    s.syscalls.push_back(std::move(r));
  };
  for (unsigned long f : kNsFlags) {
    nsRule("clone", f);
    nsRule("unshare", f);
  }
  nsRule("unshare", kNewTime);
  oci::SeccompSyscall clone3;
  clone3.names = {"clone3"};
  clone3.action = "SCMP_ACT_ERRNO";
  clone3.errnoRet = ENOSYS;
  s.syscalls.push_back(std::move(clone3));
  return s;
}

}  // namespace

const oci::Seccomp& defaultSeccompProfile() {
  static const oci::Seccomp profile = build();
  return profile;
}

}  // namespace berth::engine
