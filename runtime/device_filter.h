#pragma once
/// cgroup v2 device control: linux.resources.devices compiled to a BPF_PROG_TYPE_CGROUP_DEVICE
/// program (instructions emitted here, no libbpf), loaded with bpf(2) and attached to a cgroup2
/// directory with BPF_F_ALLOW_MULTI.
///
/// Semantics of the rules (runc's "last match wins", decided per access bit): a request
/// (type, major, minor, access bits) is checked against the rules from last to first; for each
/// requested bit, the last rule that matches the device and names that bit decides it. A bit no
/// rule names falls to the default: allow, unless a catch-all rule ("a", any major/minor, rwm)
/// decides it, so a list starting with deny-all is default-deny. All requested bits must be
/// allowed. Types: "a" (or "") any, "c" char, "b" block; major/minor absent or -1 = any;
/// access a subset of "rwm" ("" = "rwm").

#include <linux/bpf.h>

#include <cstdint>
#include <string>
#include <vector>

#include "common/error.h"
#include "oci/runtime_spec.h"

namespace berth::runtime {

using BpfProgram = std::vector<struct bpf_insn>;

/// Emit the program for `rules` (pure; unit-tested through an interpreter).
/// Errors: a bad type, access letter or device number, naming the rule's index.
Result<BpfProgram> buildDeviceFilter(const std::vector<oci::DeviceCgroupRule>& rules);

/// Load `prog` and attach it to the cgroup2 directory `dir` (BPF_CGROUP_DEVICE,
/// BPF_F_ALLOW_MULTI), then detach the device programs that were attached to `dir` before, so
/// the new one replaces them. The program fd is closed: the attachment keeps it alive.
/// Errors carry the errno (EPERM without CAP_SYS_ADMIN/CAP_BPF) and the verifier's last line.
Result<void> attachDeviceFilter(const std::string& dir, const BpfProgram& prog);

/// Detach every device program attached directly to `dir` (none attached is fine).
Result<void> detachDeviceFilters(const std::string& dir);

/// Ids of the device programs attached directly to `dir` (for tests and diagnostics).
Result<std::vector<uint32_t>> attachedDeviceFilters(const std::string& dir);

}  // namespace berth::runtime
