// Names, removal, leases and garbage collection of the image store.
#include <dirent.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <map>
#include <set>

#include <nlohmann/json.hpp>

#include "common/digest.h"
#include "common/fs.h"
#include "common/log.h"
#include "common/strings.h"
#include "image/store.h"
#include "image/store_internal.h"

namespace berth::image {

using detail::IndexEntry;
using detail::StoreLock;

namespace {

bool validHolder(const std::string& h) {
  if (h.empty() || h.size() > 200 || h[0] == '.') return false;
  return std::all_of(h.begin(), h.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.';
  });
}

Result<std::map<std::string, std::vector<std::string>>> readLeases(const std::string& dir) {
  std::map<std::string, std::vector<std::string>> out;
  BERTH_ASSIGN(auto names, fs::listDir(dir + "/leases"));
  for (auto& n : names) {
    if (n.find(".tmp-") != std::string::npos) continue;
    auto text = fs::readFile(dir + "/leases/" + n);
    if (!text) continue;
    auto j = nlohmann::json::parse(*text, nullptr, false);
    if (!j.is_array()) continue;
    for (auto& e : j)
      if (e.is_string()) out[n].push_back(e.get<std::string>());
  }
  return out;
}

/// Blob digests and diffIDs that the builder's cache (<root>/build-cache/<key>.json, written
/// by builder/cache.cc: {"layer": {descriptor}, "diffId": ...}) points at: a cached step stays
/// a cache hit after `image prune` / `rmi`. Unreadable entries are skipped (the builder drops
/// an entry whose layer is gone and rebuilds the step).
void addBuildCacheRefs(const std::string& storeDir, std::set<std::string>& blobs,
                       std::set<std::string>& snaps) {
  auto slash = storeDir.rfind('/');
  std::string dir = (slash == std::string::npos ? std::string(".") : storeDir.substr(0, slash)) +
                    "/build-cache";
  auto names = fs::listDir(dir);
  if (!names) return;
  for (auto& n : *names) {
    if (!str::endsWith(n, ".json")) continue;
    auto text = fs::readFile(dir + "/" + n);
    if (!text) continue;
    auto j = nlohmann::json::parse(*text, nullptr, false);
    if (!j.is_object()) continue;
    if (j.contains("layer") && j["layer"].is_object() && j["layer"].contains("digest") &&
        j["layer"]["digest"].is_string()) {
      auto d = j["layer"]["digest"].get<std::string>();
      if (isValidDigest(d)) blobs.insert(d);
    }
    if (j.contains("diffId") && j["diffId"].is_string()) {
      auto d = j["diffId"].get<std::string>();
      if (isValidDigest(d)) snaps.insert(detail::hexOf(d));
    }
  }
}

std::set<std::string> leasedDigests(const std::map<std::string, std::vector<std::string>>& l) {
  std::set<std::string> s;
  for (auto& [h, ids] : l) s.insert(ids.begin(), ids.end());
  return s;
}

bool isLeased(const std::set<std::string>& leased, const IndexEntry& e) {
  return leased.count(e.id) || leased.count(e.manifestDigest);
}

/// Drop every entry of manifest `md`; if `keepDangling`, leave one unnamed entry.
void dropImage(std::vector<IndexEntry>& entries, const std::string& md, bool keepDangling) {
  IndexEntry keep;
  bool found = false;
  for (auto& e : entries)
    if (e.manifestDigest == md) {
      keep = e;
      found = true;
    }
  entries.erase(std::remove_if(entries.begin(), entries.end(),
                               [&](auto& e) { return e.manifestDigest == md; }),
                entries.end());
  if (keepDangling && found) {
    keep.name.clear();
    entries.push_back(keep);
  }
}

}  // namespace

Result<std::vector<ImageSummary>> Store::list() {
  BERTH_ASSIGN(auto lock, StoreLock::acquire(dir_, false));
  BERTH_ASSIGN(auto entries, detail::readIndex(dir_));
  std::map<std::string, ImageSummary> by;
  std::set<std::string> parents;  // ChainIDs some image sits on
  for (auto& e : entries)
    if (!e.parent.empty()) parents.insert(e.parent);
  for (auto& e : entries) {
    auto& s = by[e.manifestDigest];
    s.intermediate = !e.chain.empty() && parents.count(e.chain) > 0;
    s.id = e.id;
    s.manifestDigest = e.manifestDigest;
    s.created = e.created;
    s.size = e.size;
    if (!e.name.empty()) s.names.push_back(e.name);
  }
  std::vector<ImageSummary> out;
  for (auto& [k, s] : by) {
    std::sort(s.names.begin(), s.names.end());
    if (!s.names.empty()) s.intermediate = false;
    out.push_back(std::move(s));
  }
  std::sort(out.begin(), out.end(), [](const ImageSummary& a, const ImageSummary& b) {
    if (a.names.empty() != b.names.empty()) return b.names.empty();
    if (!a.names.empty() && a.names[0] != b.names[0]) return a.names[0] < b.names[0];
    return a.id < b.id;
  });
  return out;
}

Result<void> Store::tag(const std::string& src, const std::string& dst) {
  BERTH_ASSIGN(std::string norm, normalizeName(dst));
  if (norm.find('@') != std::string::npos)
    return fail(ErrorCode::kInvalidArgument, "tag " + dst + ": a tag cannot carry a digest");
  BERTH_ASSIGN(Image img, resolve(src));
  BERTH_ASSIGN(auto lock, StoreLock::acquire(dir_, true));
  std::vector<std::string> names = img.names;
  names.push_back(norm);
  // Re-resolve under the lock: the image must still be there.
  BERTH_ASSIGN(auto entries, detail::readIndex(dir_));
  if (std::none_of(entries.begin(), entries.end(),
                   [&](auto& e) { return e.manifestDigest == img.manifestDigest; }))
    return fail(ErrorCode::kNotFound, "image " + src + ": removed meanwhile");
  BERTH_TRY(detail::addManifestLocked(*this, img.manifestDigest, {norm}));
  return {};
}

Result<RemoveReport> Store::remove(const std::string& ref, bool force) {
  BERTH_ASSIGN(Image img, resolve(ref));
  RemoveReport rep;
  {
    BERTH_ASSIGN(auto lock, StoreLock::acquire(dir_, true));
    BERTH_ASSIGN(auto entries, detail::readIndex(dir_));
    BERTH_ASSIGN(auto leases, readLeases(dir_));
    auto leased = leasedDigests(leases);
    std::vector<std::string> names;
    for (auto& e : entries)
      if (e.manifestDigest == img.manifestDigest && !e.name.empty()) names.push_back(e.name);
    auto norm = normalizeName(ref);
    bool byName = norm && std::find(names.begin(), names.end(), *norm) != names.end();
    bool inUse = leased.count(img.id) || leased.count(img.manifestDigest);
    if (byName && names.size() > 1) {
      // Just this name.
      entries.erase(std::remove_if(entries.begin(), entries.end(),
                                   [&](auto& e) { return e.name == *norm; }),
                    entries.end());
      rep.untagged.push_back(*norm);
    } else {
      if (!byName && names.size() > 1 && !force)
        return fail(ErrorCode::kFailedPrecondition,
                    "image " + ref + " is referenced by " + std::to_string(names.size()) +
                        " names (" + str::trim(names[0]).data() + ", ...): use -f or remove by name");
      if (inUse && !force)
        return fail(ErrorCode::kFailedPrecondition,
                    "image " + ref + " is in use by a container: stop and remove it, or use -f");
      rep.untagged = names;
      dropImage(entries, img.manifestDigest, inUse);
      if (!inUse) rep.deleted.push_back(img.id);
    }
    BERTH_TRY(detail::writeIndex(dir_, entries));
  }
  auto g = gc();
  if (!g) log::warn("rmi: garbage collection: " + g.error().message());
  return rep;
}

Result<RemoveReport> Store::prune(bool all) {
  RemoveReport rep;
  {
    BERTH_ASSIGN(auto lock, StoreLock::acquire(dir_, true));
    BERTH_ASSIGN(auto entries, detail::readIndex(dir_));
    BERTH_ASSIGN(auto leases, readLeases(dir_));
    auto leased = leasedDigests(leases);
    std::map<std::string, std::vector<std::string>> namesOf;
    std::map<std::string, std::string> idOf;
    std::set<std::string> parents;
    for (auto& e : entries)
      if (!e.parent.empty()) parents.insert(e.parent);
    std::set<std::string> intermediate;  // manifests other images sit on
    for (auto& e : entries) {
      idOf[e.manifestDigest] = e.id;
      if (!e.chain.empty() && parents.count(e.chain)) intermediate.insert(e.manifestDigest);
      auto& v = namesOf[e.manifestDigest];
      if (!e.name.empty()) v.push_back(e.name);
    }
    for (auto& [md, names] : namesOf) {
      if (!all && (!names.empty() || intermediate.count(md))) continue;
      IndexEntry probe;
      probe.id = idOf[md];
      probe.manifestDigest = md;
      if (isLeased(leased, probe)) continue;
      dropImage(entries, md, false);
      rep.untagged.insert(rep.untagged.end(), names.begin(), names.end());
      rep.deleted.push_back(idOf[md]);
    }
    BERTH_TRY(detail::writeIndex(dir_, entries));
  }
  BERTH_TRY(gc());
  return rep;
}

Result<GcReport> Store::gc() {
  BERTH_ASSIGN(auto lock, StoreLock::acquire(dir_, true));
  BERTH_ASSIGN(auto entries, detail::readIndex(dir_));
  BERTH_ASSIGN(auto leases, readLeases(dir_));
  std::set<std::string> keepBlobs = leasedDigests(leases);
  std::set<std::string> keepSnaps;
  for (auto& d : keepBlobs) keepSnaps.insert(detail::hexOf(d));
  addBuildCacheRefs(dir_, keepBlobs, keepSnaps);
  std::set<std::string> seen;
  for (auto& e : entries) {
    if (!seen.insert(e.manifestDigest).second) continue;
    keepBlobs.insert(e.manifestDigest);
    auto img = detail::loadImage(*this, e.manifestDigest);
    if (!img) {
      // Keep what we can't read rather than delete blind; report it.
      log::warn("gc: image " + e.manifestDigest + ": " + img.error().message());
      return fail(img.error().context("gc"));
    }
    keepBlobs.insert(img->id);
    for (auto& l : img->layers) keepBlobs.insert(l.digest);
    for (auto& d : img->config.rootfs.diffIds) keepSnaps.insert(detail::hexOf(d));
  }
  GcReport rep;
  std::string blobDir = dir_ + "/blobs/sha256";
  BERTH_ASSIGN(auto blobs, fs::listDir(blobDir));
  for (auto& b : blobs) {
    if (keepBlobs.count("sha256:" + b)) continue;
    struct stat st;
    if (::lstat((blobDir + "/" + b).c_str(), &st) == 0) rep.bytesFreed += st.st_size;
    if (::unlink((blobDir + "/" + b).c_str()) == 0) ++rep.blobsRemoved;
  }
  std::string snapDir = dir_ + "/snapshots";
  BERTH_ASSIGN(auto snaps, fs::listDir(snapDir));
  for (auto& s : snaps) {
    if (keepSnaps.count(s)) continue;
    if (fs::removeAll(snapDir + "/" + s)) ++rep.snapshotsRemoved;
  }
  // Temp dirs whose creator is gone (their flock is free).
  std::string tmpDir = dir_ + "/tmp";
  BERTH_ASSIGN(auto tmps, fs::listDir(tmpDir));
  for (auto& t : tmps) {
    std::string p = tmpDir + "/" + t;
    UniqueFd fd(::open(p.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW));
    if (fd && ::flock(fd.get(), LOCK_EX | LOCK_NB) < 0) continue;  // in use
    (void)fs::removeAll(p);
  }
  return rep;
}

Result<void> Store::setLease(const std::string& holder, const std::vector<std::string>& ids) {
  if (!validHolder(holder))
    return fail(ErrorCode::kInvalidArgument, "lease holder \"" + holder + "\" is not a valid name");
  nlohmann::json j = ids;
  BERTH_ASSIGN(auto lock, StoreLock::acquire(dir_, true));
  // Atomic (a kill -9 leaves the old state or the new, never a torn lease) but not fsynced: a
  // lease guards an image for an engine record, which itself is durable only up to the last
  // WAL checkpoint (synchronous=NORMAL); two fsyncs on every `run` bought nothing more.
  return fs::writeFileAtomic(dir_ + "/leases/" + holder, j.dump(), 0644, /*durable=*/false);
}

Result<void> Store::releaseLease(const std::string& holder) {
  if (!validHolder(holder))
    return fail(ErrorCode::kInvalidArgument, "lease holder \"" + holder + "\" is not a valid name");
  BERTH_ASSIGN(auto lock, StoreLock::acquire(dir_, true));
  if (::unlink((dir_ + "/leases/" + holder).c_str()) < 0 && errno != ENOENT)
    return failErrno("release lease " + holder);
  return {};
}

Result<std::map<std::string, std::vector<std::string>>> Store::leases() {
  BERTH_ASSIGN(auto lock, StoreLock::acquire(dir_, false));
  return readLeases(dir_);
}

}  // namespace berth::image
