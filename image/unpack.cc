#include "image/unpack.h"

#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <cstring>
#include <memory>
#include <vector>

#include "common/digest.h"
#include "common/fs.h"
#include "common/log.h"
#include "common/strings.h"
#include "common/unique_fd.h"
#include "image/store_internal.h"

namespace berth::image {
namespace {

constexpr size_t kBuf = 1 << 17;

struct ArchiveDeleter {
  void operator()(archive* a) const { archive_read_free(a); }
};
using ArchivePtr = std::unique_ptr<archive, ArchiveDeleter>;

/// The raw source: reads srcFd, hashes, optionally copies.
struct Source {
  Source(int f, int c) : fd(f), copyFd(c) {}
  int fd;
  int copyFd;
  Sha256 hash;
  int64_t size = 0;
  std::vector<char> buf = std::vector<char>(kBuf);
  std::string err;

  ssize_t pull(const void** out) {
    for (;;) {
      ssize_t n = ::read(fd, buf.data(), buf.size());
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) {
        err = std::string("read layer: ") + std::strerror(errno);
        return -1;
      }
      if (n > 0) {
        hash.update(buf.data(), static_cast<size_t>(n));
        size += n;
        if (copyFd >= 0) {
          size_t off = 0;
          while (off < static_cast<size_t>(n)) {
            ssize_t w = ::write(copyFd, buf.data() + off, static_cast<size_t>(n) - off);
            if (w < 0 && errno == EINTR) continue;
            if (w < 0) {
              err = std::string("write blob copy: ") + std::strerror(errno);
              return -1;
            }
            off += static_cast<size_t>(w);
          }
        }
      }
      *out = buf.data();
      return n;
    }
  }
};

la_ssize_t sourceRead(archive* a, void* ud, const void** out) {
  auto* s = static_cast<Source*>(ud);
  ssize_t n = s->pull(out);
  if (n < 0) archive_set_error(a, EIO, "%s", s->err.c_str());
  return n;
}

/// The decompressed stream: pulled from the outer (raw-format) archive, hashed (diffID).
struct Decompressed {
  explicit Decompressed(archive* o) : outer(o) {}
  archive* outer;
  Sha256 hash;
  std::vector<char> buf = std::vector<char>(kBuf);
  std::string err;
};

la_ssize_t decompressedRead(archive* a, void* ud, const void** out) {
  auto* d = static_cast<Decompressed*>(ud);
  la_ssize_t n = archive_read_data(d->outer, d->buf.data(), d->buf.size());
  if (n < 0) {
    d->err = archive_error_string(d->outer) ? archive_error_string(d->outer) : "decompress failed";
    archive_set_error(a, EIO, "%s", d->err.c_str());
    return -1;
  }
  d->hash.update(d->buf.data(), static_cast<size_t>(n));
  *out = d->buf.data();
  return n;
}

int openat2Dir(int rootFd, const std::string& rel) {
  struct open_how how;
  std::memset(&how, 0, sizeof how);
  how.flags = O_RDONLY | O_DIRECTORY | O_CLOEXEC;
  how.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS | RESOLVE_NO_XDEV;
  for (;;) {
    long fd = ::syscall(SYS_openat2, rootFd, rel.empty() ? "." : rel.c_str(), &how, sizeof how);
    if (fd < 0 && (errno == EINTR || errno == EAGAIN)) continue;
    return static_cast<int>(fd);
  }
}

bool xattrAllowed(const char* name) {
  return str::startsWith(name, "user.") || std::strcmp(name, "security.capability") == 0;
}

/// Writes entries into the target directory, fd-relative only.
class Writer {
 public:
  explicit Writer(UniqueFd root) : root_(std::move(root)) {}

  Result<void> apply(archive* a, archive_entry* e);
  Result<void> finish();

 private:
  Result<int> parentFd(const std::string& parentRel);
  void invalidate(const std::string& rel);
  Result<void> clearLeaf(int dirfd, const std::string& name, bool keepDir);
  Result<void> setMeta(int fd, archive_entry* e, bool isDir);
  Result<void> writeData(archive* a, int fd, archive_entry* e);

  UniqueFd root_;
  std::string cachedRel_;  // parent path cached in cachedFd_
  UniqueFd cachedFd_;
  struct DirTime {
    std::string rel;
    struct timespec ts[2];
  };
  std::vector<DirTime> dirTimes_;
};

Result<int> Writer::parentFd(const std::string& rel) {
  if (cachedFd_ && cachedRel_ == rel) return cachedFd_.get();
  int fd = openat2Dir(root_.get(), rel);
  if (fd < 0 && errno == ENOENT) {
    // Create missing parents one component at a time, each resolved inside the root.
    auto parts = str::split(rel, '/');
    std::string cur;
    UniqueFd curFd(openat2Dir(root_.get(), ""));
    for (auto& p : parts) {
      std::string next = cur.empty() ? p : cur + "/" + p;
      int nfd = openat2Dir(root_.get(), next);
      if (nfd < 0 && errno == ENOENT) {
        if (::mkdirat(curFd.get(), p.c_str(), 0755) < 0 && errno != EEXIST)
          return failErrno("mkdir " + next);
        nfd = openat2Dir(root_.get(), next);
      }
      if (nfd < 0) return failErrno("open " + next);
      curFd.reset(nfd);
      cur = next;
    }
    fd = curFd.release();
  }
  if (fd < 0) return failErrno("open parent " + (rel.empty() ? "." : rel));
  cachedFd_.reset(fd);
  cachedRel_ = rel;
  return fd;
}

void Writer::invalidate(const std::string& rel) {
  if (!cachedFd_) return;
  if (rel.empty() || cachedRel_ == rel || str::startsWith(cachedRel_, rel + "/")) {
    cachedFd_.reset();
    cachedRel_.clear();
  }
}

Result<void> Writer::clearLeaf(int dirfd, const std::string& name, bool keepDir) {
  struct stat st;
  if (::fstatat(dirfd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) < 0) {
    if (errno == ENOENT) return {};
    return failErrno("stat " + name);
  }
  if (keepDir && S_ISDIR(st.st_mode)) return {};
  return detail::removeAt(dirfd, name);
}

Result<void> Writer::setMeta(int fd, archive_entry* e, bool isDir) {
  if (::fchown(fd, archive_entry_uid(e), archive_entry_gid(e)) < 0 && errno != EPERM)
    return failErrno("chown");
  // After chown: chown clears setuid/setgid, the layer's mode bits win.
  if (::fchmod(fd, archive_entry_mode(e) & 07777) < 0) return failErrno("chmod");
  const char* name;
  const void* value;
  size_t size;
  archive_entry_xattr_reset(e);
  while (archive_entry_xattr_next(e, &name, &value, &size) == ARCHIVE_OK) {
    if (!xattrAllowed(name)) {
      log::debug(std::string("unpack: ignoring xattr ") + name);
      continue;
    }
    if (::fsetxattr(fd, name, value, size, 0) < 0 && errno != ENOTSUP && errno != EPERM)
      return failErrno(std::string("set xattr ") + name);
  }
  struct timespec ts[2];
  ts[0].tv_sec = archive_entry_atime_is_set(e) ? archive_entry_atime(e) : archive_entry_mtime(e);
  ts[0].tv_nsec = archive_entry_atime_is_set(e) ? archive_entry_atime_nsec(e) : archive_entry_mtime_nsec(e);
  ts[1].tv_sec = archive_entry_mtime(e);
  ts[1].tv_nsec = archive_entry_mtime_nsec(e);
  if (!isDir && ::futimens(fd, ts) < 0) return failErrno("set times");
  return {};
}

Result<void> Writer::writeData(archive* a, int fd, archive_entry* e) {
  const void* buf;
  size_t len;
  la_int64_t off;
  for (;;) {
    int r = archive_read_data_block(a, &buf, &len, &off);
    if (r == ARCHIVE_EOF) break;
    if (r < ARCHIVE_WARN) return fail(ErrorCode::kCorrupt, archive_error_string(a));
    size_t done = 0;
    while (done < len) {
      ssize_t w = ::pwrite(fd, static_cast<const char*>(buf) + done, len - done, off + done);
      if (w < 0 && errno == EINTR) continue;
      if (w < 0) return failErrno("write");
      done += static_cast<size_t>(w);
    }
  }
  if (::ftruncate(fd, archive_entry_size(e)) < 0) return failErrno("truncate");
  return {};
}

/// Clean an entry name to a relative path inside the root; nullopt if it escapes.
std::optional<std::string> cleanRel(const char* raw) {
  if (!raw) return std::nullopt;
  std::string p = fs::clean(raw);
  while (str::startsWith(p, "/")) p.erase(0, 1);
  if (p == "." ) p.clear();
  if (p == ".." || str::startsWith(p, "../")) return std::nullopt;
  return p;
}

Result<void> Writer::apply(archive* a, archive_entry* e) {
  auto relOpt = cleanRel(archive_entry_pathname(e));
  if (!relOpt) return fail(ErrorCode::kCorrupt, "path escapes the layer root");
  std::string rel = *relOpt;
  mode_t type = archive_entry_filetype(e);
  if (rel.empty()) {  // the root itself: only its metadata
    if (type != AE_IFDIR) return fail(ErrorCode::kCorrupt, "root entry is not a directory");
    BERTH_TRY(setMeta(root_.get(), e, true));
    DirTime dt{"", {{archive_entry_mtime(e), archive_entry_mtime_nsec(e)},
                    {archive_entry_mtime(e), archive_entry_mtime_nsec(e)}}};
    dirTimes_.push_back(dt);
    return {};
  }
  auto slash = rel.rfind('/');
  std::string parent = slash == std::string::npos ? "" : rel.substr(0, slash);
  std::string base = slash == std::string::npos ? rel : rel.substr(slash + 1);
  invalidate(rel);
  BERTH_ASSIGN(int pfd, parentFd(parent));

  // OCI whiteouts -> overlayfs form.
  if (str::startsWith(base, ".wh.")) {
    if (base == ".wh..wh..opq") {
      if (::fsetxattr(pfd, "trusted.overlay.opaque", "y", 1, 0) < 0)
        return failErrno("set opaque xattr on " + (parent.empty() ? "/" : parent));
      return {};
    }
    if (str::startsWith(base, ".wh..wh.")) return {};  // aufs metadata: ignore
    std::string victim = base.substr(4);
    if (victim.empty() || victim == "." || victim == "..")
      return fail(ErrorCode::kCorrupt, "bad whiteout name");
    invalidate(parent.empty() ? victim : parent + "/" + victim);
    BERTH_TRY(clearLeaf(pfd, victim, false));
    if (::mknodat(pfd, victim.c_str(), S_IFCHR | 0, makedev(0, 0)) < 0)
      return failErrno("create whiteout " + victim);
    return {};
  }

  if (const char* hl = archive_entry_hardlink(e)) {
    auto target = cleanRel(hl);
    if (!target || target->empty()) return fail(ErrorCode::kCorrupt, "hardlink target escapes");
    auto ts = target->rfind('/');
    std::string tparent = ts == std::string::npos ? "" : target->substr(0, ts);
    std::string tbase = ts == std::string::npos ? *target : target->substr(ts + 1);
    UniqueFd tfd(openat2Dir(root_.get(), tparent));
    if (!tfd) return failErrno("hardlink target " + *target);
    struct stat st;
    if (::fstatat(tfd.get(), tbase.c_str(), &st, AT_SYMLINK_NOFOLLOW) < 0)
      return failErrno("hardlink target " + *target);
    if (S_ISDIR(st.st_mode)) return fail(ErrorCode::kCorrupt, "hardlink to a directory");
    if (*target == rel) return {};
    BERTH_TRY(clearLeaf(pfd, base, false));
    if (::linkat(tfd.get(), tbase.c_str(), pfd, base.c_str(), 0) < 0)
      return failErrno("link to " + *target);
    return {};
  }

  switch (type) {
    case AE_IFDIR: {
      BERTH_TRY(clearLeaf(pfd, base, true));
      if (::mkdirat(pfd, base.c_str(), 0700) < 0 && errno != EEXIST) return failErrno("mkdir");
      UniqueFd fd(::openat(pfd, base.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
      if (!fd) return failErrno("open dir");
      BERTH_TRY(setMeta(fd.get(), e, true));
      DirTime dt{rel, {{archive_entry_mtime(e), archive_entry_mtime_nsec(e)},
                       {archive_entry_mtime(e), archive_entry_mtime_nsec(e)}}};
      dirTimes_.push_back(dt);
      return {};
    }
    case AE_IFREG: {
      BERTH_TRY(clearLeaf(pfd, base, false));
      UniqueFd fd(::openat(pfd, base.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
                           0600));
      if (!fd) return failErrno("create");
      BERTH_TRY(writeData(a, fd.get(), e));
      return setMeta(fd.get(), e, false);
    }
    case AE_IFLNK: {
      const char* target = archive_entry_symlink(e);
      if (!target) return fail(ErrorCode::kCorrupt, "symlink without target");
      BERTH_TRY(clearLeaf(pfd, base, false));
      if (::symlinkat(target, pfd, base.c_str()) < 0) return failErrno("symlink");
      if (::fchownat(pfd, base.c_str(), archive_entry_uid(e), archive_entry_gid(e),
                     AT_SYMLINK_NOFOLLOW) < 0 && errno != EPERM)
        return failErrno("chown symlink");
      struct timespec ts[2] = {{archive_entry_mtime(e), archive_entry_mtime_nsec(e)},
                               {archive_entry_mtime(e), archive_entry_mtime_nsec(e)}};
      ::utimensat(pfd, base.c_str(), ts, AT_SYMLINK_NOFOLLOW);
      return {};
    }
    case AE_IFCHR:
    case AE_IFBLK:
    case AE_IFIFO: {
      BERTH_TRY(clearLeaf(pfd, base, false));
      mode_t kind = type == AE_IFCHR ? S_IFCHR : type == AE_IFBLK ? S_IFBLK : S_IFIFO;
      if (::mknodat(pfd, base.c_str(), kind | 0600, archive_entry_rdev(e)) < 0) {
        if (errno == EPERM) {
          log::warn("unpack: cannot create device " + rel + " (not permitted); skipped");
          return {};
        }
        return failErrno("mknod");
      }
      UniqueFd fd(::openat(pfd, base.c_str(), O_PATH | O_NOFOLLOW | O_CLOEXEC));
      if (!fd) return failErrno("open node");
      if (::fchownat(fd.get(), "", archive_entry_uid(e), archive_entry_gid(e), AT_EMPTY_PATH) < 0)
        return failErrno("chown node");
      if (::fchmodat(pfd, base.c_str(), archive_entry_mode(e) & 07777, 0) < 0)
        return failErrno("chmod node");
      return {};
    }
    case AE_IFSOCK:
      return {};  // sockets have no meaning in a layer
    default:
      return fail(ErrorCode::kCorrupt, "unknown entry type");
  }
}

Result<void> Writer::finish() {
  // Directory times last: creating entries inside a directory changes its mtime.
  cachedFd_.reset();
  for (auto it = dirTimes_.rbegin(); it != dirTimes_.rend(); ++it) {
    UniqueFd fd(openat2Dir(root_.get(), it->rel));
    if (fd) ::futimens(fd.get(), it->ts);
  }
  return {};
}

}  // namespace

Result<UnpackResult> unpackLayer(int srcFd, const std::string& targetDir, int copyFd) {
  Source src{srcFd, copyFd};
  ArchivePtr outer(archive_read_new());
  archive_read_support_filter_all(outer.get());
  archive_read_support_format_raw(outer.get());
  if (archive_read_open(outer.get(), &src, nullptr, sourceRead, nullptr) != ARCHIVE_OK)
    return fail(ErrorCode::kCorrupt, std::string("open layer: ") + archive_error_string(outer.get()));
  archive_entry* rawEntry = nullptr;
  int r = archive_read_next_header(outer.get(), &rawEntry);
  if (r == ARCHIVE_EOF) return fail(ErrorCode::kCorrupt, "layer: empty stream");
  if (r < ARCHIVE_WARN)
    return fail(ErrorCode::kCorrupt, std::string("layer: ") + archive_error_string(outer.get()));

  UnpackResult res;
  int filter = archive_filter_code(outer.get(), 0);
  res.compression = filter == ARCHIVE_FILTER_GZIP ? oci::Compression::kGzip
                    : filter == ARCHIVE_FILTER_ZSTD ? oci::Compression::kZstd
                                                    : oci::Compression::kNone;
  if (filter != ARCHIVE_FILTER_NONE && filter != ARCHIVE_FILTER_GZIP &&
      filter != ARCHIVE_FILTER_ZSTD)
    return fail(ErrorCode::kUnsupported,
                std::string("layer: unsupported compression ") + archive_filter_name(outer.get(), 0));

  Decompressed dec{outer.get()};
  ArchivePtr inner(archive_read_new());
  archive_read_support_format_tar(inner.get());
  archive_read_support_format_gnutar(inner.get());
  if (archive_read_open(inner.get(), &dec, nullptr, decompressedRead, nullptr) != ARCHIVE_OK) {
    std::string msg = archive_error_string(inner.get()) ? archive_error_string(inner.get()) : "";
    if (msg.find("nrecognized") != std::string::npos) msg = "not a tar archive";
    return fail(ErrorCode::kCorrupt, "layer: " + msg);
  }

  std::unique_ptr<Writer> writer;
  if (!targetDir.empty()) {
    UniqueFd root(::open(targetDir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!root) return failErrno("open " + targetDir);
    writer = std::make_unique<Writer>(std::move(root));
  }
  for (;;) {
    archive_entry* e = nullptr;
    r = archive_read_next_header(inner.get(), &e);
    if (r == ARCHIVE_EOF) break;
    if (r < ARCHIVE_WARN) {
      std::string msg = archive_error_string(inner.get()) ? archive_error_string(inner.get()) : "";
      if (!src.err.empty()) msg = src.err;
      if (res.entries == 0 && msg.find("nrecognized") != std::string::npos)
        msg = "not a tar archive";
      return fail(ErrorCode::kCorrupt, "layer: " + msg);
    }
    ++res.entries;
    if (writer) {
      auto ok = writer->apply(inner.get(), e);
      if (!ok) {
        const char* p = archive_entry_pathname(e);
        return fail(std::move(ok).error().context(std::string("layer entry ") + (p ? p : "?")));
      }
    }
  }
  if (writer) BERTH_TRY(writer->finish());
  // Hash what follows the end-of-archive marker too: the diffID covers the whole stream.
  std::vector<char> buf(kBuf);
  for (;;) {
    la_ssize_t n = archive_read_data(outer.get(), buf.data(), buf.size());
    if (n < 0)
      return fail(ErrorCode::kCorrupt, std::string("layer: ") + archive_error_string(outer.get()));
    if (n == 0) break;
    dec.hash.update(buf.data(), static_cast<size_t>(n));
  }
  for (;;) {  // and the raw digest covers every source byte
    const void* p;
    ssize_t n = src.pull(&p);
    if (n < 0) return fail(ErrorCode::kCorrupt, src.err);
    if (n == 0) break;
  }
  res.diffId = "sha256:" + dec.hash.hexDigest();
  res.rawDigest = "sha256:" + src.hash.hexDigest();
  res.rawSize = src.size;
  return res;
}

}  // namespace berth::image
