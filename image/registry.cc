#include "image/registry.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <mutex>
#include <set>
#include <thread>

#include "common/digest.h"
#include "common/fs.h"
#include "common/log.h"
#include "common/strings.h"
#include "common/unique_fd.h"
#include "image/reference.h"
#include "image/registry_http.h"
#include "image/registry_internal.h"
#include "image/store_internal.h"

namespace berth::image {
namespace {

constexpr const char* kAccept =
    "Accept: application/vnd.oci.image.manifest.v1+json, "
    "application/vnd.oci.image.index.v1+json, "
    "application/vnd.docker.distribution.manifest.v2+json, "
    "application/vnd.docker.distribution.manifest.list.v2+json";
constexpr int64_t kChunk = 8 << 20;  // blobs above this are uploaded in PATCH chunks

}  // namespace

namespace detail {

std::string httpError(const std::string& what, const HttpResponse& r) {
  std::string msg = what + ": HTTP " + std::to_string(r.status);
  if (r.status == 401 || r.status == 403)
    msg += " (access denied: not logged in, or the credentials or token do not grant it)";
  auto b = std::string(str::trim(r.body.substr(0, 200)));
  if (!b.empty()) msg += " " + b;
  return msg;
}

Result<Reference> remoteRef(const std::string& ref) {
  BERTH_ASSIGN(Reference r, parseReference(ref));
  if (r.registry.empty())
    return fail(ErrorCode::kInvalidArgument,
                "image " + ref + ": no registry in the name (berth has no default registry): "
                "use HOST[:PORT]/REPO[:TAG]");
  return r;
}

std::shared_ptr<RegistrySession> session(const Reference& r, const RegistryOptions& o) {
  auto s = std::make_shared<RegistrySession>();
  s->host = r.registry;
  s->tlsVerify = o.tlsVerify;
  s->retries = o.retries;
  s->creds = loadCredentials(o.authFile, r.registry);
  return s;
}

void say(const RegistryOptions& o, const std::string& s) {
  if (o.progress) o.progress(s);
}

/// GET a small document by tag or digest, verifying the digest when it is known.
Result<std::pair<std::string, std::string>> getManifest(RegistryHttp& h, const Reference& r,
                                                        const std::string& tagOrDigest) {
  HttpRequest req;
  req.url = "/v2/" + r.repository + "/manifests/" + tagOrDigest;
  req.headers = {kAccept};
  req.scope = "repository:" + r.repository + ":pull";
  BERTH_ASSIGN(auto resp, h.send(req));
  if (resp.status == 404)
    return fail(ErrorCode::kNotFound, "manifest " + r.name() + ":" + tagOrDigest + " not found");
  if (resp.status != 200) return fail(Error(EIO, httpError("GET manifest " + tagOrDigest, resp)));
  std::string digest = sha256Digest(resp.body);
  if (str::startsWith(tagOrDigest, "sha256:") && digest != tagOrDigest)
    return fail(ErrorCode::kCorrupt, "manifest " + tagOrDigest + ": content digest is " + digest);
  std::string mt = resp.header("content-type");
  if (auto semi = mt.find(';'); semi != std::string::npos) mt = mt.substr(0, semi);
  if (!oci::isManifestMediaType(mt) && !oci::isIndexMediaType(mt)) {
    std::string sniff = oci::sniffMediaType(resp.body);
    if (!sniff.empty() && (oci::isManifestMediaType(sniff) || oci::isIndexMediaType(sniff))) mt = sniff;
    else return fail(ErrorCode::kUnsupported, "manifest " + tagOrDigest + ": unknown media type " + mt);
  }
  return std::make_pair(resp.body, mt);
}

/// Run `fn(i)` for i in [0, n) on up to `par` threads; the first error wins.
Result<void> parallelFor(size_t n, int par, const std::function<Result<void>(size_t)>& fn) {
  std::atomic<size_t> next{0};
  std::mutex mu;
  std::optional<Error> first;
  auto worker = [&] {
    for (;;) {
      size_t i = next++;
      if (i >= n) return;
      {
        std::lock_guard<std::mutex> g(mu);
        if (first) return;
      }
      auto r = fn(i);
      if (!r) {
        std::lock_guard<std::mutex> g(mu);
        if (!first) first = r.error();
      }
    }
  };
  std::vector<std::thread> ts;
  for (int t = 0; t < std::max(1, std::min<int>(par, static_cast<int>(n))); ++t) ts.emplace_back(worker);
  for (auto& t : ts) t.join();
  if (first) return fail(*first);
  return {};
}

}  // namespace detail

using namespace detail;

namespace {

/// Upload one blob unless the registry has it: HEAD, then cross-repo mount, then upload.
Result<void> pushBlob(Store& store, RegistryHttp& h, const Reference& dst, const oci::Descriptor& d,
                      const std::vector<std::string>& mountFrom, const RegistryOptions& opts) {
  std::string repoScope = "repository:" + dst.repository + ":pull,push";
  HttpRequest head;
  head.method = "HEAD";
  head.url = "/v2/" + dst.repository + "/blobs/" + d.digest;
  head.scope = repoScope;
  BERTH_ASSIGN(auto hr, h.send(head));
  if (hr.status == 200) {
    say(opts, "Blob " + d.digest.substr(7, 12) + ": already exists");
    return {};
  }
  std::string location;
  for (auto& from : mountFrom) {
    HttpRequest m;
    m.method = "POST";
    m.url = "/v2/" + dst.repository + "/blobs/uploads/?mount=" + d.digest + "&from=" + from;
    m.scope = repoScope + " repository:" + from + ":pull";
    BERTH_ASSIGN(auto mr, h.send(m));
    if (mr.status == 201) {
      say(opts, "Blob " + d.digest.substr(7, 12) + ": mounted from " + from);
      return {};
    }
    if (mr.status == 202) {
      location = mr.header("location");
      break;
    }
  }
  if (location.empty()) {
    HttpRequest start;
    start.method = "POST";
    start.url = "/v2/" + dst.repository + "/blobs/uploads/";
    start.scope = repoScope;
    BERTH_ASSIGN(auto sr, h.send(start));
    if (sr.status != 202) return fail(Error(EIO, httpError("start upload of " + d.digest, sr)));
    location = sr.header("location");
  }
  BERTH_ASSIGN(std::string base, h.base());
  auto absolute = [&](std::string loc) { return str::startsWith(loc, "/") ? base + loc : loc; };
  auto withDigest = [&](std::string loc) {
    return loc + (loc.find('?') == std::string::npos ? "?" : "&") + "digest=" + d.digest;
  };
  UniqueFd fd(::open(store.blobPath(d.digest).c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) return failErrno("open blob " + d.digest);
  struct stat st;
  ::fstat(fd.get(), &st);
  int64_t size = st.st_size;
  if (size > kChunk) {
    for (int64_t off = 0; off < size; off += kChunk) {
      int64_t len = std::min<int64_t>(kChunk, size - off);
      HttpRequest p;
      p.method = "PATCH";
      p.url = absolute(location);
      p.scope = repoScope;
      p.uploadFd = fd.get();
      p.uploadOffset = off;
      p.uploadLength = len;
      p.headers = {"Content-Type: application/octet-stream",
                   "Content-Range: " + std::to_string(off) + "-" + std::to_string(off + len - 1)};
      BERTH_ASSIGN(auto pr, h.send(p));
      if (pr.status != 202) return fail(Error(EIO, httpError("upload chunk of " + d.digest, pr)));
      location = pr.header("location");
    }
    HttpRequest fin;
    fin.method = "PUT";
    fin.url = withDigest(absolute(location));
    fin.scope = repoScope;
    BERTH_ASSIGN(auto fr, h.send(fin));
    if (fr.status != 201) return fail(Error(EIO, httpError("finish upload of " + d.digest, fr)));
  } else {
    HttpRequest put;
    put.method = "PUT";
    put.url = withDigest(absolute(location));
    put.scope = repoScope;
    put.uploadFd = fd.get();
    put.uploadLength = size;
    put.headers = {"Content-Type: application/octet-stream"};
    BERTH_ASSIGN(auto pr, h.send(put));
    if (pr.status != 201) return fail(Error(EIO, httpError("upload " + d.digest, pr)));
  }
  say(opts, "Blob " + d.digest.substr(7, 12) + ": pushed (" + std::to_string(size) + " bytes)");
  return {};
}

}  // namespace

Result<std::string> push(Store& store, const std::string& localRef, const std::string& destRef,
                         const RegistryOptions& opts) {
  auto ctx = [&](Error e) { return fail(e.context("push " + destRef)); };
  BERTH_ASSIGN(Image img, store.resolve(localRef));
  auto dstR = remoteRef(destRef);
  if (!dstR) return ctx(dstR.error());
  Reference dst = *dstR;
  auto sess = session(dst, opts);
  // Repositories on the same registry that hold images sharing blobs: mount candidates.
  std::vector<std::string> mountFrom;
  if (auto list = store.list()) {
    for (auto& s : *list)
      for (auto& n : s.names) {
        auto r = parseReference(n);
        if (r && r->registry == dst.registry && r->repository != dst.repository &&
            std::find(mountFrom.begin(), mountFrom.end(), r->repository) == mountFrom.end())
          mountFrom.push_back(r->repository);
      }
  }
  std::vector<oci::Descriptor> blobs = img.layers;
  BERTH_ASSIGN(std::string mtext, store.readBlob(img.manifestDigest));
  BERTH_ASSIGN(auto man, oci::parseManifest(mtext));
  blobs.push_back(man.config);
  int par = std::max(1, opts.parallel);
  std::vector<std::unique_ptr<RegistryHttp>> clients;
  for (int i = 0; i < par; ++i) clients.push_back(std::make_unique<RegistryHttp>(sess));
  std::mutex cmu;
  std::vector<RegistryHttp*> freeClients;
  for (auto& c : clients) freeClients.push_back(c.get());
  auto r = parallelFor(blobs.size(), par, [&](size_t i) -> Result<void> {
    RegistryHttp* c;
    {
      std::lock_guard<std::mutex> g(cmu);
      c = freeClients.back();
      freeClients.pop_back();
    }
    auto res = pushBlob(store, *c, dst, blobs[i], mountFrom, opts);
    std::lock_guard<std::mutex> g(cmu);
    freeClients.push_back(c);
    return res;
  });
  if (!r) return ctx(r.error());
  RegistryHttp h(sess);
  HttpRequest put;
  put.method = "PUT";
  put.url = "/v2/" + dst.repository + "/manifests/" + (dst.digest.empty() ? dst.tag : dst.digest);
  put.scope = "repository:" + dst.repository + ":pull,push";
  std::string mt = man.mediaType.empty() ? std::string(oci::media::kOciManifest) : man.mediaType;
  put.headers = {"Content-Type: " + mt};
  put.body = mtext;
  auto pr = h.send(put);
  if (!pr) return ctx(pr.error());
  if (pr->status != 201) return ctx(Error(EIO, httpError("PUT manifest", *pr)));
  std::string digest = pr->header("docker-content-digest");
  if (digest.empty()) digest = img.manifestDigest;
  if (digest != img.manifestDigest)
    return ctx(Error(ErrorCode::kCorrupt, "registry stored manifest as " + digest + ", expected " +
                                              img.manifestDigest));
  say(opts, "Pushed " + dst.str() + " " + digest);
  return digest;
}

Result<void> login(const std::string& registry, const std::string& user,
                   const std::string& password, const RegistryOptions& opts) {
  if (user.empty()) return fail(ErrorCode::kInvalidArgument, "login " + registry + ": empty username");
  auto s = std::make_shared<RegistrySession>();
  s->host = registry;
  s->tlsVerify = opts.tlsVerify;
  s->retries = opts.retries;
  s->creds = {user, password};
  RegistryHttp h(s);
  HttpRequest req;
  req.url = "/v2/";
  auto r = h.send(req);
  if (!r) return fail(r.error().context("login " + registry));
  if (r->status == 401 || r->status == 403)
    return fail(ErrorCode::kFailedPrecondition, "login " + registry + ": invalid username or password");
  if (r->status != 200) return fail(Error(EIO, httpError("login " + registry, *r)));
  return storeCredentials(opts.authFile, registry, s->creds);
}

Result<void> logout(const std::string& registry, const RegistryOptions& opts) {
  auto r = eraseCredentials(opts.authFile, registry);
  if (!r) return fail(r.error().context("logout"));
  return {};
}

}  // namespace berth::image
