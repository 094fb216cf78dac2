#include "builder/cache.h"

#include <unistd.h>

#include <nlohmann/json.hpp>

#include "common/digest.h"
#include "common/fs.h"
#include "common/strings.h"

namespace berth::build {

std::string stepKey(std::string_view parent, std::string_view instruction, std::string_view vars,
                    std::string_view sources) {
  // Length-prefix every part so no two different tuples hash the same text.
  std::string buf = "berth-build-cache-v1\n";
  for (std::string_view part : {parent, instruction, vars, sources}) {
    buf += std::to_string(part.size());
    buf += ':';
    buf += part;
    buf += '\n';
  }
  return sha256Digest(buf);
}

Result<BuildCache> BuildCache::open(const std::string& storeRoot) {
  std::string dir = fs::join(storeRoot, "build-cache");
  BERTH_TRY_CTX(fs::mkdirs(dir, 0700), "build cache");
  return BuildCache(dir);
}

std::string BuildCache::pathFor(const std::string& key) const {
  std::string hex = str::startsWith(key, "sha256:") ? key.substr(7) : key;
  return fs::join(dir_, hex + ".json");
}

std::optional<CacheEntry> BuildCache::get(const std::string& key) const {
  if (!isValidDigest(key)) return std::nullopt;
  auto text = fs::readFile(pathFor(key));
  if (!text) return std::nullopt;
  auto j = nlohmann::json::parse(*text, nullptr, false);
  if (j.is_discarded() || !j.is_object()) return std::nullopt;
  CacheEntry e;
  if (!j.contains("created") || !j["created"].is_string()) return std::nullopt;
  e.created = j["created"].get<std::string>();
  if (j.contains("layer") && j["layer"].is_object()) {
    e.layerDescriptor = j["layer"].dump();
    if (!j.contains("diffId") || !j["diffId"].is_string()) return std::nullopt;
    e.diffId = j["diffId"].get<std::string>();
  }
  return e;
}

Result<void> BuildCache::put(const std::string& key, const CacheEntry& e) const {
  if (!isValidDigest(key)) return fail(ErrorCode::kInternal, "bad cache key " + key);
  nlohmann::json j;
  j["created"] = e.created;
  if (!e.layerDescriptor.empty()) {
    auto d = nlohmann::json::parse(e.layerDescriptor, nullptr, false);
    if (d.is_discarded()) return fail(ErrorCode::kInternal, "bad layer descriptor in cache");
    j["layer"] = d;
    j["diffId"] = e.diffId;
  }
  return fs::writeFileAtomic(pathFor(key), j.dump(), 0600);
}

void BuildCache::drop(const std::string& key) const {
  if (isValidDigest(key)) ::unlink(pathFor(key).c_str());
}

}  // namespace berth::build
