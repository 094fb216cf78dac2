#pragma once
/// Helpers shared by the registry client's .cc files (registry.cc: push/login, registry_pull.cc:
/// pull). Not part of the image layer's public API.

#include <functional>
#include <memory>
#include <string>
#include <utility>

#include "common/error.h"
#include "image/reference.h"
#include "image/registry.h"
#include "image/registry_http.h"

namespace berth::image::detail {

/// "what: HTTP 404 <first 200 bytes of the body>".
std::string httpError(const std::string& what, const HttpResponse& r);

/// Parse a reference that must name a registry (berth has no default registry).
Result<Reference> remoteRef(const std::string& ref);

/// A session for `r`'s registry with the stored credentials.
std::shared_ptr<RegistrySession> session(const Reference& r, const RegistryOptions& o);

/// One progress line, if the caller wants them.
void say(const RegistryOptions& o, const std::string& s);

/// GET a manifest or index by tag or digest (digest verified). Returns (body, media type).
Result<std::pair<std::string, std::string>> getManifest(RegistryHttp& h, const Reference& r,
                                                        const std::string& tagOrDigest);

/// Run `fn(i)` for i in [0, n) on up to `par` threads; the first error wins (later items are
/// not started once an error is known).
Result<void> parallelFor(size_t n, int par, const std::function<Result<void>(size_t)>& fn);

}  // namespace berth::image::detail
