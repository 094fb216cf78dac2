#include "image/registry_http.h"

#include <curl/curl.h>
#include <openssl/evp.h>
#include <unistd.h>

#include <chrono>
#include <thread>

#include <nlohmann/json.hpp>

#include "common/fs.h"
#include "common/log.h"
#include "common/strings.h"

namespace berth::image {

using nlohmann::json;

std::string base64(const std::string& s) {
  std::string out(4 * ((s.size() + 2) / 3) + 1, '\0');
  int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                          reinterpret_cast<const unsigned char*>(s.data()), static_cast<int>(s.size()));
  out.resize(static_cast<size_t>(n));
  return out;
}

std::optional<std::string> unbase64(const std::string& s) {
  if (s.size() % 4) return std::nullopt;
  std::string out(s.size() / 4 * 3 + 1, '\0');
  int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                          reinterpret_cast<const unsigned char*>(s.data()), static_cast<int>(s.size()));
  if (n < 0) return std::nullopt;
  size_t pad = 0;
  if (!s.empty() && s.back() == '=') ++pad;
  if (s.size() > 1 && s[s.size() - 2] == '=') ++pad;
  out.resize(static_cast<size_t>(n) - pad);
  return out;
}

namespace {
json readAuthFile(const std::string& path) {
  auto text = fs::readFile(path);
  if (!text) return json::object();
  auto j = json::parse(*text, nullptr, false);
  return j.is_object() ? j : json::object();
}
}  // namespace

Credentials loadCredentials(const std::string& authFile, const std::string& registry) {
  json j = readAuthFile(authFile);
  if (!j.contains("auths") || !j["auths"].is_object() || !j["auths"].contains(registry)) return {};
  auto& e = j["auths"][registry];
  if (!e.is_object() || !e.contains("auth") || !e["auth"].is_string()) return {};
  auto dec = unbase64(e["auth"].get<std::string>());
  if (!dec) return {};
  auto [u, p] = str::splitOnce(*dec, ':');
  return {u, p.value_or("")};
}

Result<void> storeCredentials(const std::string& authFile, const std::string& registry,
                              const Credentials& c) {
  json j = readAuthFile(authFile);
  if (!j.contains("auths") || !j["auths"].is_object()) j["auths"] = json::object();
  j["auths"][registry] = {{"auth", base64(c.user + ":" + c.password)}};
  auto slash = authFile.rfind('/');
  if (slash != std::string::npos && slash > 0) BERTH_TRY(fs::mkdirs(authFile.substr(0, slash), 0700));
  return fs::writeFileAtomic(authFile, j.dump(2), 0600);
}

Result<void> eraseCredentials(const std::string& authFile, const std::string& registry) {
  json j = readAuthFile(authFile);
  if (!j.contains("auths") || !j["auths"].is_object() || !j["auths"].contains(registry))
    return fail(ErrorCode::kNotFound, "not logged in to " + registry);
  j["auths"].erase(registry);
  return fs::writeFileAtomic(authFile, j.dump(2), 0600);
}

std::pair<std::string, std::map<std::string, std::string>> parseChallenge(const std::string& h) {
  auto t = std::string(str::trim(h));
  auto sp = t.find(' ');
  std::string scheme = str::toLower(t.substr(0, sp));
  std::map<std::string, std::string> params;
  if (sp == std::string::npos) return {scheme, params};
  size_t i = sp + 1;
  while (i < t.size()) {
    while (i < t.size() && (t[i] == ' ' || t[i] == ',')) ++i;
    auto eq = t.find('=', i);
    if (eq == std::string::npos) break;
    std::string key = str::toLower(str::trim(t.substr(i, eq - i)));
    i = eq + 1;
    std::string val;
    if (i < t.size() && t[i] == '"') {
      ++i;
      while (i < t.size() && t[i] != '"') {
        if (t[i] == '\\' && i + 1 < t.size()) ++i;
        val += t[i++];
      }
      ++i;
    } else {
      auto end = t.find(',', i);
      val = std::string(str::trim(t.substr(i, end == std::string::npos ? end : end - i)));
      i = end == std::string::npos ? t.size() : end;
    }
    params[key] = val;
  }
  return {scheme, params};
}

RegistryHttp::RegistryHttp(std::shared_ptr<RegistrySession> s) : s_(std::move(s)) {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
  curl_ = curl_easy_init();
}

RegistryHttp::~RegistryHttp() { curl_easy_cleanup(static_cast<CURL*>(curl_)); }

namespace {

struct Ctx {
  const HttpRequest* req;
  HttpResponse* resp;
  bool sinkFailed = false;
  int64_t sent = 0;
};

size_t onHeader(char* buf, size_t size, size_t n, void* ud) {
  auto* c = static_cast<Ctx*>(ud);
  std::string line(buf, size * n);
  if (str::startsWith(line, "HTTP/")) c->resp->headers.clear();  // a new response (redirect)
  auto colon = line.find(':');
  if (colon != std::string::npos) {
    c->resp->headers[str::toLower(str::trim(line.substr(0, colon)))] =
        std::string(str::trim(line.substr(colon + 1)));
  }
  return size * n;
}

size_t onBody(char* buf, size_t size, size_t n, void* ud) {
  auto* c = static_cast<Ctx*>(ud);
  size_t len = size * n;
  // The status line came through the header callback first, so a sink sees 2xx bodies only.
  if (c->req->sink && c->resp->status >= 200 && c->resp->status < 300) {
    if (!c->req->sink(c->resp->status, buf, len)) {
      c->sinkFailed = true;
      return 0;
    }
    return len;
  }
  if (c->resp->body.size() < (1 << 20)) c->resp->body.append(buf, len);
  return len;
}

size_t onRead(char* buf, size_t size, size_t n, void* ud) {
  auto* c = static_cast<Ctx*>(ud);
  int64_t left = c->req->uploadLength - c->sent;
  if (left <= 0) return 0;
  size_t want = std::min<size_t>(size * n, static_cast<size_t>(left));
  ssize_t r = ::pread(c->req->uploadFd, buf, want, c->req->uploadOffset + c->sent);
  if (r < 0) return CURL_READFUNC_ABORT;
  c->sent += r;
  return static_cast<size_t>(r);
}

}  // namespace

Result<HttpResponse> RegistryHttp::once(const HttpRequest& req, const std::string& auth) {
  CURL* c = static_cast<CURL*>(curl_);
  curl_easy_reset(c);
  HttpResponse resp;
  Ctx ctx{&req, &resp};
  std::string url = req.url;
  if (str::startsWith(url, "/")) {
    BERTH_ASSIGN(std::string b, base());
    url = b + url;
  }
  curl_easy_setopt(c, CURLOPT_URL, url.c_str());
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, 10L);
  curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, 1L);
  curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, 30L);
  curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, req.method == "GET" || req.method == "HEAD" ? 1L : 0L);
  curl_easy_setopt(c, CURLOPT_MAXREDIRS, 5L);
  curl_easy_setopt(c, CURLOPT_USERAGENT, "berth/0.1");
  if (req.sink) curl_easy_setopt(c, CURLOPT_BUFFERSIZE, 256L << 10);  // fewer, larger writes
  if (!s_->tlsVerify) {
    curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 0L);
    curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 0L);
  }
  curl_slist* hs = nullptr;
  for (auto& h : req.headers) hs = curl_slist_append(hs, h.c_str());
  if (!auth.empty()) hs = curl_slist_append(hs, ("Authorization: " + auth).c_str());
  hs = curl_slist_append(hs, "Expect:");
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, hs);
  curl_easy_setopt(c, CURLOPT_HEADERDATA, &ctx);
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, onBody);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &ctx);
  if (req.method == "HEAD") {
    curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
  } else if (req.method != "GET") {
    if (req.uploadFd >= 0) {
      curl_easy_setopt(c, CURLOPT_UPLOAD, 1L);
      curl_easy_setopt(c, CURLOPT_READFUNCTION, onRead);
      curl_easy_setopt(c, CURLOPT_READDATA, &ctx);
      curl_easy_setopt(c, CURLOPT_INFILESIZE_LARGE, static_cast<curl_off_t>(req.uploadLength));
    } else {
      curl_easy_setopt(c, CURLOPT_POSTFIELDS, req.body.data());
      curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(req.body.size()));
    }
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, req.method.c_str());
  }
  auto statusHook = [](char* buf, size_t size, size_t n, void* ud) -> size_t {
    auto* cx = static_cast<Ctx*>(ud);
    std::string line(buf, size * n);
    if (str::startsWith(line, "HTTP/")) {
      auto sp = line.find(' ');
      cx->resp->status = sp == std::string::npos ? 0 : std::atol(line.c_str() + sp + 1);
    }
    return onHeader(buf, size, n, ud);
  };
  curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, +statusHook);
  CURLcode rc = curl_easy_perform(c);
  curl_slist_free_all(hs);
  if (ctx.sinkFailed) return fail(ErrorCode::kCorrupt, req.method + " " + url + ": download aborted");
  if (rc != CURLE_OK)
    return fail(Error(EIO, req.method + " " + url + ": " + curl_easy_strerror(rc)));
  curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &resp.status);
  return resp;
}

Result<std::string> RegistryHttp::base() {
  std::lock_guard<std::mutex> g(s_->mu);
  if (!s_->scheme.empty()) return s_->scheme + "://" + s_->host;
  // Probe /v2/: https first; plain http only when TLS verification is off or for loopback.
  bool loopback = str::startsWith(s_->host, "localhost") || str::startsWith(s_->host, "127.") ||
                  str::startsWith(s_->host, "[::1]");
  std::vector<std::string> schemes = {"https"};
  if (!s_->tlsVerify || loopback) schemes.push_back("http");
  std::string lastErr;
  for (auto& sc : schemes) {
    CURL* c = curl_easy_init();
    std::string url = sc + "://" + s_->host + "/v2/";
    curl_easy_setopt(c, CURLOPT_URL, url.c_str());
    curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, 10L);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 20L);
    if (!s_->tlsVerify) {
      curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 0L);
      curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 0L);
    }
    CURLcode rc = curl_easy_perform(c);
    curl_easy_cleanup(c);
    if (rc == CURLE_OK) {
      s_->scheme = sc;
      return sc + "://" + s_->host;
    }
    lastErr = url + ": " + curl_easy_strerror(rc);
  }
  return fail(Error(EIO, "registry " + s_->host + " unreachable: " + lastErr));
}

Result<void> RegistryHttp::fetchToken(const std::string& scope) {
  std::string realm, service;
  {
    std::lock_guard<std::mutex> g(s_->mu);
    realm = s_->params["realm"];
    service = s_->params["service"];
  }
  if (realm.empty()) return fail(ErrorCode::kInvalidArgument, "Bearer challenge without realm");
  CURL* c = static_cast<CURL*>(curl_);
  std::string url = realm + (realm.find('?') == std::string::npos ? "?" : "&");
  char* sv = curl_easy_escape(c, service.c_str(), 0);
  url += "service=" + std::string(sv);
  curl_free(sv);
  for (auto& one : str::split(scope, ' ')) {  // one parameter per scope (distribution spec)
    if (one.empty()) continue;
    char* sc = curl_easy_escape(c, one.c_str(), 0);
    url += "&scope=" + std::string(sc);
    curl_free(sc);
  }
  HttpRequest req;
  req.url = url;
  std::string auth;
  if (!s_->creds.empty()) auth = "Basic " + base64(s_->creds.user + ":" + s_->creds.password);
  BERTH_ASSIGN(auto resp, once(req, auth));
  if (resp.status == 401 || resp.status == 403)
    return fail(ErrorCode::kFailedPrecondition,
                "registry " + s_->host + ": authentication failed (token endpoint said " +
                    std::to_string(resp.status) + ")");
  if (resp.status != 200)
    return fail(Error(EIO, "token " + realm + ": HTTP " + std::to_string(resp.status)));
  auto j = json::parse(resp.body, nullptr, false);
  std::string tok;
  if (j.is_object() && j.contains("token") && j["token"].is_string()) tok = j["token"];
  else if (j.is_object() && j.contains("access_token") && j["access_token"].is_string())
    tok = j["access_token"];
  if (tok.empty()) return fail(ErrorCode::kCorrupt, "token " + realm + ": no token in reply");
  std::lock_guard<std::mutex> g(s_->mu);
  s_->tokens[scope] = tok;
  return {};
}

Result<std::string> RegistryHttp::authHeader(const std::string& scope, bool refresh) {
  std::string challenge;
  {
    std::lock_guard<std::mutex> g(s_->mu);
    challenge = s_->challenge;
    if (challenge == "bearer" && !refresh) {
      auto it = s_->tokens.find(scope);
      if (it != s_->tokens.end()) return "Bearer " + it->second;
    }
  }
  if (challenge == "basic") {
    if (s_->creds.empty())
      return fail(ErrorCode::kFailedPrecondition, "registry " + s_->host + " needs credentials: berth login " + s_->host);
    return "Basic " + base64(s_->creds.user + ":" + s_->creds.password);
  }
  if (challenge == "bearer") {
    BERTH_TRY(fetchToken(scope));
    std::lock_guard<std::mutex> g(s_->mu);
    return "Bearer " + s_->tokens[scope];
  }
  return std::string();
}

Result<HttpResponse> RegistryHttp::send(HttpRequest req) {
  bool refreshed = false;
  int attempt = 0;
  for (;;) {
    BERTH_ASSIGN(std::string auth, authHeader(req.scope, false));
    auto r = once(req, auth);
    bool retryable = !r ? !r.error().is(ErrorCode::kCorrupt) && !req.sink
                        : (r->status >= 500 && !req.sink);
    if (r && r->status == 401 && !refreshed) {
      auto [scheme, params] = parseChallenge(r->header("www-authenticate"));
      {
        std::lock_guard<std::mutex> g(s_->mu);
        s_->challenge = scheme;
        s_->params = params;
      }
      if (scheme != "bearer" && scheme != "basic") return r;
      if (scheme == "basic" && (s_->creds.empty() || !auth.empty())) return r;
      BERTH_TRY(authHeader(req.scope, true));
      refreshed = true;
      continue;
    }
    if (retryable && attempt < s_->retries) {
      ++attempt;
      log::info("registry: retrying " + req.method + " " + req.url + " (" +
                (r ? "HTTP " + std::to_string(r->status) : r.error().message()) + ")");
      std::this_thread::sleep_for(std::chrono::milliseconds(200 * attempt));
      continue;
    }
    return r;
  }
}

}  // namespace berth::image
