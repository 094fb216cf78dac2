#include "network/netns.h"

#include <fcntl.h>
#include <net/if.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <thread>

#include "common/fs.h"
#include "common/unique_fd.h"

namespace berth::network {
namespace {

Result<void> loopbackUp() {
  UniqueFd s(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  if (!s) return failErrno("socket");
  ifreq ifr{};
  std::snprintf(ifr.ifr_name, IFNAMSIZ, "lo");
  if (::ioctl(s.get(), SIOCGIFFLAGS, &ifr) < 0) return failErrno("get lo flags");
  ifr.ifr_flags |= IFF_UP;
  if (::ioctl(s.get(), SIOCSIFFLAGS, &ifr) < 0) return failErrno("set lo up");
  return {};
}

// Runs fn on a fresh thread: unshare/setns there only changes that thread's namespace.
Result<void> onThread(const std::function<Result<void>()>& fn) {
  Result<void> r;
  std::thread t([&] { r = fn(); });
  t.join();
  return r;
}

}  // namespace

Result<void> createNetns(const std::string& path) {
  auto slash = path.rfind('/');
  if (slash != std::string::npos && slash > 0) BERTH_TRY(fs::mkdirs(path.substr(0, slash)));
  {
    UniqueFd f(::open(path.c_str(), O_RDONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0444));
    if (!f) return failErrno("create netns file " + path);
  }
  auto r = onThread([&]() -> Result<void> {
    if (::unshare(CLONE_NEWNET) < 0) return failErrno("unshare(CLONE_NEWNET)");
    std::string self = "/proc/self/task/" + std::to_string(::syscall(SYS_gettid)) + "/ns/net";
    if (::mount(self.c_str(), path.c_str(), nullptr, MS_BIND, nullptr) < 0)
      return failErrno("bind mount netns on " + path);
    return loopbackUp();
  });
  if (!r) {
    ::umount2(path.c_str(), MNT_DETACH);
    ::unlink(path.c_str());
    return fail(std::move(r.error()).context("create netns " + path));
  }
  return {};
}

Result<void> removeNetns(const std::string& path) {
  if (::umount2(path.c_str(), MNT_DETACH) < 0 && errno != EINVAL && errno != ENOENT)
    return failErrno("unmount netns " + path);
  if (::unlink(path.c_str()) < 0 && errno != ENOENT) return failErrno("unlink " + path);
  return {};
}

Result<void> inNetns(const std::string& path, const std::function<Result<void>()>& fn) {
  UniqueFd ns(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!ns) return failErrno("open netns " + path);
  return onThread([&]() -> Result<void> {
    // A thread that shares fs info with others may still setns(CLONE_NEWNET).
    if (::setns(ns.get(), CLONE_NEWNET) < 0) return failErrno("setns " + path);
    return fn();
  });
}

}  // namespace berth::network
