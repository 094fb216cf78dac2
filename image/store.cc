#include "image/store.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <set>
#include <tuple>

#include "common/digest.h"
#include "common/fs.h"
#include "common/log.h"
#include "common/strings.h"
#include "common/unique_fd.h"
#include "image/store_internal.h"
#include "image/unpack.h"

namespace berth::image {

using detail::IndexEntry;
using detail::StoreLock;

Result<Store> Store::open(const std::string& root) {
  std::string dir = fs::join(root, "images");
  for (const char* sub : {"blobs/sha256", "snapshots", "leases", "tmp"})
    BERTH_TRY_CTX(fs::mkdirs(fs::join(dir, sub), 0700), "open image store");
  std::string layout = dir + "/oci-layout";
  if (!fs::exists(layout))
    BERTH_TRY(fs::writeFileAtomic(layout, "{\"imageLayoutVersion\":\"1.0.0\"}", 0644));
  if (!fs::exists(dir + "/index.json")) {
    BERTH_ASSIGN(auto lock, StoreLock::acquire(dir, true));
    if (!fs::exists(dir + "/index.json")) BERTH_TRY(detail::writeIndex(dir, {}));
  }
  return Store(dir);
}

std::string Store::blobPath(const std::string& digest) const {
  return dir_ + "/blobs/sha256/" + detail::hexOf(digest);
}

bool Store::hasBlob(const std::string& digest) const {
  return isValidDigest(digest) && fs::exists(blobPath(digest));
}

Result<std::string> Store::readBlob(const std::string& digest) {
  if (!isValidDigest(digest)) return fail(ErrorCode::kInvalidArgument, "bad digest " + digest);
  auto r = fs::readFile(blobPath(digest));
  if (!r) {
    if (r.error().is(ENOENT)) return fail(ErrorCode::kNotFound, "blob " + digest + " not in store");
    return fail(r.error());
  }
  return r;
}

Result<std::string> Store::putBlob(std::string_view data, const std::string& expectDigest) {
  std::string d = sha256Digest(data);
  if (!expectDigest.empty() && d != expectDigest)
    return fail(ErrorCode::kCorrupt, "digest mismatch: expected " + expectDigest + ", got " + d);
  if (!fs::exists(blobPath(d))) BERTH_TRY(fs::writeFileAtomic(blobPath(d), data, 0644));
  return d;
}

Result<void> Store::adoptBlobFile(const std::string& path, const std::string& digest) {
  if (!isValidDigest(digest)) return fail(ErrorCode::kInvalidArgument, "bad digest " + digest);
  BERTH_ASSIGN(std::string got, sha256File(path));
  if (got != digest)
    return fail(ErrorCode::kCorrupt, "digest mismatch: expected " + digest + ", got " + got);
  {
    UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd || ::fsync(fd.get()) < 0) return failErrno("fsync " + path);
    ::fchmod(fd.get(), 0644);
  }
  if (::rename(path.c_str(), blobPath(digest).c_str()) < 0) return failErrno("rename blob");
  return fs::syncDir(dir_ + "/blobs/sha256");
}

Result<std::string> Store::makeTempDir(std::string_view prefix) {
  return fs::makeTempDir(dir_ + "/tmp", prefix);
}

namespace detail {

Result<Image> loadImage(Store& s, const std::string& manifestDigest) {
  BERTH_ASSIGN(std::string mtext, s.readBlob(manifestDigest));
  auto m = oci::parseManifest(mtext);
  if (!m) return fail(m.error().context("image " + manifestDigest));
  BERTH_ASSIGN(std::string ctext, s.readBlob(m->config.digest));
  auto cfg = oci::parseImageConfig(ctext);
  if (!cfg) return fail(cfg.error().context("image " + manifestDigest));
  Image img;
  img.id = m->config.digest;
  img.manifestDigest = manifestDigest;
  img.config = std::move(*cfg);
  img.layers = m->layers;
  img.size = m->config.size;
  for (auto& l : img.layers) img.size += l.size;
  return img;
}

Result<Image> addManifestLocked(Store& s, const std::string& manifestDigest,
                                const std::vector<std::string>& names) {
  BERTH_ASSIGN(Image img, loadImage(s, manifestDigest));
  for (auto& l : img.layers)
    if (!s.hasBlob(l.digest))
      return fail(ErrorCode::kNotFound, "image " + manifestDigest + ": layer " + l.digest + " missing");
  if (img.config.rootfs.diffIds.size() != img.layers.size())
    return fail(ErrorCode::kCorrupt, "image " + manifestDigest + ": config lists " +
                                         std::to_string(img.config.rootfs.diffIds.size()) +
                                         " diff_ids for " + std::to_string(img.layers.size()) +
                                         " layers");
  std::vector<std::string> norm;
  for (auto& n : names) {
    BERTH_ASSIGN(std::string nn, normalizeName(n));
    norm.push_back(nn);
  }
  BERTH_ASSIGN(auto entries, readIndex(s.dir()));
  std::set<std::string> taken(norm.begin(), norm.end());
  // Drop entries that carry one of our names, and our own dangling entry.
  std::vector<IndexEntry> out;
  std::set<std::string> lostName;  // manifests that lost a name: may become dangling
  for (auto& e : entries) {
    if (!e.name.empty() && taken.count(e.name)) {
      lostName.insert(e.manifestDigest);
      continue;
    }
    if (e.manifestDigest == manifestDigest && e.name.empty()) continue;
    out.push_back(e);
  }
  IndexEntry base;
  base.manifestDigest = manifestDigest;
  base.manifestSize = static_cast<int64_t>(s.readBlob(manifestDigest)->size());
  base.mediaType = std::string(oci::media::kOciManifest);
  base.id = img.id;
  base.created = img.config.created;
  base.size = img.size;
  const auto& diffs = img.config.rootfs.diffIds;
  base.chain = chainId(diffs, diffs.size());
  if (diffs.size() > 1) base.parent = chainId(diffs, diffs.size() - 1);
  for (auto& n : norm) {
    IndexEntry e = base;
    e.name = n;
    out.push_back(e);
  }
  auto present = [&](const std::string& md) {
    return std::any_of(out.begin(), out.end(), [&](auto& e) { return e.manifestDigest == md; });
  };
  if (!present(manifestDigest)) out.push_back(base);  // no names: dangling
  for (auto& md : lostName) {
    if (present(md)) continue;
    for (auto& e : entries)
      if (e.manifestDigest == md) {
        IndexEntry d = e;
        d.name.clear();
        out.push_back(d);
        break;
      }
  }
  // A rebuild or re-pull that names the same image as before changes nothing: skip the
  // write (and its fsyncs), which is most of a fully cached `berth build`.
  auto keys = [](const std::vector<IndexEntry>& v) {
    std::vector<std::tuple<std::string, int64_t, std::string, std::string, std::string,
                           std::string, int64_t>> k;
    for (auto& e : v)
      k.emplace_back(e.manifestDigest, e.manifestSize, e.mediaType, e.name, e.id, e.created, e.size);
    std::sort(k.begin(), k.end());
    return k;
  };
  if (keys(out) != keys(entries)) BERTH_TRY(writeIndex(s.dir(), out));
  img.names = norm;
  std::sort(img.names.begin(), img.names.end());
  return img;
}

}  // namespace detail

Result<Image> Store::addManifest(const std::string& manifestDigest,
                                 const std::vector<std::string>& names) {
  BERTH_ASSIGN(auto lock, StoreLock::acquire(dir_, true));
  return detail::addManifestLocked(*this, manifestDigest, names);
}

Result<Image> Store::imageByManifest(const std::string& manifestDigest) {
  BERTH_ASSIGN(auto lock, StoreLock::acquire(dir_, false));
  BERTH_ASSIGN(Image img, detail::loadImage(*this, manifestDigest));
  BERTH_ASSIGN(auto entries, detail::readIndex(dir_));
  for (auto& e : entries)
    if (e.manifestDigest == manifestDigest && !e.name.empty()) img.names.push_back(e.name);
  std::sort(img.names.begin(), img.names.end());
  return img;
}

Result<Image> Store::resolve(const std::string& ref) {
  if (ref.empty()) return fail(ErrorCode::kInvalidArgument, "empty image reference");
  BERTH_ASSIGN(auto lock, StoreLock::acquire(dir_, false));
  BERTH_ASSIGN(auto entries, detail::readIndex(dir_));
  std::string manifest;
  auto norm = normalizeName(ref);
  if (norm) {
    auto at = norm->find('@');
    for (auto& e : entries) {
      if (at != std::string::npos) {
        if (e.manifestDigest == norm->substr(at + 1)) manifest = e.manifestDigest;
      } else if (e.name == *norm) {
        manifest = e.manifestDigest;
      }
      if (!manifest.empty()) break;
    }
  }
  if (manifest.empty()) {
    // An id (config digest), a manifest digest, or a unique id prefix.
    std::string hex = str::startsWith(ref, "sha256:") ? ref.substr(7) : ref;
    bool isHex = hex.size() >= 3 && hex.size() <= 64 &&
                 std::all_of(hex.begin(), hex.end(), [](char c) {
                   return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
                 });
    if (isHex) {
      std::set<std::string> hits;
      for (auto& e : entries) {
        if (str::startsWith(detail::hexOf(e.id), hex)) hits.insert(e.manifestDigest);
        else if (hex.size() == 64 && detail::hexOf(e.manifestDigest) == hex)
          hits.insert(e.manifestDigest);
      }
      if (hits.size() > 1)
        return fail(ErrorCode::kInvalidArgument, "image id prefix " + ref + " is ambiguous");
      if (hits.size() == 1) manifest = *hits.begin();
    }
  }
  if (manifest.empty()) {
    if (!norm && ref.find_first_of("ABCDEFGHIJKLMNOPQRSTUVWXYZ") == std::string::npos &&
        !str::startsWith(ref, "sha256:"))
      return fail(norm.error());
    return fail(ErrorCode::kNotFound, "image " + ref + ": not found");
  }
  BERTH_ASSIGN(Image img, detail::loadImage(*this, manifest));
  for (auto& e : entries)
    if (e.manifestDigest == manifest && !e.name.empty()) img.names.push_back(e.name);
  std::sort(img.names.begin(), img.names.end());
  return img;
}

Result<std::vector<std::string>> Store::snapshotDirs(const Image& img) {
  if (img.config.rootfs.diffIds.size() != img.layers.size())
    return fail(ErrorCode::kCorrupt, "image " + img.id + ": diff_ids do not match layers");
  BERTH_ASSIGN(auto lock, StoreLock::acquire(dir_, false));
  std::vector<std::string> dirs;
  for (size_t i = 0; i < img.layers.size(); ++i) {
    const std::string& diffId = img.config.rootfs.diffIds[i];
    if (!isValidDigest(diffId)) return fail(ErrorCode::kCorrupt, "bad diff_id " + diffId);
    std::string snap = detail::snapshotPath(dir_, diffId);
    if (!fs::isDir(snap)) {
      const auto& layer = img.layers[i];
      UniqueFd src(::open(blobPath(layer.digest).c_str(), O_RDONLY | O_CLOEXEC));
      if (!src) return failErrno("open layer blob " + layer.digest);
      BERTH_ASSIGN(auto tmp, detail::TempDir::create(dir_, "unpack-"));
      ::chmod(tmp.path().c_str(), 0755);
      auto res = unpackLayer(src.get(), tmp.path());
      if (!res) return fail(res.error().context("unpack layer " + layer.digest));
      if (res->diffId != diffId)
        return fail(ErrorCode::kCorrupt, "unpack layer " + layer.digest + ": diff_id " +
                                             res->diffId + " does not match config " + diffId);
      if (::rename(tmp.path().c_str(), snap.c_str()) < 0) {
        if (errno != EEXIST && errno != ENOTEMPTY) return failErrno("rename snapshot " + snap);
        // Another process unpacked the same layer first: use theirs.
      } else {
        tmp.release();
        BERTH_TRY(fs::syncDir(dir_ + "/snapshots"));
      }
    }
    dirs.push_back(snap);
  }
  return dirs;
}

Result<std::string> Store::diffIdOf(const oci::Descriptor& layer) {
  UniqueFd src(::open(blobPath(layer.digest).c_str(), O_RDONLY | O_CLOEXEC));
  if (!src) return failErrno("open layer blob " + layer.digest);
  BERTH_ASSIGN(auto res, unpackLayer(src.get(), ""));
  return res.diffId;
}

namespace detail {
Result<Image> writeImageLocked(Store& s, const oci::ImageConfig& config,
                               const std::vector<Layer>& layers,
                               const std::vector<std::string>& names) {
  oci::ImageConfig cfg = config;
  if (cfg.rootfs.diffIds.empty())
    for (auto& l : layers) cfg.rootfs.diffIds.push_back(l.diffId);
  if (cfg.rootfs.diffIds.size() != layers.size())
    return fail(ErrorCode::kInvalidArgument, "writeImage: diff_ids do not match layers");
  auto host = oci::hostPlatform();
  if (cfg.architecture.empty()) cfg.architecture = host.architecture;
  if (cfg.os.empty()) cfg.os = host.os;
  if (cfg.created.empty()) cfg.created = oci::nowRfc3339();
  oci::Manifest m;
  m.mediaType = std::string(oci::media::kOciManifest);
  std::string ctext = oci::toJson(cfg);
  BERTH_ASSIGN(m.config.digest, s.putBlob(ctext));
  m.config.mediaType = std::string(oci::media::kOciConfig);
  m.config.size = static_cast<int64_t>(ctext.size());
  for (auto& l : layers) {
    if (!s.hasBlob(l.descriptor.digest))
      return fail(ErrorCode::kNotFound, "writeImage: layer blob " + l.descriptor.digest + " missing");
    m.layers.push_back(l.descriptor);
  }
  BERTH_ASSIGN(std::string md, s.putBlob(oci::toJson(m)));
  return addManifestLocked(s, md, names);
}
}  // namespace detail

Result<Image> Store::writeImage(const oci::ImageConfig& config, const std::vector<Layer>& layers,
                                const std::vector<std::string>& names) {
  BERTH_ASSIGN(auto lock, StoreLock::acquire(dir_, true));
  return detail::writeImageLocked(*this, config, layers, names);
}

Result<Image> Store::importRootfs(const std::string& tarPath, const std::string& name) {
  BERTH_ASSIGN(std::string norm, normalizeName(name));
  UniqueFd src(::open(tarPath.c_str(), O_RDONLY | O_CLOEXEC));
  if (!src) return failErrno("import " + tarPath);
  BERTH_ASSIGN(auto tmp, detail::TempDir::create(dir_, "import-"));
  std::string blobTmp = tmp.path() + "/blob";
  std::string rootTmp = tmp.path() + "/rootfs";
  if (::mkdir(rootTmp.c_str(), 0755) < 0) return failErrno("mkdir " + rootTmp);
  UniqueFd copy(::open(blobTmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644));
  if (!copy) return failErrno("create " + blobTmp);
  auto res = unpackLayer(src.get(), rootTmp, copy.get());
  if (!res) return fail(res.error().context("import " + tarPath));
  if (::fsync(copy.get()) < 0) return failErrno("fsync " + blobTmp);
  copy.reset();
  Layer layer;
  layer.diffId = res->diffId;
  layer.descriptor.digest = res->rawDigest;
  layer.descriptor.size = res->rawSize;
  layer.descriptor.mediaType = std::string(
      res->compression == oci::Compression::kGzip   ? oci::media::kOciLayerGzip
      : res->compression == oci::Compression::kZstd ? oci::media::kOciLayerZstd
                                                    : oci::media::kOciLayer);
  oci::ImageConfig cfg;
  cfg.config.env = {"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"};
  oci::History h;
  h.created = oci::nowRfc3339();
  h.createdBy = "berth import " + tarPath;
  h.comment = "imported from tarball";
  cfg.history.push_back(h);
  cfg.created = h.created;
  // Blob, snapshot and index change under one exclusive lock, so gc() never sees them loose.
  BERTH_ASSIGN(auto lock, StoreLock::acquire(dir_, true));
  if (!hasBlob(layer.descriptor.digest)) {
    if (::rename(blobTmp.c_str(), blobPath(layer.descriptor.digest).c_str()) < 0)
      return failErrno("store layer blob");
    BERTH_TRY(fs::syncDir(dir_ + "/blobs/sha256"));
  }
  std::string snap = detail::snapshotPath(dir_, layer.diffId);
  if (!fs::isDir(snap) && ::rename(rootTmp.c_str(), snap.c_str()) == 0)
    BERTH_TRY(fs::syncDir(dir_ + "/snapshots"));
  auto img = detail::writeImageLocked(*this, cfg, {layer}, {norm});
  if (!img) return fail(img.error().context("import " + tarPath));
  return img;
}

}  // namespace berth::image
