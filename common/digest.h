#pragma once
/// SHA-256 digests in OCI form ("sha256:<64 hex>"), incremental or one-shot. Lives in its own
/// library (berth_digest, links libcrypto) so the runtime need not link OpenSSL.

#include <memory>
#include <string>
#include <string_view>

#include "common/error.h"

namespace berth {

class Sha256 {
 public:
  Sha256();
  ~Sha256();
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;
  void update(const void* data, size_t len);
  void update(std::string_view s) { update(s.data(), s.size()); }
  /// Lowercase hex of the digest; the object can't be updated afterwards.
  std::string hexDigest();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

/// "sha256:" + hex of sha256(data).
std::string sha256Digest(std::string_view data);
/// sha256 of a whole file, "sha256:<hex>".
Result<std::string> sha256File(const std::string& path);
/// True if `d` is "sha256:" followed by exactly 64 lowercase hex chars (safe as a file name).
bool isValidDigest(std::string_view d);

}  // namespace berth
