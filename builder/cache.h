#pragma once
/// The build cache: one key per step, and an index from key to the step's result under
/// `<root>/build-cache/`. A key is sha256 over
///   parent key | instruction as written | the variables it can see, resolved
///   | for COPY/ADD: checksum of the sources (content, mode, owner, never mtime)
/// The parent key of a stage's FROM is the base image id (or "scratch", or the key of the
/// earlier stage's last step), so any change above a step changes its key. See
/// docs/design/build.md.

#include <optional>
#include <string>
#include <string_view>

#include "common/error.h"

namespace berth::build {

/// The key of one step. `vars` is the already-sorted "K=V\n..." text of the variables the
/// step sees (ARG and ENV values); `sources` is empty for steps that read no files.
std::string stepKey(std::string_view parent, std::string_view instruction, std::string_view vars,
                    std::string_view sources);

/// What a cached step produced.
struct CacheEntry {
  std::string created;         ///< RFC 3339 time of the step's history entry
  std::string layerDescriptor; ///< JSON of the layer's oci::Descriptor; empty: no layer
  std::string diffId;          ///< the layer's uncompressed digest
};

class BuildCache {
 public:
  /// Open (create) the cache under `storeRoot`/build-cache.
  static Result<BuildCache> open(const std::string& storeRoot);
  /// The entry for `key`, or nullopt (also for an unreadable or corrupt entry).
  std::optional<CacheEntry> get(const std::string& key) const;
  /// Record `entry` for `key` (atomic write; last writer wins).
  Result<void> put(const std::string& key, const CacheEntry& entry) const;
  /// Remove the entry for `key` (e.g. its layer disappeared from the store).
  void drop(const std::string& key) const;
  const std::string& dir() const { return dir_; }

 private:
  explicit BuildCache(std::string dir) : dir_(std::move(dir)) {}
  std::string pathFor(const std::string& key) const;
  std::string dir_;
};

}  // namespace berth::build
