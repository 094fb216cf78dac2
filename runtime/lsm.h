#pragma once
/// AppArmor profiles and SELinux labels (process.apparmorProfile, process.selinuxLabel,
/// linux.mountLabel): applied where the host has the LSM, rejected with a clear error where
/// it does not (a container never runs without the confinement its config asked for).

#include <string>

#include "common/error.h"
#include "oci/runtime_spec.h"

namespace berth::runtime::lsm {

/// /sys/module/apparmor/parameters/enabled says Y.
bool apparmorEnabled();
/// selinuxfs is mounted (/sys/fs/selinux/enforce exists).
bool selinuxEnabled();

/// Errors for a config asking for an LSM this host lacks (kUnsupported, naming the field).
Result<void> check(const oci::Spec& spec);

/// The text written to /proc/thread-self/attr/<...>/exec for an AppArmor profile.
std::string apparmorExecText(const std::string& profile);
/// The mount option that labels a filesystem with `label` ("context=\"label\"").
std::string mountLabelOption(const std::string& label);

/// In the container's init, before no_new_privs and the exec: the profile and label the
/// kernel applies at the next exec. `procDir` is the container's /proc.
Result<void> setExecAttributes(const oci::Process& proc, const std::string& procDir = "/proc");

}  // namespace berth::runtime::lsm
