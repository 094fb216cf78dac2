#include "common/fs.h"

#include <dirent.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>

#include "common/unique_fd.h"

namespace berth::fs {

Result<void> forEachChunk(const std::string& path,
                          const std::function<void(const char*, size_t)>& fn) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) return failErrno("open " + path);
  char buf[65536];
  for (;;) {
    ssize_t n = ::read(fd.get(), buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) continue;
      return failErrno("read " + path);
    }
    if (n == 0) return {};
    fn(buf, static_cast<size_t>(n));
  }
}

Result<std::string> readFile(const std::string& path) {
  std::string out;
  BERTH_TRY(forEachChunk(path, [&out](const char* d, size_t n) { out.append(d, n); }));
  return out;
}

Result<void> syncDir(const std::string& path) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!fd) return failErrno("open dir " + path);
  if (::fsync(fd.get()) < 0) return failErrno("fsync " + path);
  return {};
}

namespace {
/// All of `data` to `fd`, retrying on EINTR; `what` names the file in the error.
Result<void> writeAll(int fd, std::string_view data, const std::string& what) {
  size_t off = 0;
  while (off < data.size()) {
    ssize_t n = ::write(fd, data.data() + off, data.size() - off);
    if (n < 0) {
      if (errno == EINTR) continue;
      return failErrno("write " + what);
    }
    off += static_cast<size_t>(n);
  }
  return {};
}
}  // namespace

Result<void> writeFile(const std::string& path, std::string_view data, mode_t mode) {
  UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode));
  if (!fd) return failErrno("create " + path);
  return writeAll(fd.get(), data, path);
}

Result<void> writeFileAtomic(const std::string& path, std::string_view data, mode_t mode,
                             bool durable) {
  auto slash = path.rfind('/');
  std::string dir = slash == std::string::npos ? "." : path.substr(0, slash == 0 ? 1 : slash);
  std::string tmp = path + ".tmp-XXXXXX";
  std::vector<char> tmpl(tmp.begin(), tmp.end());
  tmpl.push_back('\0');
  UniqueFd fd(::mkostemp(tmpl.data(), O_CLOEXEC));
  if (!fd) return failErrno("create temp file for " + path);
  std::string tmpPath(tmpl.data());
  auto cleanup = [&] { ::unlink(tmpPath.c_str()); };
  if (auto w = writeAll(fd.get(), data, tmpPath); !w) {
    cleanup();
    return w;
  }
  if (::fchmod(fd.get(), mode) < 0 || (durable && ::fsync(fd.get()) < 0)) {
    int e = errno;
    cleanup();
    return failErrno("fsync " + tmpPath, e);
  }
  fd.reset();
  if (::rename(tmpPath.c_str(), path.c_str()) < 0) {
    int e = errno;
    cleanup();
    return failErrno("rename to " + path, e);
  }
  return durable ? syncDir(dir) : Result<void>{};
}

Result<void> mkdirs(const std::string& path, mode_t mode) {
  if (path.empty()) return {};
  std::string cur;
  size_t i = 0;
  while (i <= path.size()) {
    size_t j = path.find('/', i);
    if (j == std::string::npos) j = path.size();
    cur = path.substr(0, j);
    if (!cur.empty() && ::mkdir(cur.c_str(), mode) < 0 && errno != EEXIST) {
      return failErrno("mkdir " + cur);
    }
    i = j + 1;
  }
  if (!isDir(path)) return fail(Error(ENOTDIR, "mkdir " + path + ": not a directory"));
  return {};
}

namespace {
Result<void> removeAt(int dirfd, const char* name, dev_t dev) {
  struct stat st;
  if (::fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
    if (errno == ENOENT) return {};
    return failErrno(std::string("stat ") + name);
  }
  if (S_ISDIR(st.st_mode)) {
    if (st.st_dev != dev) return fail(Error(EXDEV, std::string("refusing to cross mount at ") + name));
    UniqueFd fd(::openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (!fd) return failErrno(std::string("open ") + name);
    auto names = listDirAt(fd.get());
    if (!names) return tl::unexpected(std::move(names).error().context(name));
    for (auto& n : *names) {
      auto r = removeAt(fd.get(), n.c_str(), dev);
      if (!r) return tl::unexpected(std::move(r).error().context(name));
    }
    fd.reset();
    if (::unlinkat(dirfd, name, AT_REMOVEDIR) < 0 && errno != ENOENT) {
      return failErrno(std::string("rmdir ") + name);
    }
    return {};
  }
  if (::unlinkat(dirfd, name, 0) < 0 && errno != ENOENT) return failErrno(std::string("unlink ") + name);
  return {};
}
}  // namespace

Result<void> removeAll(const std::string& path) {
  struct stat st;
  if (::lstat(path.c_str(), &st) < 0) {
    if (errno == ENOENT) return {};
    return failErrno("stat " + path);
  }
  auto r = removeAt(AT_FDCWD, path.c_str(), st.st_dev);
  if (!r) return tl::unexpected(std::move(r).error().context("remove " + path));
  return {};
}

bool exists(const std::string& path) {
  struct stat st;
  return ::lstat(path.c_str(), &st) == 0;
}

bool isDir(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

Result<std::vector<std::string>> listDir(const std::string& path) {
  std::vector<std::string> out;
  DIR* d = ::opendir(path.c_str());
  if (!d) {
    if (errno == ENOENT) return out;
    return failErrno("opendir " + path);
  }
  while (auto* e = ::readdir(d)) {
    if (std::strcmp(e->d_name, ".") == 0 || std::strcmp(e->d_name, "..") == 0) continue;
    out.emplace_back(e->d_name);
  }
  ::closedir(d);
  return out;
}

Result<std::vector<std::string>> listDirAt(int dirfd, size_t limit) {
  std::vector<std::string> out;
  int fd = ::openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return failErrno("open directory");
  DIR* d = ::fdopendir(fd);
  if (!d) {
    ::close(fd);
    return failErrno("fdopendir");
  }
  while (out.size() < limit) {
    auto* e = ::readdir(d);
    if (!e) break;
    if (std::strcmp(e->d_name, ".") == 0 || std::strcmp(e->d_name, "..") == 0) continue;
    out.emplace_back(e->d_name);
  }
  ::closedir(d);
  return out;
}

std::string join(std::string_view a, std::string_view b) {
  if (a.empty()) return std::string(b);
  if (b.empty()) return std::string(a);
  std::string out(a);
  if (out.back() != '/') out += '/';
  while (!b.empty() && b.front() == '/') b.remove_prefix(1);
  out += b;
  return out;
}

std::string clean(std::string_view path) {
  bool abs = !path.empty() && path.front() == '/';
  std::vector<std::string_view> parts;
  size_t i = 0;
  while (i < path.size()) {
    size_t j = path.find('/', i);
    if (j == std::string_view::npos) j = path.size();
    auto p = path.substr(i, j - i);
    if (p.empty() || p == ".") {
    } else if (p == "..") {
      if (!parts.empty() && parts.back() != "..") {
        parts.pop_back();
      } else if (!abs) {
        parts.push_back(p);
      }
    } else {
      parts.push_back(p);
    }
    i = j + 1;
  }
  std::string out = abs ? "/" : "";
  for (size_t k = 0; k < parts.size(); ++k) {
    if (k) out += '/';
    out += parts[k];
  }
  if (out.empty()) out = ".";
  return out;
}

bool staysInside(std::string_view rel) {
  if (!rel.empty() && rel.front() == '/') return false;
  auto c = clean(rel);
  return !(c == ".." || c.rfind("../", 0) == 0);
}

Result<std::string> makeTempDir(const std::string& parent, std::string_view prefix) {
  std::string tmpl = join(parent, std::string(prefix) + "XXXXXX");
  std::vector<char> buf(tmpl.begin(), tmpl.end());
  buf.push_back('\0');
  if (!::mkdtemp(buf.data())) return failErrno("mkdtemp " + tmpl);
  return std::string(buf.data());
}

Result<std::string> selfExe() {
  char buf[4096];
  ssize_t n = ::readlink("/proc/self/exe", buf, sizeof buf - 1);
  if (n <= 0) return fail(Error(errno, "readlink /proc/self/exe"));
  std::string s(buf, static_cast<size_t>(n));
  constexpr std::string_view kDeleted = " (deleted)";
  if (s.ends_with(kDeleted)) s.resize(s.size() - kDeleted.size());
  return s;
}

Result<std::string> siblingExe(std::string_view name) {
  BERTH_ASSIGN(std::string self, selfExe());
  return self.substr(0, self.rfind('/') + 1) + std::string(name);
}

}  // namespace berth::fs
