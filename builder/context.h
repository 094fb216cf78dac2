#pragma once
/// A source tree for COPY/ADD: the build context (filtered by .dockerignore) or the root file
/// system of another stage or image (`COPY --from`). Knows every entry's type, mode, owner
/// and content digest, resolves source arguments (wildcards, symlinks) without ever leaving
/// the tree, and checksums sources for the build cache (content + mode + owner, never mtime).

#include <sys/types.h>

#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "builder/dockerignore.h"
#include "common/error.h"

namespace berth::build {

struct ContextEntry {
  std::string rel;  ///< path relative to the tree root, '/'-separated, no leading "./"
  mode_t mode = 0;  ///< st_mode (type and permission bits)
  uid_t uid = 0;
  gid_t gid = 0;
  uint64_t size = 0;
  dev_t rdev = 0;
  std::string linkTarget;  ///< for symlinks
  mutable std::string digest;  ///< sha256 of a regular file's content, computed on demand
};

class SourceTree {
 public:
  /// The build context at `dir`: walks it all now, leaving out what `ignore` excludes.
  /// Errors if `dir` is not a readable directory.
  static Result<std::unique_ptr<SourceTree>> openContext(const std::string& dir,
                                                         IgnoreMatcher ignore);
  /// A root file system (another stage or an image), walked lazily per source. Symlinks
  /// resolve as if `dir` were "/" (like a chroot).
  static Result<std::unique_ptr<SourceTree>> openRootfs(const std::string& dir);

  const std::string& root() const { return root_; }

  /// Resolve one COPY/ADD source argument to entries of this tree: cleans it, applies
  /// wildcards per path component, follows symlinks of the source path itself within the
  /// tree. Errors: the source is outside the tree (`../x`), a symlink leads outside the
  /// context, or nothing matches ("no such file or directory").
  Result<std::vector<const ContextEntry*>> resolve(std::string_view source);

  /// The entry and everything below it (for a directory), sorted by path.
  Result<std::vector<const ContextEntry*>> subtree(const ContextEntry& top);

  /// Cache checksum of these sources and their subtrees: names, types, modes, owners,
  /// content digests and symlink targets. Changes when and only when one of them changes.
  Result<std::string> checksum(const std::vector<const ContextEntry*>& sources);

  /// Content digest of a regular file entry (cached).
  Result<std::string> fileDigest(const ContextEntry& e);

  /// Absolute host path of an entry (for reading it with O_NOFOLLOW).
  std::string hostPath(const ContextEntry& e) const;

  const ContextEntry* find(std::string_view rel) const;

 private:
  SourceTree(std::string root, IgnoreMatcher ignore, bool isContext)
      : root_(std::move(root)), ignore_(std::move(ignore)), isContext_(isContext) {}
  /// Walk the subtree at `rel` (an existing directory or "") into entries_, once.
  Result<void> walk(const std::string& rel);
  Result<const ContextEntry*> lstatEntry(const std::string& rel);
  /// Follow symlinks in `rel` (every component); returns the resolved rel path.
  Result<std::string> followLinks(const std::string& rel, std::string_view shown);

  std::string root_;
  IgnoreMatcher ignore_;
  bool isContext_;
  std::map<std::string, ContextEntry> entries_;
  std::map<std::string, bool> walked_;
};

}  // namespace berth::build
