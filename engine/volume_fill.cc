#include "engine/volume_fill.h"

#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <vector>

#include "common/fs.h"
#include "common/unique_fd.h"

namespace berth::engine {
namespace {

Result<void> copyBytes(int in, int out, const std::string& name) {
  char buf[65536];
  for (;;) {
    ssize_t n = ::read(in, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return failErrno("read " + name);
    if (n == 0) return {};
    for (ssize_t off = 0; off < n;) {
      ssize_t w = ::write(out, buf + off, static_cast<size_t>(n - off));
      if (w < 0 && errno == EINTR) continue;
      if (w < 0) return failErrno("write " + name);
      off += w;
    }
  }
}

// Owner first, then mode (chown clears set-id bits), then times.
void applyMeta(int fd, const struct stat& st) {
  (void)::fchown(fd, st.st_uid, st.st_gid);
  (void)::fchmod(fd, st.st_mode & 07777);
  timespec ts[2] = {st.st_atim, st.st_mtim};
  (void)::futimens(fd, ts);
}

// Copy the entries of directory `src` into `dst`, both fds, at every level relative to the
// parent's fd with O_NOFOLLOW: nothing the image planted can lead outside either tree.
Result<void> copyTree(int src, int dst, int depth) {
  if (depth > 256) return fail(ErrorCode::kInvalidArgument, "directory tree too deep");
  BERTH_ASSIGN(auto names, fs::listDirAt(src));
  for (const auto& n : names) {
    const char* c = n.c_str();
    struct stat st;
    if (::fstatat(src, c, &st, AT_SYMLINK_NOFOLLOW) < 0) return failErrno("stat " + n);
    if (S_ISDIR(st.st_mode)) {
      if (::mkdirat(dst, c, 0700) < 0 && errno != EEXIST) return failErrno("mkdir " + n);
      UniqueFd s(::openat(src, c, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
      UniqueFd d(::openat(dst, c, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
      if (!s || !d) return failErrno("open directory " + n);
      BERTH_TRY(copyTree(s.get(), d.get(), depth + 1));
      applyMeta(d.get(), st);
    } else if (S_ISREG(st.st_mode)) {
      UniqueFd in(::openat(src, c, O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
      if (!in) return failErrno("open " + n);
      UniqueFd out(::openat(dst, c, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600));
      if (!out) {
        if (errno == EEXIST) continue;  // another container filling the same volume got here
        return failErrno("create " + n);
      }
      BERTH_TRY(copyBytes(in.get(), out.get(), n));
      applyMeta(out.get(), st);
    } else if (S_ISLNK(st.st_mode)) {
      std::vector<char> target(static_cast<size_t>(st.st_size) + 1);
      ssize_t len = ::readlinkat(src, c, target.data(), target.size());
      if (len < 0 || static_cast<size_t>(len) >= target.size()) return failErrno("readlink " + n);
      target[static_cast<size_t>(len)] = 0;
      if (::symlinkat(target.data(), dst, c) < 0) {
        if (errno == EEXIST) continue;
        return failErrno("symlink " + n);
      }
      (void)::fchownat(dst, c, st.st_uid, st.st_gid, AT_SYMLINK_NOFOLLOW);
      timespec ts[2] = {st.st_atim, st.st_mtim};
      (void)::utimensat(dst, c, ts, AT_SYMLINK_NOFOLLOW);
    } else if (S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode) || S_ISFIFO(st.st_mode)) {
      if (::mknodat(dst, c, st.st_mode & (S_IFMT | 0777), st.st_rdev) < 0 && errno != EEXIST)
        return failErrno("mknod " + n);
      (void)::fchownat(dst, c, st.st_uid, st.st_gid, AT_SYMLINK_NOFOLLOW);
      (void)::fchmodat(dst, c, st.st_mode & 07777, 0);
    }
    // sockets: not copied (nothing can be listening on a copy)
  }
  return {};
}

}  // namespace

Result<void> fillVolume(const std::string& rootfs, const std::string& path,
                        const std::string& volumeDir) {
  UniqueFd vol(::open(volumeDir.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  if (!vol) return failErrno("open " + volumeDir);
  BERTH_ASSIGN(auto any, fs::listDirAt(vol.get(), 1));
  if (!any.empty()) return {};  // a volume with content is the user's: left alone
  UniqueFd root(::open(rootfs.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
  if (!root) return failErrno("open " + rootfs);
  open_how how{};
  how.flags = O_RDONLY | O_DIRECTORY | O_CLOEXEC;
  how.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS;
  std::string rel = path.substr(path.find_first_not_of('/') == std::string::npos
                                    ? path.size()
                                    : path.find_first_not_of('/'));
  if (rel.empty()) rel = ".";
  UniqueFd src(static_cast<int>(::syscall(SYS_openat2, root.get(), rel.c_str(), &how, sizeof how)));
  if (!src) {
    if (errno == ENOENT || errno == ENOTDIR) return {};  // nothing there in the image
    return failErrno("open " + path + " in the image");
  }
  BERTH_TRY(copyTree(src.get(), vol.get(), 0));
  struct stat st;
  if (::fstat(src.get(), &st) == 0) applyMeta(vol.get(), st);
  return {};
}

}  // namespace berth::engine
