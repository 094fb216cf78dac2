// Volumes, networks as the engine sees them (who uses what), and system prune.
#include <set>

#include "common/fs.h"
#include "common/strings.h"
#include "engine/engine.h"
#include "image/store.h"
#include "network/netns.h"

namespace berth::engine {

Result<VolumeRecord> Engine::volumeCreate(const std::string& name,
                                          const std::map<std::string, std::string>& labels) {
  std::string n = name.empty() ? str::randomHex(32) : name;
  if (!validVolumeName(n))
    return fail(ErrorCode::kInvalidArgument, "invalid volume name \"" + n + "\"");
  VolumeRecord v{n, "local", nowNs(), labels, false};
  if (auto existing = store_->getVolume(n); existing) return *existing;  // Docker: idempotent
  BERTH_TRY(fs::mkdirs(paths_.volumeData(n), 0755));
  BERTH_TRY(store_->insertVolume(v));
  return v;
}

Result<void> Engine::volumeRemove(const std::string& name, bool force) {
  BERTH_TRY(store_->getVolume(name));
  BERTH_ASSIGN(auto all, store_->list());
  for (auto& r : all)
    for (auto& m : r.config.mounts)
      if (m.type == "volume" && m.source == name && !force)
        return fail(ErrorCode::kFailedPrecondition,
                    "volume " + name + " is in use by container " + r.shortId());
  BERTH_TRY(fs::removeAll(paths_.volumeDir(name)));
  return store_->removeVolume(name);
}

Result<std::vector<std::string>> Engine::unusedVolumes() {
  BERTH_ASSIGN(auto all, store_->list());
  std::set<std::string> used;
  for (auto& r : all)
    for (auto& m : r.config.mounts)
      if (m.type == "volume") used.insert(m.source);
  BERTH_ASSIGN(auto vols, store_->listVolumes());
  std::vector<std::string> out;
  for (auto& v : vols)
    if (!used.count(v.name)) out.push_back(v.name);
  return out;
}

Result<network::NetworkInfo> Engine::networkCreate(const std::string& name,
                                                   const std::string& subnet, bool internal,
                                                   const std::map<std::string, std::string>& labels) {
  return nets_->create(name, subnet, internal, labels);
}

Result<std::vector<std::string>> Engine::networkUsers(const std::string& net) {
  BERTH_ASSIGN(auto all, store_->list());
  std::vector<std::string> out;
  for (auto& r : all) {
    bool uses = r.config.network == net;
    for (auto& a : r.networks) uses = uses || a.network == net;
    if (uses) out.push_back(r.id);
  }
  return out;
}

Result<void> Engine::networkRemove(const std::string& name) {
  BERTH_ASSIGN(auto n, nets_->get(name));
  BERTH_ASSIGN(auto users, networkUsers(n.name));
  if (!users.empty())
    return fail(ErrorCode::kFailedPrecondition,
                "network " + n.name + " has " + std::to_string(users.size()) +
                    " container(s) using it (first: " + users[0].substr(0, 12) + ")");
  return nets_->remove(n.name);
}

Result<void> Engine::networkConnect(const std::string& netName, const std::string& ref,
                                    const std::vector<std::string>& aliases) {
  BERTH_ASSIGN(auto net, nets_->get(netName));
  BERTH_ASSIGN(Record r, get(ref));
  if (r.config.network == "host" || r.config.network == "none")
    return fail(ErrorCode::kFailedPrecondition,
                "container " + ref + " uses network " + r.config.network);
  for (auto& a : r.networks)
    if (a.network == net.name)
      return fail(ErrorCode::kAlreadyExists, "container " + ref + " is already on " + net.name);
  if (!r.lifecycle().isActive())
    return fail(ErrorCode::kFailedPrecondition,
                "container " + ref + " is not running (connect works on running containers)");
  std::string ifname = "eth" + std::to_string(r.networks.size());
  BERTH_ASSIGN(auto a, nets_->attach(net, r.id, paths_.netns(r.id), ifname, {}));
  a.aliases = aliases;
  BERTH_TRY(store_->modify(r.id, [&](Record& x) -> Result<void> {
    x.networks.push_back(a);
    return {};
  }));
  refreshHosts();
  return {};
}

Result<void> Engine::networkDisconnect(const std::string& netName, const std::string& ref) {
  BERTH_ASSIGN(auto net, nets_->get(netName));
  BERTH_ASSIGN(Record r, get(ref));
  std::optional<network::Attachment> found;
  for (auto& a : r.networks)
    if (a.network == net.name) found = a;
  if (!found)
    return fail(ErrorCode::kNotFound, "container " + ref + " is not connected to " + net.name);
  BERTH_TRY(nets_->detach(net, r.id, paths_.netns(r.id), *found,
                          found->ifname == "eth0" ? r.ports : std::vector<network::PortMapping>{}));
  BERTH_TRY(store_->modify(r.id, [&](Record& x) -> Result<void> {
    std::vector<network::Attachment> keep;
    for (auto& a : x.networks)
      if (a.network != net.name) keep.push_back(a);
    x.networks = keep;
    return {};
  }));
  refreshHosts();
  return {};
}

Result<PruneReport> Engine::systemPrune(bool all, bool volumes) {
  PruneReport rep;
  BERTH_ASSIGN(auto recs, list());
  for (auto& r : recs) {
    if (r.state == State::kExited || r.state == State::kCreated || r.state == State::kDead) {
      if (auto x = remove(r.id, false, false); x) rep.containers.push_back(r.id);
    }
  }
  BERTH_ASSIGN(auto nets, nets_->list());
  for (auto& n : nets) {
    if (n.name == network::kDefaultNetwork) continue;
    auto users = networkUsers(n.name);
    if (users && users->empty() && nets_->remove(n.name)) rep.networks.push_back(n.name);
  }
  if (volumes) {
    BERTH_ASSIGN(auto unused, unusedVolumes());
    for (auto& v : unused)
      if (volumeRemove(v, false)) rep.volumes.push_back(v);
  }
  BERTH_ASSIGN(auto images, image::Store::open(paths_.root));
  BERTH_ASSIGN(auto ir, images.prune(all));
  rep.images = ir.deleted;
  return rep;
}

}  // namespace berth::engine
