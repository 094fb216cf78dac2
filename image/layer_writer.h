#pragma once
/// Layer tarballs from directories: an overlay upper dir (or any snapshot-form dir) written as
/// an OCI layer. overlayfs whiteouts (char device 0/0) become ".wh.NAME" entries and opaque
/// directories (xattr trusted.overlay.opaque=y, or user.overlay.opaque) get a ".wh..wh..opq"
/// entry. Entries are written in sorted order with numeric ownership, PAX format; hardlinks
/// within the dir stay hardlinks; xattrs user.* and security.capability are kept.

#include <archive.h>

#include <cstdint>
#include <string>

#include "common/error.h"

namespace berth::image {

struct LayerBlob {
  std::string diffId;  ///< sha256 of the tar
  std::string digest;  ///< sha256 of the gzip stream
  int64_t size = 0;    ///< gzip bytes written
};

/// Write every entry under `dir` (not `dir` itself) into the open archive `a`.
Result<void> walkLayerDir(const std::string& dir, archive* a);

/// Write `dir` as a gzip-compressed layer tar to `outFd`.
Result<LayerBlob> writeLayerFromDir(const std::string& dir, int outFd);

/// unpackLayer (unpack.h) into `dir`, ignoring the digests.
Result<void> unpackLayerInto(int srcFd, const std::string& dir);

}  // namespace berth::image
