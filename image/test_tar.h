#pragma once
// Test helper: write hand-made (possibly hostile) tarballs entry by entry.

#include <archive.h>
#include <archive_entry.h>
#include <sys/sysmacros.h>

#include <string>
#include <utility>
#include <vector>

namespace berth::image::testing {

struct TarEntry {
  std::string path;
  mode_t type = AE_IFREG;  // AE_IFREG, AE_IFDIR, AE_IFLNK, AE_IFCHR, AE_IFBLK, AE_IFIFO
  mode_t perm = 0644;
  std::string data;      // file contents
  std::string link;      // symlink target
  std::string hardlink;  // hardlink target (type ignored)
  int uid = 0, gid = 0;
  int devMajor = 0, devMinor = 0;
  std::vector<std::pair<std::string, std::string>> xattrs;
};

inline TarEntry file(std::string p, std::string data, mode_t perm = 0644) {
  TarEntry e;
  e.path = std::move(p);
  e.data = std::move(data);
  e.perm = perm;
  return e;
}
inline TarEntry dir(std::string p, mode_t perm = 0755) {
  TarEntry e;
  e.path = std::move(p);
  e.type = AE_IFDIR;
  e.perm = perm;
  return e;
}
inline TarEntry symlink(std::string p, std::string target) {
  TarEntry e;
  e.path = std::move(p);
  e.type = AE_IFLNK;
  e.perm = 0777;
  e.link = std::move(target);
  return e;
}
inline TarEntry hardlink(std::string p, std::string target) {
  TarEntry e;
  e.path = std::move(p);
  e.hardlink = std::move(target);
  return e;
}

/// Write entries to `path`; gzip if `gzip`. Returns false on failure.
inline bool writeTar(const std::string& path, const std::vector<TarEntry>& entries,
                     bool gzip = false, bool zstd = false) {
  archive* a = archive_write_new();
  archive_write_set_format_pax_restricted(a);
  if (gzip) archive_write_add_filter_gzip(a);
  if (zstd) archive_write_add_filter_zstd(a);
  if (archive_write_open_filename(a, path.c_str()) != ARCHIVE_OK) return false;
  for (auto& t : entries) {
    archive_entry* e = archive_entry_new();
    archive_entry_set_pathname(e, t.path.c_str());
    archive_entry_set_uid(e, t.uid);
    archive_entry_set_gid(e, t.gid);
    archive_entry_set_mtime(e, 1700000000, 0);
    archive_entry_set_perm(e, t.perm);
    for (auto& [k, v] : t.xattrs) archive_entry_xattr_add_entry(e, k.c_str(), v.data(), v.size());
    if (!t.hardlink.empty()) {
      archive_entry_set_filetype(e, AE_IFREG);
      archive_entry_set_hardlink(e, t.hardlink.c_str());
      archive_entry_set_size(e, 0);
    } else {
      archive_entry_set_filetype(e, t.type);
      if (t.type == AE_IFLNK) archive_entry_set_symlink(e, t.link.c_str());
      if (t.type == AE_IFCHR || t.type == AE_IFBLK) {
        archive_entry_set_rdev(e, makedev(t.devMajor, t.devMinor));
      }
      archive_entry_set_size(e, t.type == AE_IFREG ? static_cast<la_int64_t>(t.data.size()) : 0);
    }
    archive_write_header(a, e);
    if (t.type == AE_IFREG && t.hardlink.empty() && !t.data.empty())
      archive_write_data(a, t.data.data(), t.data.size());
    archive_entry_free(e);
  }
  bool ok = archive_write_close(a) == ARCHIVE_OK;
  archive_write_free(a);
  return ok;
}

}  // namespace berth::image::testing
