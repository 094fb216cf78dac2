#pragma once
/// Internals shared by the store's .cc files: the lock, index.json entries, temp dirs.
/// Not part of the image layer's public API.

#include <string>
#include <vector>

#include "common/error.h"
#include "common/unique_fd.h"
#include "image/store.h"

namespace berth::image::detail {

inline constexpr const char* kAnnoImageId = "io.berth.image.id";
inline constexpr const char* kAnnoImageSize = "io.berth.image.size";
inline constexpr const char* kAnnoChain = "io.berth.image.chain";    ///< ChainID of all layers
inline constexpr const char* kAnnoParent = "io.berth.image.parent";  ///< ChainID without the top layer

/// The OCI ChainID of the first `n` diffIDs ("" for n == 0).
std::string chainId(const std::vector<std::string>& diffIds, size_t n);

/// flock(2) on <dir>/lock. Shared for readers, exclusive for writers. Released on destruction.
class StoreLock {
 public:
  static Result<StoreLock> acquire(const std::string& storeDir, bool exclusive);

 private:
  explicit StoreLock(UniqueFd fd) : fd_(std::move(fd)) {}
  UniqueFd fd_;
};

/// One manifest reference in index.json. An image appears once per name, or once with an
/// empty name when it has none.
struct IndexEntry {
  std::string manifestDigest;
  int64_t manifestSize = 0;
  std::string mediaType;
  std::string name;  ///< "busybox:latest" or empty
  std::string id;    ///< config digest
  std::string created;
  int64_t size = 0;
  std::string chain;   ///< ChainID of the image's layers (empty in stores from before it)
  std::string parent;  ///< ChainID of all layers but the top one ("" for <= 1 layer)
};

Result<std::vector<IndexEntry>> readIndex(const std::string& storeDir);
Result<void> writeIndex(const std::string& storeDir, const std::vector<IndexEntry>& entries);

/// A temp dir under <store>/tmp held with flock by this process; gc() removes only temp dirs
/// whose lock it can take (their creator is gone). Removes the dir on destruction unless
/// released.
class TempDir {
 public:
  static Result<TempDir> create(const std::string& storeDir, std::string_view prefix);
  TempDir() = default;
  TempDir(TempDir&&) noexcept = default;
  TempDir& operator=(TempDir&&) noexcept = default;
  ~TempDir();
  const std::string& path() const { return path_; }
  /// Keep the directory (e.g. it was renamed away).
  void release() { path_.clear(); }

 private:
  std::string path_;
  UniqueFd lock_;
};

/// Hex part of "sha256:<hex>".
inline std::string hexOf(const std::string& digest) {
  auto p = digest.find(':');
  return p == std::string::npos ? digest : digest.substr(p + 1);
}

/// Remove `name` inside `dirfd` recursively, never following symlinks.
Result<void> removeAt(int dirfd, const std::string& name);

/// Snapshot dir of a diffID: <store>/snapshots/<hex>.
inline std::string snapshotPath(const std::string& storeDir, const std::string& diffId) {
  return storeDir + "/snapshots/" + hexOf(diffId);
}

/// Load an image from its manifest blob; names left empty. Caller holds a lock.
Result<Image> loadImage(Store& s, const std::string& manifestDigest);

/// addManifest without taking the lock (caller holds it exclusively).
Result<Image> addManifestLocked(Store& s, const std::string& manifestDigest,
                                const std::vector<std::string>& names);

/// writeImage without taking the lock (caller holds it exclusively).
Result<Image> writeImageLocked(Store& s, const oci::ImageConfig& config,
                               const std::vector<Layer>& layers,
                               const std::vector<std::string>& names);

}  // namespace berth::image::detail
