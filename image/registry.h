#pragma once
/// Registry client (OCI distribution spec over libcurl): pull, push, login, logout.
///
/// Auth: anonymous, Basic, and the Bearer token flow from WWW-Authenticate. Credentials live
/// in an auth file (Docker's {"auths":{host:{"auth":base64(user:pass)}}}) of mode 0600.
/// Pull picks the host platform from an index / manifest list, downloads layers in parallel
/// with every byte checked against its digest, resumes partial downloads (kept under the
/// store's tmp/ by digest) and adds the image only when everything is there. Push uploads
/// missing blobs (cross-repo mount when the same registry has them under another repository
/// this client pushed, monolithic PUT for small blobs, chunked PATCH for large ones), then
/// the manifest.

#include <functional>
#include <string>

#include "common/error.h"
#include "image/store.h"

namespace berth::image {

struct RegistryOptions {
  bool tlsVerify = true;     ///< false: accept any certificate and fall back to plain http
  std::string authFile;      ///< credentials file; empty: <root>/auth.json
  int parallel = 4;          ///< concurrent blob transfers
  int retries = 3;           ///< per request, on 5xx and dropped connections
  std::function<void(const std::string&)> progress;  ///< one line per step, may be empty
};

/// Pull `ref` ([registry/]repo[:tag|@digest]; registry required) into the store under the
/// name as typed (normalized). Returns the image.
Result<Image> pull(Store& store, const std::string& ref, const RegistryOptions& opts);

/// Push local image `localRef` to `destRef` (default: the same name). Returns the manifest
/// digest the registry stored.
Result<std::string> push(Store& store, const std::string& localRef, const std::string& destRef,
                         const RegistryOptions& opts);

/// Check the credentials against <registry>/v2/ and store them.
Result<void> login(const std::string& registry, const std::string& user,
                   const std::string& password, const RegistryOptions& opts);
/// Forget stored credentials for `registry` (kNotFound if there were none).
Result<void> logout(const std::string& registry, const RegistryOptions& opts);

}  // namespace berth::image
