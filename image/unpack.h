#pragma once
/// Safe layer unpacking: a (plain, gzip or zstd) tar stream into a snapshot directory.
///
/// Every path is resolved with openat2(RESOLVE_IN_ROOT) against the target directory, so no
/// entry can reach outside it: "../" and absolute names, symlinks and hardlinks pointing out,
/// and a directory swapped for a symlink half way through all resolve inside the target (or
/// fail). Leaves are created with *at() calls that never follow a final symlink.
/// OCI whiteouts become overlayfs whiteouts: ".wh.NAME" -> char device 0/0 NAME,
/// ".wh..wh..opq" -> xattr trusted.overlay.opaque=y on the directory. Mode bits (setuid,
/// setgid, sticky included) and ownership are applied as the tar says (the OCI layer spec);
/// device nodes and fifos are created (skipped with a warning where mknod is not allowed).
/// Only the xattrs user.* and security.capability are applied; an entry can never set
/// trusted.* (overlayfs control) or other security.* xattrs.

#include <cstdint>
#include <string>

#include "common/error.h"
#include "oci/image_spec.h"

namespace berth::image {

struct UnpackResult {
  std::string diffId;     ///< sha256 of the uncompressed tar stream
  std::string rawDigest;  ///< sha256 of the bytes read from the source (the blob digest)
  int64_t rawSize = 0;
  oci::Compression compression = oci::Compression::kNone;
  uint64_t entries = 0;
};

/// Read the whole stream from `srcFd`. If `targetDir` is non-empty (an existing, empty
/// directory), unpack into it; else only compute the digests. If `copyFd` >= 0, the raw source
/// bytes are also written there (to keep the blob while unpacking it in one pass).
/// Errors name the entry: "layer entry usr/bin/x: hardlink target etc/y: No such file".
Result<UnpackResult> unpackLayer(int srcFd, const std::string& targetDir, int copyFd = -1);

}  // namespace berth::image
