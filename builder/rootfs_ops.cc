#include "builder/rootfs_ops.h"

#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/sendfile.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <cstring>
#include <memory>

#include "common/fs.h"
#include "common/strings.h"

namespace berth::build::rootfs {
namespace {

std::string relOf(std::string_view p) {
  std::string c = fs::clean(std::string("/") + std::string(p));
  return c == "/" ? "." : c.substr(1);
}

int openInRoot(int rootFd, std::string_view rel, int flags, mode_t mode = 0) {
  struct open_how how;
  std::memset(&how, 0, sizeof how);
  how.flags = static_cast<uint64_t>(flags | O_CLOEXEC);
  how.mode = (flags & O_CREAT) ? mode : 0;
  how.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS;
  std::string r = relOf(rel);
  for (;;) {
    long fd = ::syscall(SYS_openat2, rootFd, r.c_str(), &how, sizeof how);
    if (fd >= 0 || errno != EAGAIN) return static_cast<int>(fd);
  }
}

Result<void> setMeta(int dirFd, const std::string& name, const struct stat& st,
                     const Ownership& own, bool isLink) {
  uid_t uid = own.uid ? *own.uid : (own.keepOwner ? st.st_uid : 0);
  gid_t gid = own.gid ? *own.gid : (own.keepOwner ? st.st_gid : 0);
  if (::fchownat(dirFd, name.c_str(), uid, gid, AT_SYMLINK_NOFOLLOW) != 0)
    return failErrno("chown " + name);
  if (!isLink) {
    mode_t mode = own.mode ? *own.mode : (st.st_mode & 07777);
    if (::fchmodat(dirFd, name.c_str(), mode, 0) != 0) return failErrno("chmod " + name);
  }
  struct timespec ts[2] = {st.st_atim, st.st_mtim};
  ts[0] = st.st_mtim;
  if (::utimensat(dirFd, name.c_str(), ts, AT_SYMLINK_NOFOLLOW) != 0)
    return failErrno("set times of " + name);
  return {};
}

/// Remove a non-directory at dirFd/name so a new node can take its place.
Result<void> clearSlot(int dirFd, const std::string& name, bool wantDir) {
  struct stat st;
  if (::fstatat(dirFd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
    if (errno == ENOENT) return {};
    return failErrno("stat " + name);
  }
  if (S_ISDIR(st.st_mode)) {
    if (wantDir) return {};
    return fail(Error(EISDIR, "cannot replace directory " + name + " with a file"));
  }
  if (::unlinkat(dirFd, name.c_str(), 0) != 0) return failErrno("remove " + name);
  return {};
}

Result<void> copyData(int in, int out, const std::string& what) {
  for (;;) {
    ssize_t n = ::sendfile(out, in, nullptr, 1 << 20);
    if (n == 0) return {};
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EINVAL || errno == ENOSYS) break;
      return failErrno("copy " + what);
    }
  }
  char buf[65536];
  for (;;) {
    ssize_t n = ::read(in, buf, sizeof buf);
    if (n == 0) return {};
    if (n < 0) {
      if (errno == EINTR) continue;
      return failErrno("read " + what);
    }
    for (ssize_t off = 0; off < n;) {
      ssize_t w = ::write(out, buf + off, static_cast<size_t>(n - off));
      if (w < 0) {
        if (errno == EINTR) continue;
        return failErrno("write " + what);
      }
      off += w;
    }
  }
}

}  // namespace

std::pair<std::string, std::string> splitParent(std::string_view rel) {
  std::string r = relOf(rel);
  auto p = r.rfind('/');
  if (p == std::string::npos) return {"", r == "." ? "" : r};
  return {r.substr(0, p), r.substr(p + 1)};
}

Result<UniqueFd> openDir(int rootFd, std::string_view rel, bool create, uid_t uid, gid_t gid) {
  std::string r = relOf(rel);
  int fd = openInRoot(rootFd, r, O_RDONLY | O_DIRECTORY);
  if (fd >= 0) return UniqueFd(fd);
  if (errno != ENOENT || !create) return failErrno("open directory /" + (r == "." ? "" : r));
  // Create component by component, each resolved inside the root.
  UniqueFd cur(openInRoot(rootFd, ".", O_RDONLY | O_DIRECTORY));
  if (!cur) return failErrno("open root");
  std::string sofar;
  for (auto& part : str::split(r, '/')) {
    if (part.empty() || part == ".") continue;
    sofar = sofar.empty() ? part : sofar + "/" + part;
    int next = openInRoot(rootFd, sofar, O_RDONLY | O_DIRECTORY);
    if (next < 0 && errno == ENOENT) {
      if (::mkdirat(cur.get(), part.c_str(), 0755) != 0 && errno != EEXIST)
        return failErrno("mkdir /" + sofar);
      if (::fchownat(cur.get(), part.c_str(), uid, gid, AT_SYMLINK_NOFOLLOW) != 0)
        return failErrno("chown /" + sofar);
      next = openInRoot(rootFd, sofar, O_RDONLY | O_DIRECTORY);
    }
    if (next < 0) return failErrno("open directory /" + sofar);
    cur.reset(next);
  }
  return cur;
}

Result<std::optional<struct stat>> statIn(int rootFd, std::string_view rel) {
  UniqueFd fd(openInRoot(rootFd, rel, O_PATH));
  if (!fd) {
    if (errno == ENOENT || errno == ENOTDIR) return std::optional<struct stat>();
    return failErrno("open /" + relOf(rel));
  }
  struct stat st;
  if (::fstat(fd.get(), &st) != 0) return failErrno("stat /" + relOf(rel));
  return std::optional<struct stat>(st);
}

Result<std::string> readFile(int rootFd, std::string_view rel) {
  UniqueFd fd(openInRoot(rootFd, rel, O_RDONLY));
  if (!fd) {
    if (errno == ENOENT) return fail(ErrorCode::kNotFound, "/" + relOf(rel) + " not found");
    return failErrno("open /" + relOf(rel));
  }
  std::string out;
  char buf[65536];
  for (;;) {
    ssize_t n = ::read(fd.get(), buf, sizeof buf);
    if (n == 0) break;
    if (n < 0) {
      if (errno == EINTR) continue;
      return failErrno("read /" + relOf(rel));
    }
    out.append(buf, static_cast<size_t>(n));
    if (out.size() > (64u << 20)) return fail(ErrorCode::kInvalidArgument, "/" + relOf(rel) + " too large");
  }
  return out;
}

Result<std::pair<uid_t, gid_t>> lookupUser(int rootFd, std::string_view spec) {
  auto [user, group] = str::splitOnce(spec, ':');
  std::optional<uid_t> uid;
  std::optional<gid_t> primary;
  if (auto n = str::parseU64(user)) uid = static_cast<uid_t>(*n);
  auto passwd = readFile(rootFd, "etc/passwd");
  if (passwd) {
    for (auto& line : str::split(*passwd, '\n')) {
      auto f = str::split(line, ':');
      if (f.size() < 4) continue;
      bool hit = uid ? (str::parseU64(f[2]) && *str::parseU64(f[2]) == *uid) : f[0] == user;
      if (!hit) continue;
      auto u = str::parseU64(f[2]);
      auto g = str::parseU64(f[3]);
      if (!u || !g) continue;
      uid = static_cast<uid_t>(*u);
      primary = static_cast<gid_t>(*g);
      break;
    }
  }
  if (!uid) return fail(ErrorCode::kNotFound, "unable to find user " + user + ": no matching entries in passwd file");
  gid_t gid = primary.value_or(*uid);
  if (group) {
    if (auto n = str::parseU64(*group)) {
      gid = static_cast<gid_t>(*n);
    } else {
      bool found = false;
      auto groups = readFile(rootFd, "etc/group");
      if (groups) {
        for (auto& line : str::split(*groups, '\n')) {
          auto f = str::split(line, ':');
          if (f.size() >= 3 && f[0] == *group) {
            if (auto g = str::parseU64(f[2])) gid = static_cast<gid_t>(*g), found = true;
            break;
          }
        }
      }
      if (!found) return fail(ErrorCode::kNotFound, "unable to find group " + *group + ": no matching entries in group file");
    }
  }
  return std::make_pair(*uid, gid);
}

Result<void> copyNode(const std::string& srcPath, int dirFd, const std::string& name,
                      const Ownership& own) {
  struct stat st;
  if (::lstat(srcPath.c_str(), &st) != 0) return failErrno("lstat " + srcPath);
  if (S_ISDIR(st.st_mode)) {
    BERTH_TRY(clearSlot(dirFd, name, true));
    if (::mkdirat(dirFd, name.c_str(), 0700) != 0 && errno != EEXIST)
      return failErrno("mkdir " + name);
    return setMeta(dirFd, name, st, own, false);
  }
  BERTH_TRY(clearSlot(dirFd, name, false));
  if (S_ISREG(st.st_mode)) {
    UniqueFd in(::open(srcPath.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
    if (!in) return failErrno("open " + srcPath);
    UniqueFd out(::openat(dirFd, name.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600));
    if (!out) return failErrno("create " + name);
    BERTH_TRY(copyData(in.get(), out.get(), srcPath));
  } else if (S_ISLNK(st.st_mode)) {
    std::string target(4096, '\0');
    ssize_t n = ::readlink(srcPath.c_str(), target.data(), target.size());
    if (n < 0) return failErrno("readlink " + srcPath);
    target.resize(static_cast<size_t>(n));
    if (::symlinkat(target.c_str(), dirFd, name.c_str()) != 0) return failErrno("symlink " + name);
    return setMeta(dirFd, name, st, own, true);
  } else {
    if (::mknodat(dirFd, name.c_str(), st.st_mode & (S_IFMT | 0777), st.st_rdev) != 0)
      return failErrno("mknod " + name);
  }
  return setMeta(dirFd, name, st, own, false);
}

Result<void> writeNode(int dirFd, const std::string& name, std::string_view data, mode_t mode,
                       uid_t uid, gid_t gid) {
  BERTH_TRY(clearSlot(dirFd, name, false));
  UniqueFd out(::openat(dirFd, name.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600));
  if (!out) return failErrno("create " + name);
  for (size_t off = 0; off < data.size();) {
    ssize_t w = ::write(out.get(), data.data() + off, data.size() - off);
    if (w < 0) {
      if (errno == EINTR) continue;
      return failErrno("write " + name);
    }
    off += static_cast<size_t>(w);
  }
  if (::fchown(out.get(), uid, gid) != 0) return failErrno("chown " + name);
  if (::fchmod(out.get(), mode) != 0) return failErrno("chmod " + name);
  return {};
}

Result<bool> extractArchive(const std::string& hostPath, int rootFd, const std::string& rel,
                            const Ownership& own) {
  std::unique_ptr<archive, decltype(&archive_read_free)> a(archive_read_new(), archive_read_free);
  archive_read_support_filter_all(a.get());
  archive_read_support_format_tar(a.get());
  archive_read_support_format_gnutar(a.get());
  if (archive_read_open_filename(a.get(), hostPath.c_str(), 65536) != ARCHIVE_OK) return false;
  archive_entry* e = nullptr;
  int r = archive_read_next_header(a.get(), &e);
  if (r != ARCHIVE_OK && r != ARCHIVE_WARN) return false;  // not a tar archive: copy as is
  std::string base = relOf(rel);
  BERTH_TRY(openDir(rootFd, base, true));
  for (; r == ARCHIVE_OK || r == ARCHIVE_WARN; r = archive_read_next_header(a.get(), &e)) {
    std::string name = archive_entry_pathname(e) ? archive_entry_pathname(e) : "";
    std::string clean = fs::clean(name);
    while (!clean.empty() && clean[0] == '/') clean.erase(0, 1);
    if (clean.empty() || clean == ".") continue;
    if (!fs::staysInside(clean))
      return fail(ErrorCode::kInvalidArgument, "archive entry " + name + " leaves the destination");
    std::string dest = base == "." ? clean : base + "/" + clean;
    auto [parent, leaf] = splitParent(dest);
    BERTH_ASSIGN(UniqueFd dir, openDir(rootFd, parent, true));
    struct stat st;
    std::memset(&st, 0, sizeof st);
    st.st_mode = archive_entry_mode(e);
    st.st_uid = static_cast<uid_t>(archive_entry_uid(e));
    st.st_gid = static_cast<gid_t>(archive_entry_gid(e));
    st.st_mtim.tv_sec = archive_entry_mtime(e);
    st.st_mtim.tv_nsec = archive_entry_mtime_nsec(e);
    Ownership o = own;
    o.keepOwner = true;
    if (const char* hl = archive_entry_hardlink(e)) {
      std::string t = fs::clean(hl);
      while (!t.empty() && t[0] == '/') t.erase(0, 1);
      if (!fs::staysInside(t))
        return fail(ErrorCode::kInvalidArgument, "archive hard link " + name + " leaves the destination");
      UniqueFd src(openInRoot(rootFd, base == "." ? t : base + "/" + t, O_PATH | O_NOFOLLOW));
      if (!src) return failErrno("hard link target " + std::string(hl));
      BERTH_TRY(clearSlot(dir.get(), leaf, false));
      if (::linkat(src.get(), "", dir.get(), leaf.c_str(), AT_EMPTY_PATH) != 0)
        return failErrno("link " + name);
      continue;
    }
    mode_t type = archive_entry_filetype(e);
    if (type == AE_IFDIR) {
      BERTH_TRY(clearSlot(dir.get(), leaf, true));
      if (::mkdirat(dir.get(), leaf.c_str(), 0700) != 0 && errno != EEXIST)
        return failErrno("mkdir " + dest);
      BERTH_TRY(setMeta(dir.get(), leaf, st, o, false));
    } else if (type == AE_IFREG) {
      BERTH_TRY(clearSlot(dir.get(), leaf, false));
      UniqueFd out(::openat(dir.get(), leaf.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600));
      if (!out) return failErrno("create " + dest);
      const void* buf;
      size_t len;
      la_int64_t off;
      int rr;
      while ((rr = archive_read_data_block(a.get(), &buf, &len, &off)) == ARCHIVE_OK) {
        if (::pwrite(out.get(), buf, len, off) != static_cast<ssize_t>(len))
          return failErrno("write " + dest);
      }
      if (rr != ARCHIVE_EOF)
        return fail(ErrorCode::kCorrupt, "archive " + hostPath + ": " + archive_error_string(a.get()));
      if (::ftruncate(out.get(), archive_entry_size(e)) != 0) return failErrno("truncate " + dest);
      BERTH_TRY(setMeta(dir.get(), leaf, st, o, false));
    } else if (type == AE_IFLNK) {
      BERTH_TRY(clearSlot(dir.get(), leaf, false));
      const char* t = archive_entry_symlink(e);
      if (::symlinkat(t ? t : "", dir.get(), leaf.c_str()) != 0) return failErrno("symlink " + dest);
      BERTH_TRY(setMeta(dir.get(), leaf, st, o, true));
    } else if (type == AE_IFCHR || type == AE_IFBLK || type == AE_IFIFO) {
      BERTH_TRY(clearSlot(dir.get(), leaf, false));
      if (::mknodat(dir.get(), leaf.c_str(), type | (st.st_mode & 0777), archive_entry_rdev(e)) != 0)
        return failErrno("mknod " + dest);
      BERTH_TRY(setMeta(dir.get(), leaf, st, o, false));
    }
  }
  if (r != ARCHIVE_EOF)
    return fail(ErrorCode::kCorrupt, "archive " + hostPath + ": " + archive_error_string(a.get()));
  return true;
}

}  // namespace berth::build::rootfs
