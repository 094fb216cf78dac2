// Store::commitLayerFromDir: an overlay upper dir -> an OCI layer (gzip tar) + a snapshot.
#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <cstring>
#include <map>
#include <vector>

#include "common/digest.h"
#include "common/fs.h"
#include "common/strings.h"
#include "common/unique_fd.h"
#include "image/layer_writer.h"
#include "image/store.h"
#include "image/store_internal.h"

namespace berth::image {

namespace {

/// Hashes the tar (diffID), gzips it, hashes and writes the gzip bytes (blob digest).
struct GzipSink {
  explicit GzipSink(int f) : fd(f) {}
  int fd;
  Sha256 diff;
  Sha256 blob;
  int64_t blobSize = 0;
  z_stream zs{};
  std::vector<unsigned char> out = std::vector<unsigned char>(1 << 17);
  std::string err;

  bool init(int level) { return deflateInit2(&zs, level, Z_DEFLATED, 31, 8, Z_DEFAULT_STRATEGY) == Z_OK; }
  ~GzipSink() { deflateEnd(&zs); }

  bool flushOut(size_t n) {
    blob.update(out.data(), n);
    blobSize += static_cast<int64_t>(n);
    size_t off = 0;
    while (off < n) {
      ssize_t w = ::write(fd, out.data() + off, n - off);
      if (w < 0 && errno == EINTR) continue;
      if (w < 0) {
        err = std::string("write layer blob: ") + std::strerror(errno);
        return false;
      }
      off += static_cast<size_t>(w);
    }
    return true;
  }
  bool feed(const void* data, size_t len, int flush) {
    if (len) diff.update(data, len);
    zs.next_in = static_cast<Bytef*>(const_cast<void*>(data));
    zs.avail_in = static_cast<uInt>(len);
    do {
      zs.next_out = out.data();
      zs.avail_out = static_cast<uInt>(out.size());
      int r = deflate(&zs, flush);
      if (r == Z_STREAM_ERROR) {
        err = "gzip failed";
        return false;
      }
      if (!flushOut(out.size() - zs.avail_out)) return false;
    } while (zs.avail_out == 0 || (flush == Z_FINISH && zs.avail_in > 0));
    return true;
  }
};

la_ssize_t sinkWrite(archive* a, void* ud, const void* buf, size_t len) {
  auto* s = static_cast<GzipSink*>(ud);
  if (!s->feed(buf, len, Z_NO_FLUSH)) {
    archive_set_error(a, EIO, "%s", s->err.c_str());
    return -1;
  }
  return static_cast<la_ssize_t>(len);
}

}  // namespace

Result<LayerBlob> writeLayerFromDir(const std::string& dir, int outFd) {
  GzipSink sink{outFd};
  if (!sink.init(1)) return fail(ErrorCode::kInternal, "zlib init failed");
  archive* a = archive_write_new();
  archive_write_set_format_pax_restricted(a);
  archive_write_set_bytes_per_block(a, 0);
  if (archive_write_open(a, &sink, nullptr, sinkWrite, nullptr) != ARCHIVE_OK) {
    archive_write_free(a);
    return fail(ErrorCode::kInternal, "archive open failed");
  }
  auto r = walkLayerDir(dir, a);
  if (archive_write_close(a) != ARCHIVE_OK && r) r = fail(ErrorCode::kInternal, archive_error_string(a));
  archive_write_free(a);
  if (!r) return fail(r.error());
  if (!sink.feed(nullptr, 0, Z_FINISH)) return fail(ErrorCode::kInternal, sink.err);
  LayerBlob lb;
  lb.diffId = "sha256:" + sink.diff.hexDigest();
  lb.digest = "sha256:" + sink.blob.hexDigest();
  lb.size = sink.blobSize;
  return lb;
}

Result<Layer> Store::commitLayerFromDir(const std::string& diffDir) {
  if (!fs::isDir(diffDir)) return fail(ErrorCode::kNotFound, "commit layer: " + diffDir + " is not a directory");
  BERTH_ASSIGN(auto tmp, detail::TempDir::create(dir_, "commit-"));
  std::string blobTmp = tmp.path() + "/blob";
  UniqueFd out(::open(blobTmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644));
  if (!out) return failErrno("create " + blobTmp);
  auto lb = writeLayerFromDir(diffDir, out.get());
  if (!lb) return fail(lb.error().context("commit layer " + diffDir));
  if (::fsync(out.get()) < 0) return failErrno("fsync layer blob");
  out.reset();
  Layer layer;
  layer.diffId = lb->diffId;
  layer.descriptor.mediaType = std::string(oci::media::kOciLayerGzip);
  layer.descriptor.digest = lb->digest;
  layer.descriptor.size = lb->size;

  BERTH_ASSIGN(auto lock, detail::StoreLock::acquire(dir_, true));
  if (!hasBlob(layer.descriptor.digest)) {
    if (::rename(blobTmp.c_str(), blobPath(layer.descriptor.digest).c_str()) < 0)
      return failErrno("store layer blob");
    BERTH_TRY(fs::syncDir(dir_ + "/blobs/sha256"));
  }
  std::string snap = detail::snapshotPath(dir_, layer.diffId);
  if (!fs::isDir(snap)) {
    if (::rename(diffDir.c_str(), snap.c_str()) == 0) {
      // The caller's dir is now the snapshot. Its root keeps the caller's mode; a snapshot's
      // root is what a lower's "/" looks like, so give it the usual one.
      ::chmod(snap.c_str(), 0755);
    } else if (errno == EXDEV) {
      // Another file system: unpack the blob we just wrote instead of copying by hand.
      BERTH_ASSIGN(auto utmp, detail::TempDir::create(dir_, "unpack-"));
      ::chmod(utmp.path().c_str(), 0755);
      UniqueFd src(::open(blobPath(layer.descriptor.digest).c_str(), O_RDONLY | O_CLOEXEC));
      if (!src) return failErrno("open layer blob");
      BERTH_TRY_CTX(unpackLayerInto(src.get(), utmp.path()), "commit layer " + diffDir);
      if (::rename(utmp.path().c_str(), snap.c_str()) < 0) return failErrno("rename snapshot");
      utmp.release();
    } else {
      return failErrno("move " + diffDir + " to snapshot");
    }
    BERTH_TRY(fs::syncDir(dir_ + "/snapshots"));
  } else {
    (void)fs::removeAll(diffDir);
  }
  return layer;
}

}  // namespace berth::image
