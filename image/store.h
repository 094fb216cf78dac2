#pragma once
/// The image store: an OCI image layout under <root>/images plus unpacked layer snapshots.
///
/// On disk (see docs/design/image.md):
///   <root>/images/oci-layout, index.json    the OCI image layout; index.json lists every image
///                                            manifest once per name (annotation
///                                            org.opencontainers.image.ref.name = "name:tag")
///                                            and once without a name if it has none (dangling)
///   <root>/images/blobs/sha256/<hex>         content-addressed, verified blobs
///   <root>/images/snapshots/<diffid-hex>/    a layer unpacked once, whiteouts in overlayfs form
///   <root>/images/leases/<holder>            image ids a holder (e.g. a container) keeps alive
///   <root>/images/lock                       flock: writers exclusive, readers shared
/// Every file write is temp + fsync + rename; a crash at any point leaves a store whose
/// index.json names only complete images (stray temp files are swept by gc()).
///
/// A Store is cheap to open; each method takes the lock it needs for its own duration, so
/// concurrent `berth` processes are safe. Not thread-safe within one process.

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "common/error.h"
#include "oci/image_spec.h"

namespace berth::image {

struct Image {
  std::string id;              ///< config digest "sha256:..."
  std::string manifestDigest;  ///< manifest digest "sha256:..."
  oci::ImageConfig config;
  std::vector<oci::Descriptor> layers;  ///< manifest order, bottom first
  std::vector<std::string> names;       ///< "busybox:latest", sorted
  int64_t size = 0;                     ///< sum of compressed layer sizes + config
};

struct Layer {
  oci::Descriptor descriptor;  ///< the compressed blob as stored (media type, digest, size)
  std::string diffId;          ///< digest of the uncompressed tar
};

/// One row of `berth images`, read from index.json alone (fast for hundreds of images).
struct ImageSummary {
  std::string id;
  std::string manifestDigest;
  std::vector<std::string> names;  ///< empty for a dangling image
  std::string created;             ///< RFC 3339
  int64_t size = 0;
  /// Untagged and the parent of another image (its layers are that image's layers minus the
  /// top one): Docker's "intermediate image", listed only by `images -a`, kept by `prune`.
  bool intermediate = false;
};

/// Result of remove(): what happened to each argument, in Docker's words.
struct RemoveReport {
  std::vector<std::string> untagged;  ///< names removed
  std::vector<std::string> deleted;   ///< image ids whose manifests were dropped
};

struct GcReport {
  int blobsRemoved = 0;
  int snapshotsRemoved = 0;
  int64_t bytesFreed = 0;
};

/// Normalize a user's image reference: "busybox" -> "busybox:latest"; names keep their
/// registry part as typed ("localhost:5000/a/b:1"). "name@sha256:..." stays as is.
/// Error (kInvalidArgument) for names that do not parse (upper case, empty parts, bad tag).
Result<std::string> normalizeName(std::string_view ref);

class Store {
 public:
  /// Open (creating if needed) the store at <root>/images.
  static Result<Store> open(const std::string& root);

  const std::string& dir() const { return dir_; }  ///< <root>/images

  /// An image by "name[:tag]", "name@digest", full id ("sha256:..."), or a unique id prefix
  /// (at least 3 hex chars, with or without "sha256:"). kNotFound / kInvalidArgument (ambiguous).
  Result<Image> resolve(const std::string& nameOrId);

  /// Absolute snapshot dirs of the image's layers, bottom first; each layer is unpacked
  /// (safely, whiteouts in overlayfs form) the first time it is needed, never again.
  Result<std::vector<std::string>> snapshotDirs(const Image& img);

  /// Turn an overlay upper dir into a layer: a gzip tar with whiteouts in OCI form, added to
  /// the blobs. The dir itself becomes the layer's snapshot: it is MOVED into the store (the
  /// caller must have unmounted the overlay and must not use the dir afterwards); if it is on
  /// another file system it is copied instead and left in place.
  Result<Layer> commitLayerFromDir(const std::string& diffDir);

  /// Store `config` (rootfs.diff_ids set from `layers` when empty) and a manifest of `layers`
  /// (whose blobs must already be in the store), and give it `names` (moved from any image
  /// that had them). Returns the new image.
  Result<Image> writeImage(const oci::ImageConfig& config, const std::vector<Layer>& layers,
                           const std::vector<std::string>& names);

  /// A rootfs tarball (plain, gzip, zstd) as a one-layer image named `name`.
  Result<Image> importRootfs(const std::string& tarPath, const std::string& name);

  /// Every image, one summary each, sorted by name (dangling last). Reads index.json only
  /// (names, ids, sizes, dates and layer ChainIDs are cached there), under a shared lock.
  Result<std::vector<ImageSummary>> list();

  /// Give the image `src` (name or id) the additional name `dst`.
  Result<void> tag(const std::string& src, const std::string& dst);

  /// rmi: a name removes that name (and the image when it was its last name and no lease
  /// holds it); an id removes the image with all its names (with `force`, or if it has at most
  /// one name). An image held by a lease is never deleted: without `force` that is an error
  /// (kFailedPrecondition), with `force` it is only untagged. Blobs and snapshots are reclaimed by gc(), which remove() runs at its end.
  Result<RemoveReport> remove(const std::string& nameOrId, bool force);

  /// Drop dangling images (untagged and no other image's parent; with `all`, every image) not
  /// held by a lease, then gc().
  Result<RemoveReport> prune(bool all);

  /// Remove blobs, snapshots and temp files that no image in index.json, no lease and no
  /// build-cache entry (<root>/build-cache/*.json: "layer".digest, "diffId") reaches.
  Result<GcReport> gc();

  /// Leases keep images (and so their blobs and snapshots) from being deleted or collected.
  /// `holder` is a caller-chosen key such as "container-<id>"; setLease replaces the holder's
  /// set; releaseLease drops it (missing holder is fine).
  Result<void> setLease(const std::string& holder, const std::vector<std::string>& imageIds);
  Result<void> releaseLease(const std::string& holder);
  Result<std::map<std::string, std::vector<std::string>>> leases();

  // --- blob level (used by save/load and the registry client) ---
  std::string blobPath(const std::string& digest) const;
  bool hasBlob(const std::string& digest) const;
  /// Read a whole (small) blob: configs, manifests. kNotFound if missing.
  Result<std::string> readBlob(const std::string& digest);
  /// Add bytes as a blob; returns its digest. If `expectDigest` is non-empty and differs,
  /// kCorrupt and nothing is stored.
  Result<std::string> putBlob(std::string_view data, const std::string& expectDigest = {});
  /// Move a complete file in as blob `digest` after verifying its sha256 (kCorrupt if not).
  Result<void> adoptBlobFile(const std::string& path, const std::string& digest);
  /// A fresh temp dir inside the store (same file system as blobs); removed by gc() if left.
  Result<std::string> makeTempDir(std::string_view prefix);

  /// Record an image whose manifest (and config and layers) are already stored blobs, under
  /// `names`. Validates that every referenced blob exists. Used by load and pull.
  Result<Image> addManifest(const std::string& manifestDigest,
                            const std::vector<std::string>& names);

  /// Load an image by manifest digest (no name resolution).
  Result<Image> imageByManifest(const std::string& manifestDigest);

  /// The diffID of a layer blob, from an image config that lists it (cached in the snapshot
  /// metadata) or by hashing the decompressed blob.
  Result<std::string> diffIdOf(const oci::Descriptor& layer);

 private:
  explicit Store(std::string dir) : dir_(std::move(dir)) {}
  std::string dir_;
};

}  // namespace berth::image
