#include "image/overlay.h"

#include <fcntl.h>
#include <sys/mount.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>

#include "common/fs.h"
#include "common/log.h"
#include "common/unique_fd.h"

namespace berth::image {
namespace {

// Overlay layout quirks are pinned so an upper dir is always a plain OCI-convertible diff:
// no redirects (renamed dirs are copied up whole), no metacopy, no index.
constexpr const char* kExtraOptions = "redirect_dir=off,metacopy=off,index=off";

/// The new mount API, one lower at a time ("lowerdir+", Linux 6.8): no option-length limit.
Result<void> mountNewApi(const std::vector<std::string>& lowers, const std::string& upper,
                         const std::string& work, const std::string& target) {
  UniqueFd fs(::fsopen("overlay", FSOPEN_CLOEXEC));
  if (!fs) return failErrno("fsopen overlay");
  auto set = [&](const char* key, const std::string& value) -> Result<void> {
    if (::fsconfig(fs.get(), FSCONFIG_SET_STRING, key, value.c_str(), 0) < 0)
      return failErrno(std::string("overlay option ") + key + "=" + value);
    return {};
  };
  // "lowerdir+" appends below the previous ones: give the top layer first.
  for (auto it = lowers.rbegin(); it != lowers.rend(); ++it) BERTH_TRY(set("lowerdir+", *it));
  if (!upper.empty()) {
    BERTH_TRY(set("upperdir", upper));
    BERTH_TRY(set("workdir", work));
  }
  for (const char* opt : {"redirect_dir", "metacopy", "index"})
    if (::fsconfig(fs.get(), FSCONFIG_SET_STRING, opt, "off", 0) < 0)
      return failErrno(std::string("overlay option ") + opt + "=off");
  if (::fsconfig(fs.get(), FSCONFIG_CMD_CREATE, nullptr, nullptr, 0) < 0)
    return failErrno("create overlay");
  UniqueFd mnt(::fsmount(fs.get(), FSMOUNT_CLOEXEC, 0));
  if (!mnt) return failErrno("fsmount overlay");
  if (::move_mount(mnt.get(), "", AT_FDCWD, target.c_str(), MOVE_MOUNT_F_EMPTY_PATH) < 0)
    return failErrno("move_mount overlay to " + target);
  return {};
}

std::string parentOf(const std::string& p) {
  auto s = p.rfind('/');
  return s == std::string::npos || s == 0 ? "/" : p.substr(0, s);
}

/// mount(2) with one option string. If the absolute string does not fit a page and all lowers
/// share a parent, a child process chdir()s there and passes short relative names.
Result<void> mountLegacy(const std::vector<std::string>& lowers, const std::string& upper,
                         const std::string& work, const std::string& target) {
  auto build = [&](bool relative) {
    std::string o = "lowerdir=";
    for (auto it = lowers.rbegin(); it != lowers.rend(); ++it) {
      if (it != lowers.rbegin()) o += ':';
      o += relative ? it->substr(it->rfind('/') + 1) : *it;
    }
    if (!upper.empty()) o += ",upperdir=" + upper + ",workdir=" + work;
    o += std::string(",") + kExtraOptions;
    return o;
  };
  const size_t limit = static_cast<size_t>(::sysconf(_SC_PAGESIZE)) - 1;
  std::string opts = build(false);
  if (opts.size() <= limit) {
    if (::mount("overlay", target.c_str(), "overlay", 0, opts.c_str()) < 0)
      return failErrno("mount overlay on " + target);
    return {};
  }
  std::string common = parentOf(lowers.front());
  bool shared = std::all_of(lowers.begin(), lowers.end(),
                            [&](auto& l) { return parentOf(l) == common; });
  opts = build(true);
  if (!shared || opts.size() > limit)
    return fail(ErrorCode::kUnsupported, "mount overlay on " + target + ": " +
                                             std::to_string(lowers.size()) +
                                             " layers do not fit one mount option string");
  // chdir in a child, so the caller's cwd (shared by its threads) never changes.
  pid_t pid = ::fork();
  if (pid < 0) return failErrno("fork");
  if (pid == 0) {
    if (::chdir(common.c_str()) < 0) ::_exit(errno);
    if (::mount("overlay", target.c_str(), "overlay", 0, opts.c_str()) < 0) ::_exit(errno);
    ::_exit(0);
  }
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
    return failErrno("mount overlay on " + target, WIFEXITED(status) ? WEXITSTATUS(status) : EIO);
  return {};
}

}  // namespace

Result<void> mountOverlay(const std::vector<std::string>& lowers, const std::string& upper,
                          const std::string& work, const std::string& target) {
  if (lowers.empty()) {
    if (upper.empty())
      return fail(ErrorCode::kInvalidArgument, "mount overlay on " + target + ": no layers at all");
    // An overlay of an empty lower and `upper` behaves like `upper` itself.
    if (::mount(upper.c_str(), target.c_str(), nullptr, MS_BIND, nullptr) < 0)
      return failErrno("bind " + upper + " on " + target);
    return {};
  }
  if (upper.empty() && lowers.size() == 1) {
    // overlayfs needs two lowers when read-only; a read-only bind does the same job.
    if (::mount(lowers[0].c_str(), target.c_str(), nullptr, MS_BIND, nullptr) < 0)
      return failErrno("bind " + lowers[0] + " on " + target);
    if (::mount(nullptr, target.c_str(), nullptr, MS_BIND | MS_REMOUNT | MS_RDONLY, nullptr) < 0)
      return failErrno("remount read-only " + target);
    return {};
  }
  auto r = mountNewApi(lowers, upper, work, target);
  if (r) return r;
  if (r.error().is(EINVAL) || r.error().is(ENOSYS)) {
    log::debug("overlay: new mount API failed (" + r.error().message() + "), using mount(2)");
    return mountLegacy(lowers, upper, work, target);
  }
  return r;
}

Result<void> unmount(const std::string& target) {
  if (::umount2(target.c_str(), 0) == 0) return {};
  if (errno == EBUSY && ::umount2(target.c_str(), MNT_DETACH) == 0) return {};
  return failErrno("unmount " + target);
}

}  // namespace berth::image
