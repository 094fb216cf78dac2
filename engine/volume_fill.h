#pragma once
/// Docker's volume pre-fill: an empty volume mounted where the image has content gets a copy
/// of it on first use.

#include <string>

#include "common/error.h"

namespace berth::engine {

/// If `volumeDir` is empty and `path` (resolved inside `rootfs` with RESOLVE_IN_ROOT, so an
/// image's symlinks stay inside it) is a directory, copy its contents into `volumeDir` with
/// owners, modes and times; symlinks are copied as symlinks, never followed; devices and
/// fifos are recreated, sockets skipped. The volume's root takes the directory's owner and
/// mode. A non-empty volume, or a missing path, is left alone (no error).
Result<void> fillVolume(const std::string& rootfs, const std::string& path,
                        const std::string& volumeDir);

}  // namespace berth::engine
