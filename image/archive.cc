#include "image/archive.h"

#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <map>
#include <memory>
#include <set>

#include <nlohmann/json.hpp>

#include "common/digest.h"
#include "common/fs.h"
#include "common/strings.h"
#include "common/unique_fd.h"
#include "image/reference.h"
#include "image/store_internal.h"
#include "image/unpack.h"

namespace berth::image {

using nlohmann::json;

namespace {

struct WriteDeleter {
  void operator()(archive* a) const { archive_write_free(a); }
};
struct ReadDeleter {
  void operator()(archive* a) const { archive_read_free(a); }
};

/// A tar being written: entries from memory or from files.
class TarOut {
 public:
  Result<void> open(int fd) {
    a_.reset(archive_write_new());
    archive_write_set_format_pax_restricted(a_.get());
    if (archive_write_open_fd(a_.get(), fd) != ARCHIVE_OK) return err("open");
    return {};
  }
  Result<void> addDir(const std::string& path) {
    auto* e = entry(path, AE_IFDIR, 0755, 0);
    int r = archive_write_header(a_.get(), e);
    archive_entry_free(e);
    if (r < ARCHIVE_WARN) return err(path);
    return {};
  }
  Result<void> addData(const std::string& path, std::string_view data) {
    auto* e = entry(path, AE_IFREG, 0644, static_cast<int64_t>(data.size()));
    int r = archive_write_header(a_.get(), e);
    archive_entry_free(e);
    if (r < ARCHIVE_WARN) return err(path);
    if (archive_write_data(a_.get(), data.data(), data.size()) < 0) return err(path);
    return {};
  }
  Result<void> addFile(const std::string& path, const std::string& src) {
    UniqueFd fd(::open(src.c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd) return failErrno("open " + src);
    struct stat st;
    if (::fstat(fd.get(), &st) < 0) return failErrno("stat " + src);
    auto* e = entry(path, AE_IFREG, 0644, st.st_size);
    int r = archive_write_header(a_.get(), e);
    archive_entry_free(e);
    if (r < ARCHIVE_WARN) return err(path);
    char buf[1 << 16];
    for (;;) {
      ssize_t n = ::read(fd.get(), buf, sizeof buf);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) return failErrno("read " + src);
      if (n == 0) break;
      if (archive_write_data(a_.get(), buf, static_cast<size_t>(n)) < 0) return err(path);
    }
    return {};
  }
  Result<void> close() {
    if (archive_write_close(a_.get()) != ARCHIVE_OK) return err("close");
    return {};
  }

 private:
  archive_entry* entry(const std::string& path, mode_t type, mode_t perm, int64_t size) {
    archive_entry* e = archive_entry_new();
    archive_entry_set_pathname(e, path.c_str());
    archive_entry_set_filetype(e, type);
    archive_entry_set_perm(e, perm);
    archive_entry_set_size(e, size);
    archive_entry_set_mtime(e, 0, 0);
    return e;
  }
  tl::unexpected<Error> err(const std::string& what) {
    return fail(ErrorCode::kInternal, "write archive " + what + ": " +
                                          (archive_error_string(a_.get()) ?: "failed"));
  }
  std::unique_ptr<archive, WriteDeleter> a_;
};

/// Decompress a layer blob to a plain tar file (docker-archive layers are uncompressed).
Result<void> decompressTo(const std::string& src, const std::string& dst) {
  std::unique_ptr<archive, ReadDeleter> a(archive_read_new());
  archive_read_support_filter_all(a.get());
  archive_read_support_format_raw(a.get());
  if (archive_read_open_filename(a.get(), src.c_str(), 1 << 16) != ARCHIVE_OK)
    return fail(ErrorCode::kCorrupt, "open " + src);
  archive_entry* e;
  if (archive_read_next_header(a.get(), &e) != ARCHIVE_OK)
    return fail(ErrorCode::kCorrupt, "read " + src);
  UniqueFd out(::open(dst.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
  if (!out) return failErrno("create " + dst);
  char buf[1 << 16];
  for (;;) {
    la_ssize_t n = archive_read_data(a.get(), buf, sizeof buf);
    if (n < 0) return fail(ErrorCode::kCorrupt, "decompress " + src);
    if (n == 0) break;
    if (::write(out.get(), buf, static_cast<size_t>(n)) != n) return failErrno("write " + dst);
  }
  return {};
}

}  // namespace

Result<ArchiveFormat> parseArchiveFormat(const std::string& s) {
  if (s == "oci-archive" || s == "oci") return ArchiveFormat::kOci;
  if (s == "docker-archive" || s == "docker") return ArchiveFormat::kDocker;
  return fail(ErrorCode::kInvalidArgument,
              "unknown archive format \"" + s + "\" (oci-archive, docker-archive)");
}

Result<void> saveImages(Store& store, const std::vector<std::string>& refs,
                        const std::string& outPath, ArchiveFormat format) {
  std::vector<std::pair<Image, std::vector<std::string>>> imgs;  // image, names to record
  for (auto& r : refs) {
    auto img = store.resolve(r);
    if (!img) return fail(img.error().context("save"));
    std::vector<std::string> names;
    auto norm = normalizeName(r);
    if (norm && std::find(img->names.begin(), img->names.end(), *norm) != img->names.end())
      names.push_back(*norm);
    else
      names = img->names;
    imgs.emplace_back(std::move(*img), names);
  }
  BERTH_ASSIGN(auto tmp, detail::TempDir::create(store.dir(), "save-"));
  bool toStdout = outPath == "-";
  std::string target = toStdout ? "" : outPath + ".tmp-" + str::randomHex(4);
  UniqueFd fd(toStdout ? ::dup(1) : ::open(target.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
  if (!fd) return failErrno("save: open " + (toStdout ? std::string("stdout") : outPath));
  auto cleanup = [&] {
    if (!toStdout) ::unlink(target.c_str());
  };
  auto body = [&]() -> Result<void> {
    TarOut out;
    BERTH_TRY(out.open(fd.get()));
    if (format == ArchiveFormat::kOci) {
      BERTH_TRY(out.addData("oci-layout", "{\"imageLayoutVersion\":\"1.0.0\"}"));
      oci::Index idx;
      idx.mediaType = std::string(oci::media::kOciIndex);
      std::set<std::string> written;
      BERTH_TRY(out.addDir("blobs/"));
      BERTH_TRY(out.addDir("blobs/sha256/"));
      for (auto& [img, names] : imgs) {
        std::vector<std::string> blobs = {img.manifestDigest, img.id};
        for (auto& l : img.layers) blobs.push_back(l.digest);
        for (auto& b : blobs)
          if (written.insert(b).second)
            BERTH_TRY(out.addFile("blobs/sha256/" + detail::hexOf(b), store.blobPath(b)));
        oci::Descriptor d;
        d.mediaType = std::string(oci::media::kOciManifest);
        d.digest = img.manifestDigest;
        BERTH_ASSIGN(std::string mtext, store.readBlob(img.manifestDigest));
        d.size = static_cast<int64_t>(mtext.size());
        if (auto mt = oci::sniffMediaType(mtext); !mt.empty()) d.mediaType = mt;
        if (names.empty()) idx.manifests.push_back(d);
        for (auto& n : names) {
          d.annotations[std::string(oci::kAnnotationRefName)] = n;
          idx.manifests.push_back(d);
        }
      }
      BERTH_TRY(out.addData("index.json", oci::toJson(idx)));
    } else {
      json manifest = json::array();
      std::set<std::string> written;
      int n = 0;
      for (auto& [img, names] : imgs) {
        std::string cfgName = detail::hexOf(img.id) + ".json";
        BERTH_ASSIGN(std::string ctext, store.readBlob(img.id));
        if (written.insert(cfgName).second) BERTH_TRY(out.addData(cfgName, ctext));
        json layers = json::array();
        for (size_t i = 0; i < img.layers.size(); ++i) {
          std::string dir = detail::hexOf(img.config.rootfs.diffIds[i]);
          std::string lname = dir + "/layer.tar";
          if (written.insert(lname).second) {
            std::string plain = tmp.path() + "/layer" + std::to_string(n++);
            BERTH_TRY(decompressTo(store.blobPath(img.layers[i].digest), plain));
            BERTH_TRY(out.addDir(dir + "/"));
            BERTH_TRY(out.addFile(lname, plain));
            ::unlink(plain.c_str());
          }
          layers.push_back(lname);
        }
        manifest.push_back({{"Config", cfgName}, {"RepoTags", names}, {"Layers", layers}});
      }
      BERTH_TRY(out.addData("manifest.json", manifest.dump()));
    }
    BERTH_TRY(out.close());
    if (!toStdout) {
      if (::fsync(fd.get()) < 0) return failErrno("fsync " + target);
      if (::rename(target.c_str(), outPath.c_str()) < 0) return failErrno("rename to " + outPath);
    }
    return {};
  };
  auto r = body();
  if (!r) {
    cleanup();
    return fail(r.error().context("save"));
  }
  return {};
}

namespace {

/// Every regular file of an archive, extracted to numbered files in a temp dir.
struct Extracted {
  std::map<std::string, std::string> files;  // cleaned archive path -> temp file
  std::map<std::string, std::string> links;  // cleaned path -> cleaned target path
  std::string find(std::string p) const {
    for (int hop = 0; hop < 8; ++hop) {
      if (auto it = files.find(p); it != files.end()) return it->second;
      auto l = links.find(p);
      if (l == links.end()) return {};
      p = l->second;
    }
    return {};
  }
};

std::string cleanArchivePath(const std::string& p) {
  std::string c = fs::clean("/" + p);
  return c.size() > 1 ? c.substr(1) : "";
}

Result<Extracted> extractAll(const std::string& inPath, const std::string& dir) {
  std::unique_ptr<archive, ReadDeleter> a(archive_read_new());
  archive_read_support_filter_all(a.get());
  archive_read_support_format_tar(a.get());
  archive_read_support_format_gnutar(a.get());
  int r = inPath == "-" ? archive_read_open_fd(a.get(), 0, 1 << 16)
                        : archive_read_open_filename(a.get(), inPath.c_str(), 1 << 16);
  if (r != ARCHIVE_OK)
    return fail(ErrorCode::kCorrupt, std::string("open archive: ") + (archive_error_string(a.get()) ?: ""));
  Extracted ex;
  int n = 0;
  for (;;) {
    archive_entry* e;
    r = archive_read_next_header(a.get(), &e);
    if (r == ARCHIVE_EOF) break;
    if (r < ARCHIVE_WARN)
      return fail(ErrorCode::kCorrupt, std::string("read archive: ") + (archive_error_string(a.get()) ?: ""));
    std::string path = cleanArchivePath(archive_entry_pathname(e) ?: "");
    if (archive_entry_filetype(e) == AE_IFLNK && archive_entry_symlink(e)) {
      std::string base = path.find('/') == std::string::npos ? "" : path.substr(0, path.rfind('/') + 1);
      ex.links[path] = cleanArchivePath(base + archive_entry_symlink(e));
      continue;
    }
    if (const char* hl = archive_entry_hardlink(e)) {
      ex.links[path] = cleanArchivePath(hl);
      continue;
    }
    if (archive_entry_filetype(e) != AE_IFREG) continue;
    std::string tmp = dir + "/f" + std::to_string(n++);
    UniqueFd out(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644));
    if (!out) return failErrno("create " + tmp);
    if (archive_read_data_into_fd(a.get(), out.get()) != ARCHIVE_OK)
      return fail(ErrorCode::kCorrupt, "read archive entry " + path + ": " +
                                           (archive_error_string(a.get()) ?: "truncated"));
    ex.files[path] = tmp;
  }
  return ex;
}

struct Pending {
  std::string manifestDigest;
  std::vector<std::string> names;
};

/// Pick the manifest for this host out of an index (recursively); the manifest digest.
Result<std::string> pickManifest(const Extracted& ex, const oci::Descriptor& d, int depth) {
  if (depth > 4) return fail(ErrorCode::kCorrupt, "nested indexes too deep");
  if (!oci::isIndexMediaType(d.mediaType)) return d.digest;
  std::string f = ex.find("blobs/sha256/" + detail::hexOf(d.digest));
  if (f.empty()) return fail(ErrorCode::kCorrupt, "index blob " + d.digest + " missing");
  BERTH_ASSIGN(std::string text, fs::readFile(f));
  BERTH_ASSIGN(auto idx, oci::parseIndex(text));
  auto host = oci::hostPlatform();
  for (auto& m : idx.manifests)
    if (!m.platform || oci::platformMatches(*m.platform, host)) return pickManifest(ex, m, depth + 1);
  return fail(ErrorCode::kNotFound, "index " + d.digest + " has no manifest for " +
                                        host.os + "/" + host.architecture);
}

}  // namespace

Result<std::vector<Image>> loadImages(Store& store, const std::string& inPath) {
  BERTH_ASSIGN(auto tmp, detail::TempDir::create(store.dir(), "load-"));
  auto exr = extractAll(inPath, tmp.path());
  if (!exr) return fail(exr.error().context("load " + inPath));
  Extracted& ex = *exr;
  std::map<std::string, std::string> blobs;  // digest -> file, all verified
  auto addBlob = [&](const std::string& digest, const std::string& file) -> Result<void> {
    if (blobs.count(digest)) return {};
    BERTH_ASSIGN(std::string got, sha256File(file));
    if (got != digest)
      return fail(ErrorCode::kCorrupt, "blob " + digest + " does not match its digest (" + got + ")");
    blobs[digest] = file;
    return {};
  };
  std::vector<Pending> pending;
  auto body = [&]() -> Result<void> {
    if (!ex.find("index.json").empty()) {
      BERTH_ASSIGN(std::string text, fs::readFile(ex.find("index.json")));
      BERTH_ASSIGN(auto idx, oci::parseIndex(text));
      std::map<std::string, Pending> byDigest;
      for (auto& d : idx.manifests) {
        BERTH_ASSIGN(std::string md, pickManifest(ex, d, 0));
        auto& p = byDigest[md];
        p.manifestDigest = md;
        auto it = d.annotations.find(std::string(oci::kAnnotationRefName));
        if (it != d.annotations.end()) {
          std::string name = it->second;
          auto full = d.annotations.find("io.containerd.image.name");
          if (full != d.annotations.end()) name = full->second;
          auto nn = normalizeName(name);
          if (!nn) return fail(nn.error());
          p.names.push_back(*nn);
        }
      }
      for (auto& [md, p] : byDigest) {
        auto file = [&](const std::string& dg) { return ex.find("blobs/sha256/" + detail::hexOf(dg)); };
        if (!isValidDigest(md) || file(md).empty())
          return fail(ErrorCode::kCorrupt, "manifest " + md + " missing from the archive");
        BERTH_TRY(addBlob(md, file(md)));
        BERTH_ASSIGN(std::string mtext, fs::readFile(file(md)));
        BERTH_ASSIGN(auto m, oci::parseManifest(mtext));
        std::vector<std::string> need = {m.config.digest};
        for (auto& l : m.layers) {
          if (!oci::layerCompression(l.mediaType))
            return fail(ErrorCode::kUnsupported, "layer " + l.digest + ": unknown media type " + l.mediaType);
          need.push_back(l.digest);
        }
        for (auto& dg : need) {
          if (!isValidDigest(dg) || file(dg).empty())
            return fail(ErrorCode::kCorrupt, "blob " + dg + " missing from the archive");
          BERTH_TRY(addBlob(dg, file(dg)));
        }
        pending.push_back(p);
      }
      return {};
    }
    if (ex.find("manifest.json").empty())
      return fail(ErrorCode::kCorrupt, "neither index.json (oci-archive) nor manifest.json (docker-archive) found");
    BERTH_ASSIGN(std::string text, fs::readFile(ex.find("manifest.json")));
    json j = json::parse(text, nullptr, false);
    if (!j.is_array()) return fail(ErrorCode::kCorrupt, "manifest.json: not an array");
    for (auto& item : j) {
      if (!item.is_object() || !item.contains("Config") || !item["Config"].is_string() ||
          !item.contains("Layers") || !item["Layers"].is_array())
        return fail(ErrorCode::kCorrupt, "manifest.json: entry without Config/Layers");
      std::string cfgFile = ex.find(cleanArchivePath(item["Config"].get<std::string>()));
      if (cfgFile.empty()) return fail(ErrorCode::kCorrupt, "config " + item["Config"].get<std::string>() + " missing");
      BERTH_ASSIGN(std::string ctext, fs::readFile(cfgFile));
      BERTH_ASSIGN(auto cfg, oci::parseImageConfig(ctext));
      std::string cfgDigest = sha256Digest(ctext);
      blobs[cfgDigest] = cfgFile;
      auto& layers = item["Layers"];
      if (cfg.rootfs.diffIds.size() != layers.size())
        return fail(ErrorCode::kCorrupt, "config lists " + std::to_string(cfg.rootfs.diffIds.size()) +
                                             " diff_ids for " + std::to_string(layers.size()) + " layers");
      oci::Manifest m;
      m.mediaType = std::string(oci::media::kOciManifest);
      m.config.mediaType = std::string(oci::media::kOciConfig);
      m.config.digest = cfgDigest;
      m.config.size = static_cast<int64_t>(ctext.size());
      for (size_t i = 0; i < layers.size(); ++i) {
        if (!layers[i].is_string()) return fail(ErrorCode::kCorrupt, "manifest.json: bad layer");
        std::string lf = ex.find(cleanArchivePath(layers[i].get<std::string>()));
        if (lf.empty()) return fail(ErrorCode::kCorrupt, "layer " + layers[i].get<std::string>() + " missing");
        UniqueFd fd(::open(lf.c_str(), O_RDONLY | O_CLOEXEC));
        BERTH_ASSIGN(auto res, unpackLayer(fd.get(), ""));
        if (res.diffId != cfg.rootfs.diffIds[i])
          return fail(ErrorCode::kCorrupt, "layer " + layers[i].get<std::string>() + ": diff_id " +
                                               res.diffId + " does not match config " + cfg.rootfs.diffIds[i]);
        blobs[res.rawDigest] = lf;
        oci::Descriptor d;
        d.digest = res.rawDigest;
        d.size = res.rawSize;
        d.mediaType = std::string(res.compression == oci::Compression::kGzip ? oci::media::kOciLayerGzip
                                  : res.compression == oci::Compression::kZstd ? oci::media::kOciLayerZstd
                                                                               : oci::media::kOciLayer);
        m.layers.push_back(d);
      }
      std::string mtext = oci::toJson(m);
      std::string mfile = tmp.path() + "/manifest-" + std::to_string(pending.size());
      BERTH_TRY(fs::writeFileAtomic(mfile, mtext));
      std::string md = sha256Digest(mtext);
      blobs[md] = mfile;
      Pending p;
      p.manifestDigest = md;
      if (item.contains("RepoTags") && item["RepoTags"].is_array())
        for (auto& t : item["RepoTags"])
          if (t.is_string()) {
            BERTH_ASSIGN(std::string nn, normalizeName(t.get<std::string>()));
            p.names.push_back(nn);
          }
      pending.push_back(p);
    }
    return {};
  };
  if (auto r = body(); !r) return fail(r.error().context("load " + inPath));
  // All verified: move blobs in, then record the images.
  std::vector<Image> out;
  {
    BERTH_ASSIGN(auto lock, detail::StoreLock::acquire(store.dir(), true));
    for (auto& [digest, file] : blobs)
      if (!store.hasBlob(digest))
        BERTH_TRY_CTX(store.adoptBlobFile(file, digest), "load " + inPath);
    for (auto& p : pending) {
      auto img = detail::addManifestLocked(store, p.manifestDigest, p.names);
      if (!img) return fail(img.error().context("load " + inPath));
      out.push_back(std::move(*img));
    }
  }
  return out;
}

}  // namespace berth::image
