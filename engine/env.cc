// The container's environment on the host: netns + CNI attachments, the overlay rootfs, and
// the hosts/resolv.conf/hostname files; their setup, teardown and deletion. All steps are
// idempotent so a crashed start or rm can simply be run again.
#include <signal.h>
#include <unistd.h>

#include <set>

#include "common/fs.h"
#include "common/log.h"
#include "common/strings.h"
#include "engine/engine.h"
#include "engine/volume_fill.h"
#include "image/overlay.h"
#include "image/store.h"
#include "network/hosts.h"
#include "network/netns.h"
#include "runtime/runtime.h"

namespace berth::engine {
namespace {

bool isCniNetwork(const std::string& n) { return n != "host" && n != "none"; }

Result<std::vector<network::PortMapping>> resolvePorts(const Record& r,
                                                       const std::vector<Record>& all) {
  std::vector<network::PortMapping> out;
  for (auto p : r.config.ports) {
    if (p.hostPort == 0) {
      BERTH_ASSIGN(p.hostPort, network::pickFreePort(p.protocol, p.hostIp));
    } else {
      for (auto& o : all) {
        if (o.id == r.id) continue;
        for (auto& q : o.ports)
          if (q.hostPort == p.hostPort && q.protocol == p.protocol &&
              (q.hostIp.empty() || p.hostIp.empty() || q.hostIp == p.hostIp))
            return fail(ErrorCode::kAlreadyExists,
                        "port " + std::to_string(p.hostPort) + "/" + p.protocol +
                            " is already allocated by container " + o.name);
      }
      BERTH_TRY(network::checkPortFree(p));
    }
    out.push_back(p);
  }
  return out;
}

}  // namespace

Result<void> Engine::setupRuntimeEnv(Record& r) {
  const auto& c = r.config;
  std::string dir = paths_.containerDir(r.id);
  std::string nsPath = paths_.netns(r.id);
  if (c.network != "host") {
    if (fs::exists(nsPath)) BERTH_TRY(network::removeNetns(nsPath));
    BERTH_TRY(network::createNetns(nsPath));
  }
  if (isCniNetwork(c.network)) {
    BERTH_ASSIGN(auto all, store_->list());
    BERTH_ASSIGN(auto ports, resolvePorts(r, all));
    BERTH_ASSIGN(auto net, nets_->get(c.network));
    // Record the intent before ADD: a crash in between still leads rm to DEL.
    network::Attachment intent;
    intent.network = net.name;
    intent.ifname = "eth0";
    intent.aliases = c.networkAliases;
    BERTH_ASSIGN(r, store_->modify(r.id, [&](Record& x) -> Result<void> {
      x.networks = {intent};
      x.ports = ports;
      return {};
    }));
    BERTH_ASSIGN(auto a, nets_->attach(net, r.id, nsPath, "eth0", ports));
    a.aliases = c.networkAliases;
    BERTH_ASSIGN(r, store_->modify(r.id, [&](Record& x) -> Result<void> {
      x.networks = {a};
      return {};
    }));
  }
  // Rootfs: overlay of the image's snapshots plus this container's upper dir.
  std::string rootfs = paths_.rootfs(r.id);
  BERTH_TRY(fs::mkdirs(paths_.upper(r.id), 0755));
  BERTH_TRY(fs::mkdirs(paths_.work(r.id), 0700));
  BERTH_TRY(fs::mkdirs(rootfs, 0755));
  (void)image::unmount(rootfs);  // left over from a crash
  BERTH_ASSIGN(auto lowerText, fs::readFile(dir + "/lowers"));
  std::vector<std::string> lowers;
  for (auto& l : str::split(lowerText, '\n'))
    if (!l.empty()) lowers.push_back(l);
  BERTH_TRY_CTX(image::mountOverlay(lowers, paths_.upper(r.id), paths_.work(r.id), rootfs),
                "mount rootfs");
  std::string hostname = c.hostname.empty() ? r.shortId() : c.hostname;
  BERTH_TRY(network::rewriteInPlace(paths_.hostname(r.id), hostname + "\n"));
  auto hostResolv = fs::readFile("/etc/resolv.conf");
  BERTH_TRY(network::rewriteInPlace(paths_.resolv(r.id),
                                    network::renderResolvConf(hostResolv.value_or(""))));
  if (!fs::exists(paths_.hosts(r.id)))
    BERTH_TRY(network::rewriteInPlace(paths_.hosts(r.id), network::renderHosts({}, {})));
  for (auto& m : c.mounts)
    if (m.type == "volume") {
      BERTH_TRY(ensureVolume(m.source, false));
      // An empty volume takes what the image has at its mount point (Docker's rule).
      if (!m.noCopy)
        BERTH_TRY_CTX(fillVolume(rootfs, m.destination, paths_.volumeData(m.source)),
                      "fill volume " + m.source + " from " + m.destination);
    }
  // This container's /etc/hosts, and its name in the hosts files of its network peers.
  if (!r.networks.empty()) refreshHosts();
  return {};
}

void Engine::refreshHosts(const std::string& exceptId) {
  auto all = store_->list();
  if (!all) return;
  // network name -> (ip, names) of every container with an address on it.
  std::map<std::string, std::vector<network::HostEntry>> byNet;
  for (auto& x : *all) {
    if (x.state == State::kExited || x.state == State::kDead || x.id == exceptId) continue;
    for (auto& a : x.networks) {
      if (a.ip.empty()) continue;
      std::vector<std::string> names = {x.name};
      for (auto& al : a.aliases) names.push_back(al);
      if (!x.config.hostname.empty() && x.config.hostname != x.name)
        names.push_back(x.config.hostname);
      byNet[a.network].push_back({a.ip, names});
    }
  }
  for (auto& x : *all) {
    if (x.state == State::kExited || x.state == State::kDead || x.id == exceptId) continue;
    if (!fs::exists(paths_.hosts(x.id))) continue;
    std::vector<network::HostEntry> self, peers;
    std::set<std::string> selfIps;
    std::string hostname = x.config.hostname.empty() ? x.shortId() : x.config.hostname;
    for (auto& a : x.networks) {
      if (a.ip.empty()) continue;
      self.push_back({a.ip, {hostname, x.name}});
      selfIps.insert(a.ip);
    }
    if (x.networks.empty()) self.push_back({"127.0.1.1", {hostname}});
    for (auto& a : x.networks)
      for (auto& e : byNet[a.network])
        if (!selfIps.count(e.ip)) peers.push_back(e);
    // Only the default bridge keeps names private (Docker's rule); user networks resolve.
    if (x.networks.size() == 1 && x.networks[0].network == network::kDefaultNetwork)
      peers.clear();
    (void)network::rewriteInPlace(paths_.hosts(x.id), network::renderHosts(self, peers));
  }
}

Result<void> Engine::teardownRuntimeEnv(Record& r) {
  Result<void> first;
  auto keep = [&](Result<void> res) {
    if (!res && first) first = fail(std::move(res.error()));
  };
  if (auto rm = runtime().remove(r.id, true); !rm && !rm.error().is(ErrorCode::kNotFound) &&
                                               !rm.error().is(ENOENT))
    log::warn("runtime remove " + r.id + ": " + rm.error().message());
  std::string rootfs = paths_.rootfs(r.id);
  if (auto u = image::unmount(rootfs); !u && !u.error().is(EINVAL) && !u.error().is(ENOENT))
    keep(fail(std::move(u.error()).context("unmount rootfs")));
  std::string nsPath = paths_.netns(r.id);
  for (auto& a : r.networks) {
    auto net = nets_->get(a.network);
    if (!net) continue;  // the network is gone; its leases went with it
    keep(nets_->detach(*net, r.id, nsPath, a, r.ports));
  }
  keep(network::removeNetns(nsPath));
  if (!r.networks.empty() || !r.ports.empty()) {
    auto m = store_->modify(r.id, [](Record& x) -> Result<void> {
      x.networks.clear();
      x.ports.clear();
      return {};
    });
    if (m) r = *m;
    refreshHosts(r.id);
  }
  return first;
}

Result<void> Engine::deleteContainer(const Record& r, bool volumes) {
  (void)image::unmount(paths_.rootfs(r.id));
  BERTH_TRY(fs::removeAll(paths_.containerDir(r.id)));
  if (auto images = image::Store::open(paths_.root); images)
    (void)images->releaseLease("container-" + r.id);
  if (volumes || r.config.autoRemove) {
    for (auto& m : r.config.mounts) {
      if (m.type != "volume") continue;
      auto v = store_->getVolume(m.source);
      if (v && v->anonymous) {
        (void)fs::removeAll(paths_.volumeDir(m.source));
        (void)store_->removeVolume(m.source);
      }
    }
  }
  return store_->remove(r.id);
}

}  // namespace berth::engine
