#pragma once
/// File-system helpers with Result errors. Writes that must survive a crash go through
/// writeFileAtomic (temp file + fsync + rename + fsync of the directory).

#include <sys/types.h>

#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "common/error.h"

namespace berth::fs {

Result<std::string> readFile(const std::string& path);
/// Read `path` in chunks, calling `fn(data, len)` for each; for hashing or streaming big files.
Result<void> forEachChunk(const std::string& path,
                          const std::function<void(const char*, size_t)>& fn);
/// Write `data` to `path` atomically with `mode`. Readers see the old or the new file, never
/// a partial one; a crash leaves at worst a `.tmp-*` file beside it, never a torn `path`.
/// `durable` (the default) fsyncs the file and its directory, so the new file also survives an
/// OS crash; without it the rename is still atomic against a process crash (kill -9), which is
/// all a file needs whose loss in an OS crash matches that of the engine's records.
Result<void> writeFileAtomic(const std::string& path, std::string_view data, mode_t mode = 0644,
                             bool durable = true);
/// Write `data` to `path` (created with `mode`, or truncated) without fsync: for files that
/// need not survive an OS crash, or are published by a rename whose durability the caller
/// does not need. Files that must survive go through writeFileAtomic.
Result<void> writeFile(const std::string& path, std::string_view data, mode_t mode = 0644);
/// mkdir -p. Existing directories are fine.
Result<void> mkdirs(const std::string& path, mode_t mode = 0755);
/// rm -rf that never follows symlinks and stays on one file system. Missing path is fine.
Result<void> removeAll(const std::string& path);
bool exists(const std::string& path);
bool isDir(const std::string& path);
/// Names in a directory, without "." and "..". Missing directory gives an empty list.
Result<std::vector<std::string>> listDir(const std::string& path);
/// Names in the directory open as `dirfd` (without . and ..), at most `limit` (1: "is it
/// empty?"). Reads through a fresh open of ".", so `dirfd` and its offset are untouched.
Result<std::vector<std::string>> listDirAt(int dirfd, size_t limit = SIZE_MAX);
/// Join two paths with one '/'.
std::string join(std::string_view a, std::string_view b);
/// Lexically clean a path: collapse "//" and ".", resolve ".." without going above "/"
/// (for absolute) or above the start (for relative, where a leading ".." is kept).
std::string clean(std::string_view path);
/// True if `rel`, cleaned, stays inside its base (no leading "..", not absolute).
bool staysInside(std::string_view rel);
/// Create a fresh unique directory under `parent` named prefix+random; returns its path.
Result<std::string> makeTempDir(const std::string& parent, std::string_view prefix);
/// fsync a directory by path (after renames into it).
Result<void> syncDir(const std::string& path);

/// The running program's path (/proc/self/exe, without a " (deleted)" suffix).
Result<std::string> selfExe();
/// `name` in the running program's directory (its companion binaries: berth-proxy beside
/// berth, berth-init beside berth-runtime, ...). Whether it exists is the caller's to check.
Result<std::string> siblingExe(std::string_view name);

}  // namespace berth::fs
