#pragma once
/// File operations inside a container root file system that can never escape it: every path
/// is resolved with openat2(RESOLVE_IN_ROOT), so a symlink planted in an image ("/app" ->
/// "/etc", or "../../..") resolves inside the root like it would in the container, and the
/// last component is never followed when creating. Used by COPY/ADD, WORKDIR and user lookup.

#include <sys/stat.h>
#include <sys/types.h>

#include <optional>
#include <string>
#include <string_view>

#include "common/error.h"
#include "common/unique_fd.h"

namespace berth::build::rootfs {

/// Open `rel` (relative to the root; a leading '/' is fine) as a directory fd (O_PATH-free,
/// usable with *at calls). With `create`, missing components are made with mode 0755 and
/// owner uid:gid (existing ones keep their metadata). Errors: ENOTDIR, ENOENT, ...
Result<UniqueFd> openDir(int rootFd, std::string_view rel, bool create, uid_t uid = 0,
                         gid_t gid = 0);

/// stat of `rel` following symlinks inside the root; nullopt if it does not exist.
Result<std::optional<struct stat>> statIn(int rootFd, std::string_view rel);

/// Whole content of a file inside the root (following symlinks inside the root).
/// kNotFound if missing.
Result<std::string> readFile(int rootFd, std::string_view rel);

/// "user[:group]" (names or ids) -> uid:gid using the root's /etc/passwd and /etc/group.
/// A user without group takes the user's primary group from passwd (its uid when the user
/// is numeric and unknown). Errors (kNotFound): a name that is not in the files.
Result<std::pair<uid_t, gid_t>> lookupUser(int rootFd, std::string_view spec);

/// How to set the metadata of copied nodes.
struct Ownership {
  std::optional<uid_t> uid;     ///< --chown (else the source's owner when keepOwner, else 0)
  std::optional<gid_t> gid;
  std::optional<mode_t> mode;   ///< --chmod: replaces permission bits of files and dirs
  bool keepOwner = false;       ///< COPY --from and ADD archives keep the source's owner
};

/// Copy the host node at `srcPath` (not following it if it is a symlink) to `name` in the
/// directory `dirFd`: regular files (content, mode, mtime), directories (created or merged,
/// not recursed), symlinks (as links), devices and fifos. An existing non-directory at the
/// destination is replaced; replacing a directory by a file is an error (EISDIR).
Result<void> copyNode(const std::string& srcPath, int dirFd, const std::string& name,
                      const Ownership& own);

/// Create or replace a regular file `name` in `dirFd` with `data`.
Result<void> writeNode(int dirFd, const std::string& name, std::string_view data, mode_t mode,
                       uid_t uid, gid_t gid);

/// If `hostPath` is a tar archive (plain, gzip, bzip2, xz, zstd), unpack it into the directory
/// `rel` of the root (created if missing) and return true; false if it is not an archive.
/// Entries that would leave `rel` (absolute, "..", links out) are refused.
Result<bool> extractArchive(const std::string& hostPath, int rootFd, const std::string& rel,
                            const Ownership& own);

/// Split "a/b/c" into ("a/b", "c"); ("", "c") for a single component.
std::pair<std::string, std::string> splitParent(std::string_view rel);

}  // namespace berth::build::rootfs
