// The container's file system, built inside its mount namespace (see rootfs.h).
#include "runtime/rootfs.h"

#include <fcntl.h>
#include <linux/magic.h>
#include <linux/openat2.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "common/fs.h"
#include "common/strings.h"

namespace berth::runtime {
namespace {

std::string fdPath(int fd) { return "/proc/self/fd/" + std::to_string(fd); }

std::string rel(const std::string& abs) {
  size_t i = 0;
  while (i < abs.size() && abs[i] == '/') ++i;
  return abs.substr(i);
}

/// The flags a bind remount must keep (locked in a user namespace): read from the mount.
unsigned long lockedFlags(int fd) {
  struct statvfs sv;
  if (fstatvfs(fd, &sv) < 0) return 0;
  unsigned long f = 0;
  if (sv.f_flag & ST_NOSUID) f |= MS_NOSUID;
  if (sv.f_flag & ST_NODEV) f |= MS_NODEV;
  if (sv.f_flag & ST_NOEXEC) f |= MS_NOEXEC;
  if (sv.f_flag & ST_NOATIME) f |= MS_NOATIME;
  if (sv.f_flag & ST_NODIRATIME) f |= MS_NODIRATIME;
  if (sv.f_flag & ST_RELATIME) f |= MS_RELATIME;
  return f;
}

Result<void> mountAt(const std::string& src, int targetFd, const char* type, unsigned long flags,
                     const std::string& data, const std::string& what) {
  if (::mount(src.empty() ? nullptr : src.c_str(), fdPath(targetFd).c_str(), type, flags,
              data.empty() ? nullptr : data.c_str()) < 0)
    return failErrno("mount " + what);
  return {};
}

/// Open the target (creating it as a dir or an empty file) inside the root.
Result<UniqueFd> ensureTarget(int rootFd, const std::string& target, bool isFile) {
  auto fd = openInRoot(rootFd, target, O_PATH);
  if (fd) return fd;
  if (!fd.error().is(ENOENT)) return fail(fd.error());
  if (!isFile) return mkdirAllInRoot(rootFd, target);
  auto slash = target.rfind('/');
  std::string parent = target.substr(0, slash);
  std::string name = target.substr(slash + 1);
  BERTH_ASSIGN(UniqueFd dir, mkdirAllInRoot(rootFd, parent.empty() ? "/" : parent));
  UniqueFd dirReal(::openat(dir.get(), ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!dirReal) return failErrno("open " + parent);
  UniqueFd f(::openat(dirReal.get(), name.c_str(),
                      O_CREAT | O_EXCL | O_WRONLY | O_NOFOLLOW | O_CLOEXEC, 0644));
  if (!f && errno != EEXIST) return failErrno("create " + target);
  return openInRoot(rootFd, target, O_PATH);
}

Result<void> remountBind(int rootFd, const std::string& target, unsigned long flags) {
  BERTH_ASSIGN(UniqueFd fd, openInRoot(rootFd, target, O_PATH));
  unsigned long f = MS_REMOUNT | MS_BIND | flags | lockedFlags(fd.get());
  if (::mount(nullptr, fdPath(fd.get()).c_str(), nullptr, f, nullptr) < 0)
    return failErrno("remount " + target);
  return {};
}

Result<void> checkFsType(int rootFd, const std::string& target, long magic, const char* name) {
  BERTH_ASSIGN(UniqueFd fd, openInRoot(rootFd, target, O_PATH));
  struct statfs sf;
  if (fstatfs(fd.get(), &sf) < 0) return failErrno("statfs " + target);
  if (static_cast<long>(sf.f_type) != magic)
    return fail(ErrorCode::kInvalidArgument, target + ": is not a " + name + " mount");
  return {};
}

constexpr unsigned long kFlagMask = MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC |
                                    MS_SYNCHRONOUS | MS_MANDLOCK | MS_DIRSYNC | MS_NOATIME |
                                    MS_NODIRATIME | MS_RELATIME | MS_STRICTATIME | MS_LAZYTIME;

Result<void> doBind(int rootFd, const MountStep& s) {
  BERTH_ASSIGN(UniqueFd target, ensureTarget(rootFd, s.target, s.targetIsFile));
  unsigned long bindFlags = MS_BIND | (s.options.flags & MS_REC);
  BERTH_TRY(mountAt(s.source, target.get(), nullptr, bindFlags, "", s.source + " on " + s.target));
  unsigned long extra = s.options.flags & kFlagMask;
  if (extra) BERTH_TRY(remountBind(rootFd, s.target, extra));
  return {};
}

Result<void> doMount(int rootFd, const MountStep& s) {
  BERTH_ASSIGN(UniqueFd target, ensureTarget(rootFd, s.target, false));
  unsigned long flags = s.options.flags & kFlagMask;
  auto r = mountAt(s.source.empty() ? s.type : s.source, target.get(), s.type.c_str(), flags,
                   s.options.data, s.type + " on " + s.target);
  if (!r && s.type == "mqueue" && (errno == EPERM || errno == EINVAL)) {
    // No new ipc namespace of our own: fall back to binding the host's mqueue.
    return doBind(rootFd, {MountStep::Kind::kBind, "/dev/mqueue", s.target, "bind",
                           {MS_BIND | MS_REC, 0, 0, ""}, false});
  }
  BERTH_TRY(r);
  if (s.type == "proc") BERTH_TRY(checkFsType(rootFd, s.target, PROC_SUPER_MAGIC, "proc"));
  if (s.type == "sysfs") BERTH_TRY(checkFsType(rootFd, s.target, SYSFS_MAGIC, "sysfs"));
  return {};
}

Result<void> doCgroup(int rootFd, const MountStep& s, const CgroupPaths& cg) {
  bool ro = s.options.flags & MS_RDONLY;
  unsigned long base = MS_NOSUID | MS_NODEV | MS_NOEXEC;
  BERTH_ASSIGN(UniqueFd target, ensureTarget(rootFd, s.target, false));
  if (cg.mode == CgroupMode::kV2) {
    if (cg.unified.empty()) return {};
    BERTH_TRY(mountAt(cg.unified, target.get(), nullptr, MS_BIND, "", "cgroup2 on " + s.target));
    return remountBind(rootFd, s.target, base | (ro ? MS_RDONLY : 0));
  }
  BERTH_TRY(mountAt("tmpfs", target.get(), "tmpfs", base, "mode=755", "tmpfs on " + s.target));
  for (const auto& [ctrl, dir] : cg.v1) {
    std::string t = s.target + "/" + ctrl;
    BERTH_ASSIGN(UniqueFd fd, mkdirAllInRoot(rootFd, t));
    BERTH_TRY(mountAt(dir, fd.get(), nullptr, MS_BIND, "", "cgroup " + ctrl));
    BERTH_TRY(remountBind(rootFd, t, base | (ro ? MS_RDONLY : 0)));
  }
  if (!cg.unified.empty()) {
    std::string t = s.target + "/unified";
    BERTH_ASSIGN(UniqueFd fd, mkdirAllInRoot(rootFd, t));
    BERTH_TRY(mountAt(cg.unified, fd.get(), nullptr, MS_BIND, "", "cgroup2"));
    BERTH_TRY(remountBind(rootFd, t, base | (ro ? MS_RDONLY : 0)));
  }
  if (ro) BERTH_TRY(remountBind(rootFd, s.target, base | MS_RDONLY));
  return {};
}

Result<void> makeDevice(int rootFd, const DeviceNode& d, bool bindHost) {
  auto slash = d.path.rfind('/');
  std::string parent = d.path.substr(0, slash);
  std::string name = d.path.substr(slash + 1);
  BERTH_ASSIGN(UniqueFd dir, mkdirAllInRoot(rootFd, parent.empty() ? "/" : parent));
  UniqueFd dirFd(::openat(dir.get(), ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!dirFd) return failErrno("open " + parent);
  if (bindHost) {
    UniqueFd f(::openat(dirFd.get(), name.c_str(), O_CREAT | O_WRONLY | O_NOFOLLOW | O_CLOEXEC, 0));
    if (!f && errno != EEXIST) return failErrno("create " + d.path);
    BERTH_ASSIGN(UniqueFd t, openInRoot(rootFd, d.path, O_PATH));
    return mountAt(d.path, t.get(), nullptr, MS_BIND, "", "device " + d.path);
  }
  mode_t type = d.type == 'b' ? S_IFBLK : d.type == 'p' ? S_IFIFO : S_IFCHR;
  ::unlinkat(dirFd.get(), name.c_str(), 0);
  if (::mknodat(dirFd.get(), name.c_str(), type | (d.mode & 07777), makedev(d.major, d.minor)) < 0)
    return failErrno("mknod " + d.path);
  if (::fchmodat(dirFd.get(), name.c_str(), d.mode & 07777, 0) < 0)
    return failErrno("chmod " + d.path);
  if (::fchownat(dirFd.get(), name.c_str(), d.uid, d.gid, AT_SYMLINK_NOFOLLOW) < 0)
    return failErrno("chown " + d.path);
  return {};
}

Result<void> makeSymlink(int rootFd, const std::string& link, const std::string& target) {
  auto slash = link.rfind('/');
  BERTH_ASSIGN(UniqueFd dir, mkdirAllInRoot(rootFd, link.substr(0, slash)));
  UniqueFd dirFd(::openat(dir.get(), ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!dirFd) return failErrno("open dir of " + link);
  if (::symlinkat(target.c_str(), dirFd.get(), link.substr(slash + 1).c_str()) < 0 &&
      errno != EEXIST)
    return failErrno("symlink " + link);
  return {};
}

Result<void> maskPath(int rootFd, const std::string& p) {
  auto fd = openInRoot(rootFd, p, O_PATH);
  if (!fd) return fd.error().is(ENOENT) ? Result<void>{} : fail(fd.error().context("mask " + p));
  struct stat st;
  if (fstat(fd->get(), &st) < 0) return failErrno("stat " + p);
  if (S_ISDIR(st.st_mode))
    return mountAt("tmpfs", fd->get(), "tmpfs", MS_RDONLY, "size=0k", "mask " + p);
  return mountAt("/dev/null", fd->get(), nullptr, MS_BIND, "", "mask " + p);
}

Result<void> readonlyPath(int rootFd, const std::string& p) {
  auto fd = openInRoot(rootFd, p, O_PATH);
  if (!fd) return fd.error().is(ENOENT) ? Result<void>{} : fail(fd.error().context("readonly " + p));
  BERTH_TRY(mountAt(fdPath(fd->get()), fd->get(), nullptr, MS_BIND | MS_REC, "", "readonly " + p));
  return remountBind(rootFd, p, MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC);
}

}  // namespace

Result<UniqueFd> openInRoot(int rootFd, const std::string& path, int flags) {
  struct open_how how {};
  how.flags = static_cast<uint64_t>(flags | O_CLOEXEC);
  how.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS;
  std::string r = rel(path);
  if (r.empty()) r = ".";
  long fd = ::syscall(SYS_openat2, rootFd, r.c_str(), &how, sizeof how);
  if (fd < 0) return failErrno("openat2 rootfs/" + r);
  return UniqueFd(static_cast<int>(fd));
}

Result<UniqueFd> mkdirAllInRoot(int rootFd, const std::string& path, mode_t mode) {
  std::string target = fs::clean("/" + path);
  // A missing component that exists as a (dangling) symlink is followed *inside* the root
  // and the walk restarts from its target, like securejoin's MkdirAll; bounded like ELOOP.
  for (int hops = 0; hops < 40; ++hops) {
    auto parts = str::split(rel(target), '/');
    std::erase(parts, std::string());
    std::string prefix;
    UniqueFd cur(::fcntl(rootFd, F_DUPFD_CLOEXEC, 3));
    bool restarted = false;
    for (size_t i = 0; i < parts.size() && !restarted; ++i) {
      const std::string& part = parts[i];
      prefix += "/" + part;
      auto next = openInRoot(rootFd, prefix, O_PATH | O_DIRECTORY);
      if (!next) {
        if (!next.error().is(ENOENT)) return fail(next.error());
        UniqueFd dir(::openat(cur.get(), ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
        if (!dir) return failErrno("open " + prefix);
        if (::mkdirat(dir.get(), part.c_str(), mode) < 0) {
          if (errno != EEXIST) return failErrno("mkdir " + prefix);
          char buf[4096];
          ssize_t n = ::readlinkat(dir.get(), part.c_str(), buf, sizeof buf - 1);
          if (n < 0) return failErrno("resolve " + prefix, ENOENT);
          std::string link(buf, static_cast<size_t>(n));
          std::string parent = prefix.substr(0, prefix.rfind('/'));
          std::string rest;
          for (size_t k = i + 1; k < parts.size(); ++k) rest += "/" + parts[k];
          target = fs::clean((link[0] == '/' ? link : parent + "/" + link) + rest);
          restarted = true;
          continue;
        }
        next = openInRoot(rootFd, prefix, O_PATH | O_DIRECTORY);
        if (!next) return fail(next.error());
      }
      cur = std::move(*next);
    }
    if (!restarted) return cur;
  }
  return failErrno("mkdir " + path, ELOOP);
}

Result<UniqueFd> prepareRootfs(const MountPlan& plan, const CgroupPaths& cgroups) {
  if (::mount(nullptr, "/", nullptr, plan.rootPropagation, nullptr) < 0)
    return failErrno("make / " + std::to_string(plan.rootPropagation) + " propagation");
  if (::mount(plan.rootfs.c_str(), plan.rootfs.c_str(), nullptr, MS_BIND | MS_REC, nullptr) < 0)
    return failErrno("bind rootfs " + plan.rootfs);
  UniqueFd root(::open(plan.rootfs.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
  if (!root) return failErrno("open rootfs " + plan.rootfs);
  for (const auto& s : plan.steps) {
    switch (s.kind) {
      case MountStep::Kind::kBind: BERTH_TRY(doBind(root.get(), s)); break;
      case MountStep::Kind::kMount: BERTH_TRY(doMount(root.get(), s)); break;
      case MountStep::Kind::kCgroup: BERTH_TRY(doCgroup(root.get(), s, cgroups)); break;
    }
    if (s.options.propagation) {
      BERTH_ASSIGN(UniqueFd t, openInRoot(root.get(), s.target, O_PATH));
      BERTH_TRY(mountAt("", t.get(), nullptr, s.options.propagation, "", "propagation " + s.target));
    }
  }
  for (const auto& d : plan.devices) BERTH_TRY(makeDevice(root.get(), d, plan.bindDevices));
  for (const auto& [link, target] : plan.symlinks) BERTH_TRY(makeSymlink(root.get(), link, target));
  for (const auto& p : plan.maskedPaths) BERTH_TRY(maskPath(root.get(), p));
  for (const auto& p : plan.readonlyPaths) BERTH_TRY(readonlyPath(root.get(), p));
  // Re-open the root as a real directory fd for fchdir.
  UniqueFd dir(::openat(root.get(), ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!dir) return failErrno("open rootfs");
  return dir;
}

Result<void> enterRootfs(int rootFd, bool noPivot) {
  if (::fchdir(rootFd) < 0) return failErrno("chdir rootfs");
  if (noPivot) {
    if (::mount(".", "/", nullptr, MS_MOVE, nullptr) < 0) return failErrno("move rootfs to /");
    if (::chroot(".") < 0) return failErrno("chroot");
  } else {
    if (::syscall(SYS_pivot_root, ".", ".") < 0) return failErrno("pivot_root");
    // The old root is stacked on "."; detach it without propagating the unmount to the host.
    if (::mount(nullptr, ".", nullptr, MS_SLAVE | MS_REC, nullptr) < 0)
      return failErrno("make old root slave");
    if (::umount2(".", MNT_DETACH) < 0) return failErrno("unmount old root");
  }
  if (::chdir("/") < 0) return failErrno("chdir /");
  return {};
}

Result<void> finishRootfs(const MountPlan& plan) {
  if (!plan.readonlyRoot) return {};
  UniqueFd root(::open("/", O_PATH | O_DIRECTORY | O_CLOEXEC));
  if (!root) return failErrno("open /");
  unsigned long f = MS_REMOUNT | MS_BIND | MS_RDONLY | lockedFlags(root.get());
  if (::mount(nullptr, "/", nullptr, f, nullptr) < 0) return failErrno("remount / read-only");
  return {};
}

}  // namespace berth::runtime
