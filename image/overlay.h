#pragma once
/// Overlay mounts of image snapshots (a container's or a build step's rootfs).

#include <string>
#include <vector>

#include "common/error.h"

namespace berth::image {

/// Mount an overlay of `lowers` (bottom first) + upper/work at target. Works for more lowers
/// than fit one mount option string (the new mount API's "lowerdir+" where the kernel has it,
/// else short relative paths from a child that chdir()s to the lowers' common parent); zero
/// lowers gives an empty lower. `upper` and `work` must be on one file system. With an empty
/// `upper` the overlay is read-only (then `work` is ignored and at least one lower is needed).
Result<void> mountOverlay(const std::vector<std::string>& lowers, const std::string& upper,
                          const std::string& work, const std::string& target);

/// Unmount `target` (lazily if busy). Not mounted is an error (EINVAL).
Result<void> unmount(const std::string& target);

}  // namespace berth::image
