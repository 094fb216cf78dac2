#include "image/layer_writer.h"

#include <archive_entry.h>
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <memory>
#include <map>
#include <utility>
#include <vector>

#include "common/strings.h"
#include "common/unique_fd.h"
#include "image/unpack.h"

namespace berth::image {
namespace {

struct EntryDeleter {
  void operator()(archive_entry* e) const { archive_entry_free(e); }
};
using EntryPtr = std::unique_ptr<archive_entry, EntryDeleter>;

class Walker {
 public:
  explicit Walker(archive* a) : a_(a) {}
  Result<void> walk(int dirfd, const std::string& prefix);

 private:
  Result<void> header(archive_entry* e) {
    int r = archive_write_header(a_, e);
    if (r < ARCHIVE_WARN) return fail(ErrorCode::kInternal, archive_error_string(a_));
    return {};
  }
  Result<void> emitPlain(const std::string& path, mode_t type, const struct stat* st) {
    EntryPtr e(archive_entry_new());
    archive_entry_set_pathname(e.get(), path.c_str());
    archive_entry_set_filetype(e.get(), type);
    archive_entry_set_perm(e.get(), st ? st->st_mode & 07777 : 0644);
    archive_entry_set_size(e.get(), 0);
    if (st) archive_entry_set_mtime(e.get(), st->st_mtim.tv_sec, st->st_mtim.tv_nsec);
    return header(e.get());
  }
  void addXattrs(int fd, archive_entry* e);
  archive* a_;
  std::map<std::pair<dev_t, ino_t>, std::string> links_;
};

bool isOpaque(int fd) {
  char v[2] = {0, 0};
  ssize_t n = ::fgetxattr(fd, "trusted.overlay.opaque", v, sizeof v);
  if (n == 1 && v[0] == 'y') return true;
  n = ::fgetxattr(fd, "user.overlay.opaque", v, sizeof v);
  return n == 1 && v[0] == 'y';
}

void Walker::addXattrs(int fd, archive_entry* e) {
  char names[4096];
  ssize_t n = ::flistxattr(fd, names, sizeof names);
  if (n <= 0) return;
  for (ssize_t i = 0; i < n; i += static_cast<ssize_t>(std::strlen(names + i)) + 1) {
    const char* name = names + i;
    if (!str::startsWith(name, "user.") && std::strcmp(name, "security.capability") != 0) continue;
    if (str::startsWith(name, "user.overlay.")) continue;
    char val[4096];
    ssize_t vn = ::fgetxattr(fd, name, val, sizeof val);
    if (vn >= 0) archive_entry_xattr_add_entry(e, name, val, static_cast<size_t>(vn));
  }
}

Result<void> Walker::walk(int dirfd, const std::string& prefix) {
  int dup = ::dup(dirfd);
  if (dup < 0) return failErrno("dup");
  DIR* d = ::fdopendir(dup);
  if (!d) {
    ::close(dup);
    return failErrno("opendir " + prefix);
  }
  std::vector<std::string> names;
  while (auto* ent = ::readdir(d)) {
    if (std::strcmp(ent->d_name, ".") == 0 || std::strcmp(ent->d_name, "..") == 0) continue;
    names.emplace_back(ent->d_name);
  }
  ::closedir(d);
  std::sort(names.begin(), names.end());
  for (auto& name : names) {
    std::string path = prefix + name;
    struct stat st;
    if (::fstatat(dirfd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) < 0) return failErrno("stat " + path);
    if (S_ISCHR(st.st_mode) && st.st_rdev == makedev(0, 0)) {
      BERTH_TRY(emitPlain(prefix + ".wh." + name, AE_IFREG, nullptr));
      continue;
    }
    EntryPtr e(archive_entry_new());
    archive_entry_set_pathname(e.get(), path.c_str());
    archive_entry_copy_stat(e.get(), &st);
    archive_entry_set_uname(e.get(), nullptr);
    archive_entry_set_gname(e.get(), nullptr);
    archive_entry_unset_atime(e.get());
    archive_entry_unset_ctime(e.get());
    archive_entry_unset_birthtime(e.get());
    if (S_ISDIR(st.st_mode)) {
      UniqueFd fd(::openat(dirfd, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
      if (!fd) return failErrno("open " + path);
      archive_entry_set_size(e.get(), 0);
      addXattrs(fd.get(), e.get());
      BERTH_TRY(header(e.get()));
      if (isOpaque(fd.get())) BERTH_TRY(emitPlain(path + "/.wh..wh..opq", AE_IFREG, nullptr));
      BERTH_TRY(walk(fd.get(), path + "/"));
    } else if (S_ISREG(st.st_mode)) {
      if (st.st_nlink > 1) {
        auto key = std::make_pair(st.st_dev, st.st_ino);
        auto it = links_.find(key);
        if (it != links_.end()) {
          archive_entry_set_hardlink(e.get(), it->second.c_str());
          archive_entry_set_size(e.get(), 0);
          BERTH_TRY(header(e.get()));
          continue;
        }
        links_[key] = path;
      }
      UniqueFd fd(::openat(dirfd, name.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
      if (!fd) return failErrno("open " + path);
      addXattrs(fd.get(), e.get());
      BERTH_TRY(header(e.get()));
      char buf[1 << 16];
      int64_t left = st.st_size;
      while (left > 0) {
        ssize_t n = ::read(fd.get(), buf, sizeof buf);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) return failErrno("read " + path);
        if (n == 0) return fail(ErrorCode::kInternal, path + " shrank while being read");
        if (n > left) n = static_cast<ssize_t>(left);
        if (archive_write_data(a_, buf, static_cast<size_t>(n)) < 0)
          return fail(ErrorCode::kInternal, archive_error_string(a_));
        left -= n;
      }
    } else if (S_ISLNK(st.st_mode)) {
      std::vector<char> target(static_cast<size_t>(st.st_size) + 2);
      ssize_t n = ::readlinkat(dirfd, name.c_str(), target.data(), target.size() - 1);
      if (n < 0) return failErrno("readlink " + path);
      target[static_cast<size_t>(n)] = 0;
      archive_entry_set_symlink(e.get(), target.data());
      archive_entry_set_size(e.get(), 0);
      BERTH_TRY(header(e.get()));
    } else if (S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode) || S_ISFIFO(st.st_mode)) {
      archive_entry_set_size(e.get(), 0);
      BERTH_TRY(header(e.get()));
    }
    // sockets are skipped
  }
  return {};
}

}  // namespace

Result<void> walkLayerDir(const std::string& dir, archive* a) {
  UniqueFd fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!fd) return failErrno("open " + dir);
  Walker w(a);
  if (isOpaque(fd.get())) {
    // An opaque root: every lower entry is hidden. Express it as an opaque marker at the top.
    EntryPtr e(archive_entry_new());
    archive_entry_set_pathname(e.get(), ".wh..wh..opq");
    archive_entry_set_filetype(e.get(), AE_IFREG);
    archive_entry_set_perm(e.get(), 0644);
    archive_entry_set_size(e.get(), 0);
    if (archive_write_header(a, e.get()) < ARCHIVE_WARN)
      return fail(ErrorCode::kInternal, archive_error_string(a));
  }
  return w.walk(fd.get(), "");
}

Result<void> unpackLayerInto(int srcFd, const std::string& dir) {
  BERTH_ASSIGN(auto r, unpackLayer(srcFd, dir));
  (void)r;
  return {};
}

}  // namespace berth::image
