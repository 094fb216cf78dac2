#pragma once
/// Executes a MountPlan inside the container init's new mount namespace. Every target is
/// resolved inside the rootfs with openat2(RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS) and
/// mounted through its /proc/self/fd/N handle, so symlinks planted or swapped by the image
/// cannot redirect a mount onto the host (CVE-2021-30465). Runs only in the init process.

#include <string>

#include "common/error.h"
#include "common/unique_fd.h"
#include "runtime/cgroup.h"
#include "runtime/mount_plan.h"

namespace berth::runtime {

/// openat2(root, path, flags, RESOLVE_IN_ROOT|RESOLVE_NO_MAGICLINKS).
Result<UniqueFd> openInRoot(int rootFd, const std::string& path, int flags);
/// mkdir -p of `path` inside the root, never following a symlink out of it; returns an
/// O_PATH fd of the final directory.
Result<UniqueFd> mkdirAllInRoot(int rootFd, const std::string& path, mode_t mode = 0755);

/// Propagation of "/", the rootfs bind mount, every mount step, devices and symlinks, masked
/// and readonly paths. Returns an fd of the prepared rootfs (for pivot).
Result<UniqueFd> prepareRootfs(const MountPlan& plan, const CgroupPaths& cgroups);
/// pivot_root into `rootFd` (or MS_MOVE + chroot with noPivot) and drop the old root.
Result<void> enterRootfs(int rootFd, bool noPivot);
/// After entering: remount "/" read-only if the plan says so.
Result<void> finishRootfs(const MountPlan& plan);

}  // namespace berth::runtime
