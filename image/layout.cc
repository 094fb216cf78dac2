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

namespace {

// index.summary: the entries of index.json as tab-separated lines, so readers (`berth images`,
// resolve) skip the JSON DOM. A cache, never the truth: its header names index.json's inode,
// size and mtime, its last line the entry count; any mismatch (a crash between the two renames,
// a torn write, another tool editing index.json) and readers parse index.json instead. So it
// needs no fsync of its own.
constexpr std::string_view kSummaryMagic = "berth-index-summary-v1";

std::string statKey(const struct stat& st) {
  return std::to_string(st.st_ino) + " " + std::to_string(st.st_size) + " " +
         std::to_string(st.st_mtim.tv_sec) + "." + std::to_string(st.st_mtim.tv_nsec);
}

std::optional<std::vector<IndexEntry>> readSummary(const std::string& storeDir) {
  struct stat st;
  if (::stat((storeDir + "/index.json").c_str(), &st) < 0) return std::nullopt;
  auto text = fs::readFile(storeDir + "/index.summary");
  if (!text) return std::nullopt;
  std::string_view t = *text;
  auto nl = t.find('\n');
  if (nl == std::string_view::npos ||
      t.substr(0, nl) != std::string(kSummaryMagic) + " " + statKey(st))
    return std::nullopt;
  t.remove_prefix(nl + 1);
  std::vector<IndexEntry> out;
  while (!t.empty()) {
    nl = t.find('\n');
    if (nl == std::string_view::npos) return std::nullopt;  // torn
    std::string_view line = t.substr(0, nl);
    t.remove_prefix(nl + 1);
    if (str::startsWith(line, "end ")) {
      if (!t.empty() || str::parseI64(line.substr(4)) != static_cast<int64_t>(out.size()))
        return std::nullopt;
      return out;
    }
    std::string_view f[9];
    for (int i = 0; i < 9; ++i) {
      auto tab = line.find('\t');
      if ((tab == std::string_view::npos) != (i == 8)) return std::nullopt;
      f[i] = line.substr(0, tab);
      line.remove_prefix(tab == std::string_view::npos ? line.size() : tab + 1);
    }
    IndexEntry e;
    e.manifestDigest = f[0];
    e.manifestSize = str::parseI64(f[1]).value_or(0);
    e.mediaType = f[2];
    e.name = f[3];
    e.id = f[4];
    e.created = f[5];
    e.size = str::parseI64(f[6]).value_or(0);
    e.chain = f[7];
    e.parent = f[8];
    out.push_back(std::move(e));
  }
  return std::nullopt;  // no end line
}

void writeSummary(const std::string& storeDir, const std::vector<IndexEntry>& entries) {
  struct stat st;
  if (::stat((storeDir + "/index.json").c_str(), &st) < 0) return;
  std::string text = std::string(kSummaryMagic) + " " + statKey(st) + "\n";
  for (auto& e : entries) {
    for (const std::string* v : {&e.manifestDigest, &e.mediaType, &e.name, &e.id, &e.created,
                                 &e.chain, &e.parent})
      if (v->find_first_of("\t\n") != std::string::npos) return;  // not representable: no cache
    text += e.manifestDigest + "\t" + std::to_string(e.manifestSize) + "\t" + e.mediaType + "\t" +
            e.name + "\t" + e.id + "\t" + e.created + "\t" + std::to_string(e.size) + "\t" +
            e.chain + "\t" + e.parent + "\n";
  }
  text += "end " + std::to_string(entries.size()) + "\n";
  std::string tmp = storeDir + "/index.summary.tmp";
  if (!fs::writeFile(tmp, text)) return;
  ::rename(tmp.c_str(), (storeDir + "/index.summary").c_str());
}

}  // namespace

Result<std::vector<IndexEntry>> readIndex(const std::string& storeDir) {
  if (auto fast = readSummary(storeDir)) return std::move(*fast);
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
  BERTH_TRY(fs::writeFileAtomic(storeDir + "/index.json", oci::toJson(idx), 0644));
  writeSummary(storeDir, entries);  // writers hold the exclusive lock
  return {};
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
