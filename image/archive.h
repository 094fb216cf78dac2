#pragma once
/// save/load: images to and from tar archives other engines read and write.
///   oci-archive:    an OCI image layout in a tar (oci-layout, index.json, blobs/sha256/...);
///                   index.json entries carry org.opencontainers.image.ref.name.
///   docker-archive: `docker save` form: manifest.json ([{Config, RepoTags, Layers}]),
///                   <id>.json configs, <diffid>/layer.tar (uncompressed), repositories.
/// load detects the format from the archive's entries; either may be plain, gzip or zstd.

#include <string>
#include <vector>

#include "common/error.h"
#include "image/store.h"

namespace berth::image {

enum class ArchiveFormat { kOci, kDocker };

/// Parse "oci-archive" / "oci" / "docker-archive" / "docker". kInvalidArgument otherwise.
Result<ArchiveFormat> parseArchiveFormat(const std::string& s);

/// Write `refs` (names or ids) to `outPath` ("-" = stdout), atomically for a file path.
Result<void> saveImages(Store& store, const std::vector<std::string>& refs,
                        const std::string& outPath, ArchiveFormat format);

/// Read images from `inPath` ("-" = stdin); every blob is verified; the images keep the names
/// the archive gives them. Nothing is added to the store unless the whole archive is valid.
Result<std::vector<Image>> loadImages(Store& store, const std::string& inPath);

}  // namespace berth::image
