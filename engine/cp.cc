// `berth cp`: copy between the host and a container's rootfs. Every path inside the container
// is resolved with openat2(RESOLVE_IN_ROOT) against the rootfs, and every file below it is
// opened relative to its parent directory fd with O_NOFOLLOW, so a symlink planted in the
// container (absolute, or "../../..") can never make berth read or write outside the rootfs.
#include <dirent.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "common/fs.h"
#include "common/strings.h"
#include "common/unique_fd.h"
#include "engine/engine.h"
#include "image/overlay.h"

namespace berth::engine {
namespace {

Result<UniqueFd> openInRoot(int rootFd, const std::string& path, int flags) {
  open_how how{};
  how.flags = static_cast<uint64_t>(flags | O_CLOEXEC);
  how.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS;
  std::string rel = path.empty() ? "." : path;
  int fd = static_cast<int>(::syscall(SYS_openat2, rootFd, rel.c_str(), &how, sizeof how));
  if (fd < 0) return failErrno("open " + path + " in container");
  return UniqueFd(fd);
}

Result<void> copyData(int in, int out, const std::string& what) {
  char buf[65536];
  for (;;) {
    ssize_t n = ::read(in, buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) continue;
      return failErrno("read " + what);
    }
    if (n == 0) return {};
    ssize_t off = 0;
    while (off < n) {
      ssize_t w = ::write(out, buf + off, static_cast<size_t>(n - off));
      if (w < 0) {
        if (errno == EINTR) continue;
        return failErrno("write " + what);
      }
      off += w;
    }
  }
}

// Copy the object `name` in directory `srcDir` to `name2` in directory `dstDir` (both fds),
// recursively, never following symlinks on either side.
Result<void> copyAt(int srcDir, const std::string& name, int dstDir, const std::string& name2,
                    int depth) {
  if (depth > 256) return fail(ErrorCode::kInvalidArgument, "directory tree too deep");
  struct stat st;
  if (::fstatat(srcDir, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) < 0) return failErrno("stat " + name);
  if (S_ISLNK(st.st_mode)) {
    char target[4096];
    ssize_t n = ::readlinkat(srcDir, name.c_str(), target, sizeof target - 1);
    if (n < 0) return failErrno("readlink " + name);
    target[n] = 0;
    ::unlinkat(dstDir, name2.c_str(), 0);
    if (::symlinkat(target, dstDir, name2.c_str()) < 0) return failErrno("symlink " + name2);
    return {};
  }
  if (S_ISDIR(st.st_mode)) {
    if (::mkdirat(dstDir, name2.c_str(), st.st_mode & 07777) < 0 && errno != EEXIST)
      return failErrno("mkdir " + name2);
    UniqueFd s(::openat(srcDir, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (!s) return failErrno("open dir " + name);
    UniqueFd d(::openat(dstDir, name2.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (!d) return failErrno("open dir " + name2);
    DIR* dir = ::fdopendir(::dup(s.get()));
    if (!dir) return failErrno("opendir " + name);
    std::vector<std::string> names;
    while (dirent* e = ::readdir(dir)) {
      std::string n = e->d_name;
      if (n != "." && n != "..") names.push_back(n);
    }
    ::closedir(dir);
    for (auto& n : names) BERTH_TRY(copyAt(s.get(), n, d.get(), n, depth + 1));
    return {};
  }
  if (!S_ISREG(st.st_mode)) return {};  // devices, fifos, sockets: skipped like docker cp does
  UniqueFd in(::openat(srcDir, name.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
  if (!in) return failErrno("open " + name);
  UniqueFd out(::openat(dstDir, name2.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC,
                        st.st_mode & 07777));
  if (!out) return failErrno("create " + name2);
  return copyData(in.get(), out.get(), name);
}

std::string baseName(const std::string& p) {
  std::string c = fs::clean(p);
  auto s = c.rfind('/');
  return s == std::string::npos ? c : c.substr(s + 1);
}
std::string dirName(const std::string& p) {
  std::string c = fs::clean(p);
  auto s = c.rfind('/');
  if (s == std::string::npos) return ".";
  return s == 0 ? "/" : c.substr(0, s);
}

bool isContainerRef(const std::string& s) {
  auto colon = s.find(':');
  if (colon == std::string::npos || colon == 0) return false;
  return s[0] != '/' && s[0] != '.' && s.substr(0, colon).find('/') == std::string::npos;
}

}  // namespace

Result<void> Engine::copy(const std::string& src, const std::string& dst) {
  bool fromCtr = isContainerRef(src), toCtr = isContainerRef(dst);
  if (fromCtr == toCtr)
    return fail(ErrorCode::kInvalidArgument,
                "copying needs exactly one of SRC and DEST to be CONTAINER:PATH");
  const std::string& ref = fromCtr ? src : dst;
  std::string name = ref.substr(0, ref.find(':'));
  std::string cpath = ref.substr(ref.find(':') + 1);
  if (cpath.empty()) cpath = "/";
  BERTH_ASSIGN(Record r, get(name));
  std::string rootfs = paths_.rootfs(r.id);
  bool tempMount = false;
  if (!r.lifecycle().isActive()) {
    auto lowerText = fs::readFile(paths_.containerDir(r.id) + "/lowers");
    if (!lowerText) return fail(std::move(lowerText.error()).context("container " + name));
    std::vector<std::string> lowers;
    for (auto& l : str::split(*lowerText, '\n'))
      if (!l.empty()) lowers.push_back(l);
    BERTH_TRY(fs::mkdirs(paths_.upper(r.id)));
    BERTH_TRY(fs::mkdirs(paths_.work(r.id)));
    BERTH_TRY(fs::mkdirs(rootfs));
    BERTH_TRY(image::mountOverlay(lowers, paths_.upper(r.id), paths_.work(r.id), rootfs));
    tempMount = true;
  }
  auto body = [&]() -> Result<void> {
    UniqueFd root(::open(rootfs.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
    if (!root) return failErrno("open rootfs");
    if (fromCtr) {
      // Source: parent dir inside the container, then the last component relative to it.
      BERTH_ASSIGN(auto parent, openInRoot(root.get(), dirName(cpath), O_RDONLY | O_DIRECTORY));
      std::string leaf = baseName(cpath);
      if (leaf == "/" || leaf.empty()) leaf = ".";
      std::string hostDir = dst, hostName;
      if (fs::isDir(dst)) {
        hostName = leaf == "." ? baseName(cpath) : leaf;
        if (hostName == "/" || hostName == ".") hostName = "rootfs";
      } else {
        hostDir = dirName(dst);
        hostName = baseName(dst);
      }
      UniqueFd d(::open(hostDir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
      if (!d) return failErrno("open " + hostDir);
      return copyAt(parent.get(), leaf, d.get(), hostName, 0);
    }
    // To the container.
    if (!fs::exists(src)) return fail(ErrorCode::kNotFound, "no such file or directory: " + src);
    UniqueFd sdir(::open(dirName(src).c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!sdir) return failErrno("open " + dirName(src));
    std::string sname = baseName(src);
    auto target = openInRoot(root.get(), cpath, O_RDONLY | O_DIRECTORY);
    if (target) return copyAt(sdir.get(), sname, target->get(), sname, 0);
    BERTH_ASSIGN(auto parent, openInRoot(root.get(), dirName(cpath), O_RDONLY | O_DIRECTORY));
    return copyAt(sdir.get(), sname, parent.get(), baseName(cpath), 0);
  };
  auto res = body();
  if (tempMount) (void)image::unmount(rootfs);
  return res;
}

}  // namespace berth::engine
