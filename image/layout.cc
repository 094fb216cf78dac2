// The on-disk plumbing of the store: the lock, index.json, temp dirs, fd-relative removal.
#include <dirent.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>

#include "common/digest.h"
#include "common/fs.h"
#include "common/strings.h"
#include "image/store_internal.h"
#include "oci/image_spec.h"

namespace berth::image::detail {

Result<StoreLock> StoreLock::acquire(const std::string& storeDir, bool exclusive) {
  std::string path = storeDir + "/lock";
  UniqueFd fd(::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600));
  if (!fd) return failErrno("open " + path);
  while (::flock(fd.get(), exclusive ? LOCK_EX : LOCK_SH) < 0) {
    if (errno != EINTR) return failErrno("lock " + path);
  }
  return StoreLock(std::move(fd));
}

Result<std::vector<IndexEntry>> readIndex(const std::string& storeDir) {
  std::string path = storeDir + "/index.json";
  auto text = fs::readFile(path);
  if (!text) {
    if (text.error().is(ENOENT)) return std::vector<IndexEntry>{};
    return fail(text.error());
  }
  auto idx = oci::parseIndex(*text);
  if (!idx) return fail(idx.error().context(path));
  std::vector<IndexEntry> out;
  for (auto& d : idx->manifests) {
    IndexEntry e;
    e.manifestDigest = d.digest;
    e.manifestSize = d.size;
    e.mediaType = d.mediaType;
    auto get = [&](std::string_view k) {
      auto it = d.annotations.find(std::string(k));
      return it == d.annotations.end() ? std::string() : it->second;
    };
    e.name = get(oci::kAnnotationRefName);
    e.id = get(kAnnoImageId);
    e.created = get(oci::kAnnotationCreated);
    e.size = str::parseI64(get(kAnnoImageSize)).value_or(0);
    e.chain = get(kAnnoChain);
    e.parent = get(kAnnoParent);
    out.push_back(std::move(e));
  }
  return out;
}

Result<void> writeIndex(const std::string& storeDir, const std::vector<IndexEntry>& entries) {
  oci::Index idx;
  idx.mediaType = std::string(oci::media::kOciIndex);
  for (auto& e : entries) {
    oci::Descriptor d;
    d.mediaType = e.mediaType.empty() ? std::string(oci::media::kOciManifest) : e.mediaType;
    d.digest = e.manifestDigest;
    d.size = e.manifestSize;
    if (!e.name.empty()) d.annotations[std::string(oci::kAnnotationRefName)] = e.name;
    if (!e.id.empty()) d.annotations[kAnnoImageId] = e.id;
    if (!e.created.empty()) d.annotations[std::string(oci::kAnnotationCreated)] = e.created;
    d.annotations[kAnnoImageSize] = std::to_string(e.size);
    if (!e.chain.empty()) d.annotations[kAnnoChain] = e.chain;
    if (!e.parent.empty()) d.annotations[kAnnoParent] = e.parent;
    idx.manifests.push_back(std::move(d));
  }
  return fs::writeFileAtomic(storeDir + "/index.json", oci::toJson(idx), 0644);
}

std::string chainId(const std::vector<std::string>& diffIds, size_t n) {
  std::string chain;
  for (size_t i = 0; i < n && i < diffIds.size(); ++i)
    chain = i == 0 ? diffIds[0] : sha256Digest(chain + " " + diffIds[i]);
  return chain;
}

Result<TempDir> TempDir::create(const std::string& storeDir, std::string_view prefix) {
  BERTH_ASSIGN(std::string path, fs::makeTempDir(storeDir + "/tmp", prefix));
  TempDir t;
  t.path_ = path;
  t.lock_.reset(::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!t.lock_) return failErrno("open " + path);
  if (::flock(t.lock_.get(), LOCK_EX) < 0) return failErrno("lock " + path);
  return t;
}

TempDir::~TempDir() {
  if (!path_.empty()) (void)fs::removeAll(path_);
}

Result<void> removeAt(int dirfd, const std::string& name) {
  struct stat st;
  if (::fstatat(dirfd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) < 0) {
    if (errno == ENOENT) return {};
    return failErrno("stat " + name);
  }
  if (!S_ISDIR(st.st_mode)) {
    if (::unlinkat(dirfd, name.c_str(), 0) < 0 && errno != ENOENT) return failErrno("unlink " + name);
    return {};
  }
  int fd = ::openat(dirfd, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) return failErrno("open " + name);
  DIR* d = ::fdopendir(fd);
  if (!d) {
    ::close(fd);
    return failErrno("fdopendir " + name);
  }
  std::vector<std::string> names;
  while (auto* ent = ::readdir(d)) {
    if (std::strcmp(ent->d_name, ".") == 0 || std::strcmp(ent->d_name, "..") == 0) continue;
    names.emplace_back(ent->d_name);
  }
  for (auto& n : names) {
    auto r = removeAt(::dirfd(d), n);
    if (!r) {
      ::closedir(d);
      return fail(std::move(r).error().context(name));
    }
  }
  ::closedir(d);
  if (::unlinkat(dirfd, name.c_str(), AT_REMOVEDIR) < 0 && errno != ENOENT)
    return failErrno("rmdir " + name);
  return {};
}

}  // namespace berth::image::detail
