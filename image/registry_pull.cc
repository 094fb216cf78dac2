// Pull: manifest (index -> host platform) -> config -> layers. Each missing layer is downloaded
// once, on its own worker: the bytes go straight to the blob file and, in the same pass, through
// a socket to unpackLayer() on a second thread, so download, digest and unpack overlap and
// nothing is read back. When everything is verified: one syncfs(), then, under the store's
// exclusive lock, blobs and snapshots are renamed into place and the index names the image.
#include <fcntl.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>
#include <mutex>
#include <optional>
#include <set>
#include <thread>

#include "common/digest.h"
#include "common/fs.h"
#include "common/log.h"
#include "common/strings.h"
#include "common/unique_fd.h"
#include "image/registry.h"
#include "image/registry_internal.h"
#include "image/store_internal.h"
#include "image/unpack.h"

namespace berth::image {

using namespace detail;

namespace {

constexpr int64_t kMaxConfig = 64 << 20;

/// Feeds a layer's bytes, as they arrive, to unpackLayer() on its own thread (through a
/// socketpair, so a reader that gave up gives EPIPE, never SIGPIPE).
class StreamUnpack {
 public:
  static Result<std::unique_ptr<StreamUnpack>> start(const std::string& storeDir) {
    auto su = std::unique_ptr<StreamUnpack>(new StreamUnpack());
    BERTH_ASSIGN(su->dir_, TempDir::create(storeDir, "unpack-"));
    ::chmod(su->dir_.path().c_str(), 0755);
    int sv[2];
    if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) return failErrno("socketpair");
    su->w_.reset(sv[0]);
    int buf = 1 << 20;
    ::setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &buf, sizeof buf);
    ::setsockopt(sv[1], SOL_SOCKET, SO_RCVBUF, &buf, sizeof buf);
    StreamUnpack* self = su.get();
    su->t_ = std::thread([self, rfd = sv[1]] {
      UniqueFd r(rfd);
      self->res_ = unpackLayer(r.get(), self->dir_.path());
    });
    return su;
  }
  ~StreamUnpack() { stop(); }

  /// false once the unpacker stopped reading (it failed; finish() tells why).
  bool feed(const char* p, size_t n) {
    size_t off = 0;
    while (w_ && off < n) {
      ssize_t k = ::send(w_.get(), p + off, n - off, MSG_NOSIGNAL);
      if (k < 0 && errno == EINTR) continue;
      if (k < 0) {
        w_.reset();
        return false;
      }
      off += static_cast<size_t>(k);
    }
    return static_cast<bool>(w_);
  }
  /// The byte stream had to start over: this unpack is void.
  void abandon() {
    abandoned_ = true;
    stop();
  }
  bool abandoned() const { return abandoned_; }
  /// End of stream: wait for the unpacker and return what it found.
  Result<UnpackResult> finish() {
    stop();
    return res_ ? *res_ : fail(ErrorCode::kInternal, "unpack did not run");
  }
  TempDir takeDir() { return std::move(dir_); }

 private:
  StreamUnpack() = default;
  void stop() {
    w_.reset();
    if (t_.joinable()) t_.join();
  }
  TempDir dir_;
  UniqueFd w_;
  std::thread t_;
  std::optional<Result<UnpackResult>> res_;
  bool abandoned_ = false;
};

/// One distinct layer blob of the image and what this pull must do for it.
struct Job {
  oci::Descriptor desc;
  std::string diffId;
  bool needBlob = false, needSnap = false;
  std::string blobFile;        ///< verified download, renamed into blobs/ at commit
  UniqueFd blobLock;           ///< flock on blobFile while it is ours
  std::optional<TempDir> own;  ///< private download dir when another process holds the partial
  std::optional<TempDir> snap; ///< verified snapshot, renamed into snapshots/ at commit
};

/// Unpack a complete local blob file into a fresh temp dir; checks the diffID.
Result<TempDir> unpackFile(Store& store, const std::string& path, const Job& j) {
  UniqueFd src(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!src) return failErrno("open layer blob " + j.desc.digest);
  BERTH_ASSIGN(TempDir tmp, TempDir::create(store.dir(), "unpack-"));
  ::chmod(tmp.path().c_str(), 0755);
  auto res = unpackLayer(src.get(), tmp.path());
  if (!res) return fail(res.error().context("unpack layer " + j.desc.digest));
  if (res->diffId != j.diffId)
    return fail(ErrorCode::kCorrupt, "unpack layer " + j.desc.digest + ": diff_id " + res->diffId +
                                         " does not match config " + j.diffId);
  return tmp;
}

/// The file to download `j` into: <store>/downloads/<hex>.partial (kept for resume), or a
/// private one when another process is downloading the same blob right now.
Result<UniqueFd> openDownload(Store& store, Job& j) {
  std::string dir = store.dir() + "/downloads";
  BERTH_TRY(fs::mkdirs(dir, 0700));
  j.blobFile = dir + "/" + hexOf(j.desc.digest) + ".partial";
  UniqueFd fd(::open(j.blobFile.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644));
  if (!fd) return failErrno("open " + j.blobFile);
  if (::flock(fd.get(), LOCK_EX | LOCK_NB) == 0) {
    // A concurrent commit may have renamed the partial away before we locked it.
    struct stat a, b;
    if (::fstat(fd.get(), &a) == 0 && ::stat(j.blobFile.c_str(), &b) == 0 && a.st_ino == b.st_ino) {
      j.blobLock.reset(::dup(fd.get()));
      return fd;
    }
  }
  BERTH_ASSIGN(j.own, TempDir::create(store.dir(), "pull-"));
  j.blobFile = j.own->path() + "/blob";
  fd.reset(::open(j.blobFile.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0644));
  if (!fd) return failErrno("create " + j.blobFile);
  return fd;
}

/// Download blob `j.desc` into its file, resuming what an earlier pull left, feeding `su` (if
/// any) with the whole stream in order; every byte hashed once, as it arrives.
Result<void> download(Store& store, RegistryHttp& h, const Reference& r, Job& j, int retries,
                      StreamUnpack* su) {
  const auto& d = j.desc;
  BERTH_ASSIGN(UniqueFd fd, openDownload(store, j));
  auto hash = std::make_unique<Sha256>();
  struct stat st;
  if (::fstat(fd.get(), &st) < 0) return failErrno("stat " + j.blobFile);
  int64_t have = st.st_size;
  bool resumed = have > 0;
  if (d.size > 0 && have > d.size) {
    if (::ftruncate(fd.get(), 0) < 0) return failErrno("truncate " + j.blobFile);
    have = 0;
    resumed = false;
  }
  if (have > 0) {  // what an earlier pull left: hash it and replay it to the unpacker
    std::vector<char> buf(1 << 17);
    int64_t off = 0;
    while (off < have) {
      ssize_t n = ::pread(fd.get(), buf.data(), buf.size(), off);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return failErrno("read " + j.blobFile);
      hash->update(buf.data(), static_cast<size_t>(n));
      if (su) su->feed(buf.data(), static_cast<size_t>(n));
      off += n;
    }
  }
  auto restart = [&]() -> Result<void> {  // from byte 0: the unpack so far is void
    if (::ftruncate(fd.get(), 0) < 0) return failErrno("truncate " + j.blobFile);
    have = 0;
    hash = std::make_unique<Sha256>();
    if (su) su->abandon();
    su = nullptr;
    return {};
  };
  for (int attempt = 0;; ++attempt) {
    if (d.size <= 0 || have < d.size) {
      HttpRequest req;
      req.url = "/v2/" + r.repository + "/blobs/" + d.digest;
      req.scope = "repository:" + r.repository + ":pull";
      if (have > 0) req.headers.push_back("Range: bytes=" + std::to_string(have) + "-");
      int64_t skip = have;  // a server that ignores Range sends these bytes again
      int64_t got = 0;
      std::string werr;
      req.sink = [&](long status, const char* p, size_t n) {
        if (status == 200 && skip > 0) {
          size_t s = static_cast<size_t>(std::min<int64_t>(skip, static_cast<int64_t>(n)));
          skip -= static_cast<int64_t>(s);
          p += s;
          n -= s;
          if (n == 0) return true;
        }
        if (d.size > 0 && have + got + static_cast<int64_t>(n) > d.size) {
          werr = "more bytes than the manifest's size " + std::to_string(d.size);
          return false;
        }
        size_t off = 0;
        while (off < n) {
          ssize_t w = ::pwrite(fd.get(), p + off, n - off, have + got + static_cast<int64_t>(off));
          if (w < 0 && errno == EINTR) continue;
          if (w < 0) {
            werr = std::string("write ") + j.blobFile + ": " + std::strerror(errno);
            return false;
          }
          off += static_cast<size_t>(w);
        }
        hash->update(p, n);
        if (su) su->feed(p, n);
        got += static_cast<int64_t>(n);
        return true;
      };
      auto resp = h.send(req);
      have += got;
      if (!werr.empty()) {
        if (str::startsWith(werr, "write ")) return fail(Error(EIO, "blob " + d.digest + ": " + werr));
        ::unlink(j.blobFile.c_str());
        return fail(ErrorCode::kCorrupt, "blob " + d.digest + ": " + werr);
      }
      if (resp && resp->status == 416) {  // our partial is not a prefix the server knows
        BERTH_TRY(restart());
        if (attempt < retries) continue;
      }
      bool complete = resp && (resp->status == 200 || resp->status == 206) &&
                      (d.size <= 0 || have == d.size);
      if (!complete) {
        std::string why = !resp ? resp.error().message()
                          : resp->status >= 300
                              ? httpError("GET blob", *resp)
                              : "connection closed after " + std::to_string(have) + " of " +
                                    std::to_string(d.size) + " bytes";
        if (attempt < retries && (!resp || resp->status >= 500 || resp->status < 300)) {
          log::info("pull: blob " + d.digest + ": " + why + "; resuming");
          continue;
        }
        return fail(Error(EIO, "blob " + d.digest + ": " + why));
      }
    }
    std::string digest = "sha256:" + hash->hexDigest();
    if (digest == d.digest) break;
    if (resumed && attempt < retries) {  // a stale partial from an earlier pull: start over
      log::info("pull: blob " + d.digest + ": earlier partial download was bad; starting over");
      resumed = false;
      BERTH_TRY(restart());
      continue;
    }
    ::unlink(j.blobFile.c_str());
    return fail(ErrorCode::kCorrupt, "blob " + d.digest + ": downloaded content has digest " + digest);
  }
  ::fchmod(fd.get(), 0644);
  return {};
}

/// GET a small blob (the config) into memory, verified.
Result<std::string> getSmallBlob(RegistryHttp& h, const Reference& r, const oci::Descriptor& d) {
  std::string body;
  HttpRequest req;
  req.url = "/v2/" + r.repository + "/blobs/" + d.digest;
  req.scope = "repository:" + r.repository + ":pull";
  req.sink = [&](long, const char* p, size_t n) {
    body.append(p, n);
    return static_cast<int64_t>(body.size()) <= kMaxConfig;
  };
  BERTH_ASSIGN(auto resp, h.send(req));
  if (resp.status != 200) return fail(Error(EIO, httpError("GET blob " + d.digest, resp)));
  if (sha256Digest(body) != d.digest)
    return fail(ErrorCode::kCorrupt, "blob " + d.digest + ": content has digest " + sha256Digest(body));
  return body;
}

}  // namespace

Result<Image> pull(Store& store, const std::string& refText, const RegistryOptions& opts) {
  BERTH_ASSIGN(Reference ref, remoteRef(refText));
  auto sess = session(ref, opts);
  RegistryHttp h(sess);
  auto ctx = [&](Error e) { return fail(e.context("pull " + refText)); };
  std::mutex sayMu;
  auto tell = [&](const std::string& s) {
    std::lock_guard<std::mutex> g(sayMu);
    say(opts, s);
  };
  auto got = getManifest(h, ref, ref.digest.empty() ? ref.tag : ref.digest);
  if (!got) return ctx(got.error());
  auto [text, mt] = *got;
  if (oci::isIndexMediaType(mt)) {
    auto idx = oci::parseIndex(text);
    if (!idx) return ctx(idx.error());
    auto host = oci::hostPlatform();
    const oci::Descriptor* pick = nullptr;
    for (auto& m : idx->manifests)
      if (m.platform && oci::platformMatches(*m.platform, host) && oci::isManifestMediaType(m.mediaType)) {
        pick = &m;
        break;
      }
    if (!pick)
      return ctx(Error(ErrorCode::kNotFound, "no manifest for " + host.os + "/" + host.architecture));
    tell("Selected " + host.os + "/" + host.architecture + " manifest " + pick->digest);
    auto m2 = getManifest(h, ref, pick->digest);
    if (!m2) return ctx(m2.error());
    text = m2->first;
    mt = m2->second;
  }
  auto man = oci::parseManifest(text);
  if (!man) return ctx(man.error());
  for (auto& l : man->layers) {
    if (!oci::layerCompression(l.mediaType))
      return ctx(Error(ErrorCode::kUnsupported, "layer " + l.digest + ": unknown media type " + l.mediaType));
    if (!isValidDigest(l.digest)) return ctx(Error(ErrorCode::kCorrupt, "bad layer digest " + l.digest));
  }
  if (!isValidDigest(man->config.digest))
    return ctx(Error(ErrorCode::kCorrupt, "bad config digest " + man->config.digest));
  std::string manifestDigest = sha256Digest(text);

  // Config first (small, in memory): it lists the diffIDs the unpacks are checked against.
  std::string cfgText;
  if (store.hasBlob(man->config.digest)) {
    auto c = store.readBlob(man->config.digest);
    if (!c) return ctx(c.error());
    cfgText = std::move(*c);
  } else {
    auto c = getSmallBlob(h, ref, man->config);
    if (!c) return ctx(c.error());
    cfgText = std::move(*c);
  }
  auto cfg = oci::parseImageConfig(cfgText);
  if (!cfg) return ctx(cfg.error());
  if (cfg->rootfs.diffIds.size() != man->layers.size())
    return ctx(Error(ErrorCode::kCorrupt, "config diff_ids do not match the manifest's layers"));
  for (auto& d : cfg->rootfs.diffIds)
    if (!isValidDigest(d)) return ctx(Error(ErrorCode::kCorrupt, "bad diff_id " + d));

  // One job per distinct blob; each snapshot (diffID) made by one job at most.
  std::vector<Job> jobs;
  std::set<std::string> blobsSeen, snapsClaimed;
  for (size_t i = 0; i < man->layers.size(); ++i) {
    const auto& l = man->layers[i];
    if (!blobsSeen.insert(l.digest).second) continue;
    Job j;
    j.desc = l;
    j.diffId = cfg->rootfs.diffIds[i];
    j.needBlob = !store.hasBlob(l.digest);
    j.needSnap = !fs::isDir(snapshotPath(store.dir(), j.diffId)) && snapsClaimed.insert(j.diffId).second;
    jobs.push_back(std::move(j));
  }

  std::vector<std::unique_ptr<RegistryHttp>> clients;
  int par = std::max(1, opts.parallel);
  for (int i = 0; i < par; ++i) clients.push_back(std::make_unique<RegistryHttp>(sess));
  std::mutex cmu;
  std::vector<RegistryHttp*> freeClients;
  for (auto& c : clients) freeClients.push_back(c.get());
  auto r = parallelFor(jobs.size(), par, [&](size_t i) -> Result<void> {
    Job& j = jobs[i];
    std::string shortD = j.desc.digest.substr(7, 12);
    if (!j.needBlob && !j.needSnap) {
      tell("Layer " + shortD + ": already exists");
      return {};
    }
    if (!j.needBlob) {  // blob here, snapshot missing
      BERTH_ASSIGN(j.snap, unpackFile(store, store.blobPath(j.desc.digest), j));
      tell("Layer " + shortD + ": unpacked");
      return {};
    }
    RegistryHttp* c;
    {
      std::lock_guard<std::mutex> g(cmu);
      c = freeClients.back();
      freeClients.pop_back();
    }
    std::unique_ptr<StreamUnpack> su;
    Result<void> dl;
    if (j.needSnap) {
      auto s = StreamUnpack::start(store.dir());
      if (!s) dl = fail(s.error());
      else su = std::move(*s);
    }
    if (dl) dl = download(store, *c, ref, j, opts.retries, su.get());
    {
      std::lock_guard<std::mutex> g(cmu);
      freeClients.push_back(c);
    }
    if (!dl) return fail(dl.error());
    if (su) {
      auto u = su->finish();
      if (su->abandoned()) {  // the stream restarted: unpack the verified file instead
        BERTH_ASSIGN(j.snap, unpackFile(store, j.blobFile, j));
      } else {
        if (!u) return fail(u.error().context("unpack layer " + j.desc.digest));
        if (u->diffId != j.diffId)
          return fail(ErrorCode::kCorrupt, "unpack layer " + j.desc.digest + ": diff_id " +
                                               u->diffId + " does not match config " + j.diffId);
        j.snap = su->takeDir();
      }
    }
    tell("Layer " + shortD + ": downloaded (" + std::to_string(j.desc.size) + " bytes)" +
         (j.needSnap ? " and unpacked" : ""));
    return {};
  });
  if (!r) return ctx(r.error());

  // Commit. Small blobs go through a temp dir so one syncfs covers every byte written.
  auto meta = TempDir::create(store.dir(), "pull-");
  if (!meta) return ctx(meta.error());
  bool needCfg = !store.hasBlob(man->config.digest), needMan = !store.hasBlob(manifestDigest);
  if (needCfg)
    if (auto w = fs::writeFile(meta->path() + "/config", cfgText); !w) return ctx(w.error());
  if (needMan)
    if (auto w = fs::writeFile(meta->path() + "/manifest", text); !w) return ctx(w.error());
  {
    UniqueFd sfd(::open(store.dir().c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!sfd || ::syncfs(sfd.get()) < 0) return ctx(Error(errno, "syncfs " + store.dir()));
  }
  auto lock = StoreLock::acquire(store.dir(), true);
  if (!lock) return ctx(lock.error());
  bool blobsChanged = false, snapsChanged = false;
  auto adopt = [&](const std::string& from, const std::string& digest) -> Result<void> {
    if (store.hasBlob(digest)) {
      ::unlink(from.c_str());
      return {};
    }
    if (::rename(from.c_str(), store.blobPath(digest).c_str()) < 0)
      return failErrno("store blob " + digest);
    blobsChanged = true;
    return {};
  };
  for (auto& j : jobs) {
    if (j.needBlob)
      if (auto a = adopt(j.blobFile, j.desc.digest); !a) return ctx(a.error());
    if (j.snap) {
      std::string to = snapshotPath(store.dir(), j.diffId);
      if (::rename(j.snap->path().c_str(), to.c_str()) == 0) {
        j.snap->release();
        snapsChanged = true;
      } else if (errno != EEXIST && errno != ENOTEMPTY) {
        return ctx(Error(errno, "rename snapshot " + to));
      }  // else: another process made the same snapshot first; ours is dropped
    }
  }
  if (needCfg)
    if (auto a = adopt(meta->path() + "/config", man->config.digest); !a) return ctx(a.error());
  if (needMan)
    if (auto a = adopt(meta->path() + "/manifest", manifestDigest); !a) return ctx(a.error());
  if (blobsChanged)
    if (auto s = fs::syncDir(store.dir() + "/blobs/sha256"); !s) return ctx(s.error());
  if (snapsChanged)
    if (auto s = fs::syncDir(store.dir() + "/snapshots"); !s) return ctx(s.error());
  std::string name = ref.str();
  auto img = addManifestLocked(store, manifestDigest, {name});
  if (!img) return ctx(img.error());
  tell("Pulled " + name + " " + manifestDigest);
  return img;
}

}  // namespace berth::image
