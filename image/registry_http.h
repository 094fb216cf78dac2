#pragma once
/// HTTP to one registry repository (libcurl): scheme detection, auth (anonymous, Basic, Bearer
/// token from WWW-Authenticate), retries. Internal to the registry client; one instance per
/// thread (each owns a curl handle), sharing a TokenCache.

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "common/error.h"

namespace berth::image {

struct Credentials {
  std::string user, password;
  bool empty() const { return user.empty(); }
};

/// Read the credentials for `registry` from a Docker-style auth file; none -> empty.
Credentials loadCredentials(const std::string& authFile, const std::string& registry);
Result<void> storeCredentials(const std::string& authFile, const std::string& registry,
                              const Credentials& c);
/// kNotFound if there were none.
Result<void> eraseCredentials(const std::string& authFile, const std::string& registry);

/// What every client of one registry shares: scheme, auth challenge and tokens.
struct RegistrySession {
  std::string host;  ///< "127.0.0.1:5000"
  bool tlsVerify = true;
  Credentials creds;
  int retries = 3;
  std::mutex mu;
  std::string scheme;                         ///< "https" or "http", found on first use
  std::string challenge;                      ///< "basic" or "bearer" or "" (none)
  std::map<std::string, std::string> params;  ///< realm, service of the Bearer challenge
  std::map<std::string, std::string> tokens;  ///< scope -> token
};

struct HttpResponse {
  long status = 0;
  std::map<std::string, std::string> headers;  ///< lower-case names
  std::string body;                            ///< unless a sink took it
  std::string header(const std::string& k) const {
    auto it = headers.find(k);
    return it == headers.end() ? std::string() : it->second;
  }
};

struct HttpRequest {
  std::string method = "GET";
  std::string url;  ///< absolute, or a path beginning with "/v2/"
  std::vector<std::string> headers;
  std::string body;      ///< in-memory body (PUT/POST/PATCH)
  int uploadFd = -1;     ///< or a file region as the body
  int64_t uploadOffset = 0, uploadLength = 0;
  /// Body sink for downloads, called with the response status (200 or 206 ...): return false
  /// to abort. When set, `body` stays empty for 2xx.
  std::function<bool(long status, const char*, size_t)> sink;
  /// "repository:x/y:pull"; several scopes separated by spaces (sent as one `scope`
  /// parameter each to the token endpoint).
  std::string scope;
};

class RegistryHttp {
 public:
  explicit RegistryHttp(std::shared_ptr<RegistrySession> s);
  ~RegistryHttp();
  RegistryHttp(const RegistryHttp&) = delete;
  RegistryHttp& operator=(const RegistryHttp&) = delete;

  /// Send with auth handled (one 401 -> challenge -> retry), retried on connection errors and
  /// 5xx (not for a sink that already took bytes: the caller resumes). Non-2xx is NOT an error
  /// here; the caller checks status.
  Result<HttpResponse> send(HttpRequest req);

  /// "scheme://host" (probing https, then http when allowed).
  Result<std::string> base();

 private:
  Result<HttpResponse> once(const HttpRequest& req, const std::string& auth);
  Result<std::string> authHeader(const std::string& scope, bool refresh);
  Result<void> fetchToken(const std::string& scope);

  std::shared_ptr<RegistrySession> s_;
  void* curl_ = nullptr;
};

/// Parse `WWW-Authenticate: Bearer realm="...",service="..."` into scheme + params.
std::pair<std::string, std::map<std::string, std::string>> parseChallenge(const std::string& h);

std::string base64(const std::string& s);
std::optional<std::string> unbase64(const std::string& s);

}  // namespace berth::image
