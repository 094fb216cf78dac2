#pragma once
/// berth's default seccomp profile: applied to every container unless --privileged,
/// --security-opt seccomp=unconfined, or a profile of the user's (seccomp=FILE).

#include "oci/runtime_spec.h"

namespace berth::engine {

/// The profile, built once per process in memory (no JSON to parse on each run): default
/// action allow; EPERM for the syscalls a container never needs (kernel modules, kexec, reboot,
/// swap, clock setting, raw I/O ports, the kernel keyring, bpf, perf, userfaultfd, mount and
/// the new mount API, pivot_root, setns, namespace creation through clone/unshare, ...);
/// ENOSYS for clone3 (its flags are out of reach of a filter, libc falls back to clone).
/// Covers the host's native ABIs (x86_64 + i386 + x32, or aarch64 + arm): a syscall through
/// another ABI is killed, never let through. See docs/design/engine.md for the choices.
const oci::Seccomp& defaultSeccompProfile();

}  // namespace berth::engine
