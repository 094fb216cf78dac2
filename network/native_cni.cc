// In-process CNI plugins: bridge (+ host-local), host-local, portmap, firewall. See cni.h.
// They follow the behaviour of containernetworking-plugins 1.1 as seen from outside (config
// keys, result shape, lease files, interface names); the firewall side differs on purpose:
// rules per network instead of per container, and one iptables-restore per published ADD/DEL.

#include <fcntl.h>
#include <net/if.h>
#include <sys/file.h>
#include <unistd.h>

#include <cstdlib>
#include <functional>
#include <nlohmann/json.hpp>

#include "common/fs.h"
#include "common/strings.h"
#include "common/unique_fd.h"
#include "network/cni.h"
#include "network/host_local.h"
#include "network/iptables.h"
#include "network/netlink.h"
#include "network/subnet.h"

namespace berth::network {
namespace {

using nlohmann::json;

constexpr const char* kRulesLock = "/run/berth-iptables.lock";

struct Call {  // NOLINT(bugprone-exception-escape): json members, built once per call
  std::string command, containerId, netns, ifname;
  json conf;
};

// Writes "1" to a /proc/sys knob unless it already holds it.
Result<void> sysctlOn(const std::string& path) {
  auto cur = fs::readFile(path);
  if (cur && str::trim(*cur) == "1") {
    return {};
  }
  UniqueFd f(::open(path.c_str(), O_WRONLY | O_CLOEXEC));
  if (!f || ::write(f.get(), "1", 1) != 1) {
    return failErrno("write " + path);
  }
  return {};
}

Result<void> ignoring(Result<void> r, int errnum) {
  if (!r && r.error().is(errnum)) {
    return {};
  }
  return r;
}

std::string prefixOf(uint32_t ip, int prefix) {
  uint32_t mask = prefix == 0 ? 0 : ~uint32_t{0} << (32 - prefix);
  return nl::formatIp4(ip & mask) + "/" + std::to_string(prefix);
}

// From a bridge result: the host bridge (first interface outside any sandbox), the container's
// first address, and its subnet.
struct PrevInfo {
  std::string bridge, hostVeth, ip, subnet;
};
PrevInfo prevInfo(const json& prev) {
  PrevInfo p;
  if (!prev.is_object()) {
    return p;
  }
  if (prev.contains("interfaces") && prev["interfaces"].is_array()) {
    for (auto& i : prev["interfaces"]) {
      if (i.contains("sandbox") && !i.value("sandbox", std::string()).empty()) {
        continue;
      }
      std::string n = i.value("name", std::string());
      if (p.bridge.empty()) {
        p.bridge = n;
      } else if (p.hostVeth.empty()) {
        p.hostVeth = n;
      }
    }
  }
  if (prev.contains("ips") && prev["ips"].is_array() && !prev["ips"].empty()) {
    std::string a = prev["ips"][0].value("address", std::string());
    auto [ip, len] = str::splitOnce(a, '/');
    auto v = nl::parseIp4(ip);
    auto l = len ? str::parseU64(*len) : std::nullopt;
    if (v && l && *l <= 32) {
      p.ip = ip;
      p.subnet = prefixOf(*v, static_cast<int>(*l));
    }
  }
  return p;
}

class NativePluginExec : public PluginExec {
 public:
  NativePluginExec(std::string stateDir, std::unique_ptr<PluginExec> fallback,
                   std::unique_ptr<IptablesRunner> ipt)
      : stateDir_(std::move(stateDir)), fallback_(std::move(fallback)), ipt_(std::move(ipt)) {
    if (!ipt_) {
      ipt_ = makeIptablesRunner();
    }
    if (!fallback_) {
      fallback_ = makeRealPluginExec();
    }
  }

  Result<std::string> run(const std::string& plugin, const std::map<std::string, std::string>& env,
                          const std::string& stdinData) override {
    Call c;
    auto get = [&](const char* k) {
      auto it = env.find(k);
      return it == env.end() ? std::string() : it->second;
    };
    c.command = get("CNI_COMMAND");
    c.containerId = get("CNI_CONTAINERID");
    c.netns = get("CNI_NETNS");
    c.ifname = get("CNI_IFNAME");
    c.conf = json::parse(stdinData, nullptr, false);
    if (!c.conf.is_object() || !handles(plugin, c)) {
      return fallback_->run(plugin, env, stdinData);
    }
    Result<std::string> r;
    if (plugin == "bridge") {
      r = c.command == "ADD" ? bridgeAdd(c) : bridgeDel(c);
    } else if (plugin == "host-local") {
      r = c.command == "ADD" ? ipamAdd(c) : ipamDel(c);
    } else if (plugin == "portmap") {
      r = c.command == "ADD" ? portmapAdd(c) : portmapDel(c);
    } else {
      r = c.command == "ADD" ? firewallAdd(c) : prev(c);
    }
    if (!r) {
      return fail(
          std::move(r.error()).context("CNI plugin " + plugin + " " + c.command + " failed"));
    }
    return r;
  }

 private:
  // What runs in-process; anything else (CHECK, VERSION, unknown options) goes to the binary.
  static bool handles(const std::string& plugin, const Call& c) {
    if (c.command != "ADD" && c.command != "DEL") {
      return false;
    }
    if (c.containerId.empty() || c.ifname.empty()) {
      return false;
    }
    const json& k = c.conf;
    if (plugin == "bridge") {
      if (!k.contains("ipam") || !k["ipam"].is_object() ||
          k["ipam"].value("type", std::string()) != "host-local") {
        return false;
      }
      for (const char* unsupported : {"vlan", "isDefaultGateway", "forceAddress", "promiscMode",
                                      "macspoofchk", "mtu", "enabledad", "vlanTrunk"}) {
        if (k.contains(unsupported) && !k[unsupported].is_null() && k[unsupported] != false) {
          return false;
        }
      }
      return true;
    }
    if (plugin == "host-local") {
      return k.contains("ipam") && k["ipam"].is_object();
    }
    if (plugin == "portmap") {
      // Only the snat form berth writes; markMasqBit/externalSetMarkChain etc. go to exec.
      return k.value("snat", true) && !k.contains("externalSetMarkChain") &&
             !k.contains("conditionsV4");
    }
    if (plugin == "firewall") {
      return k.value("backend", std::string("iptables")) == "iptables";
    }
    return false;
  }

  static Result<std::string> prev(const Call& c) {
    if (c.conf.contains("prevResult")) {
      return c.conf["prevResult"].dump();
    }
    return json{{"cniVersion", c.conf.value("cniVersion", std::string("1.0.0"))}}.dump();
  }

  static std::string dataDir(const Call& c) {
    return c.conf["ipam"].value("dataDir", std::string("/var/lib/cni/networks")) + "/" +
           c.conf.value("name", std::string());
  }

  // host-local as a plugin of its own: {ips, routes, dns}.
  Result<std::string> ipamAdd(const Call& c) {
    BERTH_ASSIGN(auto ranges, parseRanges(c.conf["ipam"]));
    LeaseStore store(dataDir(c));
    BERTH_ASSIGN(Lease l, store.allocate(ranges, c.containerId, c.ifname));
    return ipamResult(c, l).dump();
  }
  Result<std::string> ipamDel(const Call& c) {
    BERTH_TRY(LeaseStore(dataDir(c)).release(c.containerId, c.ifname));
    return std::string();
  }
  static json ipamResult(const Call& c, const Lease& l) {
    json ip = {{"address", nl::formatIp4(l.ip) + "/" + std::to_string(l.range->prefix)},
               {"gateway", nl::formatIp4(l.range->gateway)}};
    json routes = json::array();
    if (c.conf["ipam"].contains("routes") && c.conf["ipam"]["routes"].is_array()) {
      routes = c.conf["ipam"]["routes"];
    }
    json dns = c.conf["ipam"].contains("dns") ? c.conf["ipam"]["dns"] : json::object();
    return {{"cniVersion", c.conf.value("cniVersion", std::string("1.0.0"))},
            {"ips", json::array({ip})},
            {"routes", routes},
            {"dns", dns}};
  }

  // Ensures the bridge exists, has the gateway address and is up; returns its index.
  static Result<nl::Link> ensureBridge(nl::Socket& host, const std::string& br, bool isGateway,
                                       uint32_t gw, int prefix) {
    auto l = nl::getLink(host, br);
    if (!l && l.error().is(ENODEV)) {
      auto m = nl::newBridgeMsg(br);
      BERTH_TRY(ignoring(host.call(m, "create bridge " + br), EEXIST));
      l = nl::getLink(host, br);
    }
    if (!l) {
      return fail(std::move(l.error()));
    }
    if (!l->kind.empty() && l->kind != "bridge") {
      return fail(ErrorCode::kFailedPrecondition, br + " already exists and is not a bridge");
    }
    if (isGateway) {
      auto m = nl::addAddr4Msg(l->index, gw, prefix);
      BERTH_TRY(ignoring(host.call(m, "add address to " + br), EEXIST));
    }
    if (!(l->flags & IFF_UP)) {
      auto m = nl::setUpMsg(l->index);
      BERTH_TRY(host.call(m, "set " + br + " up"));
    }
    return l;
  }

  Result<std::string> bridgeAdd(const Call& c) {
    const json& k = c.conf;
    std::string br = k.value("bridge", std::string("cni0"));
    if (br.empty() || br.size() >= IFNAMSIZ) {
      return fail(ErrorCode::kInvalidArgument, "bad bridge name \"" + br + "\"");
    }
    if (c.netns.empty()) {
      return fail(ErrorCode::kInvalidArgument, "CNI_NETNS is empty");
    }
    bool isGateway = k.value("isGateway", false);
    BERTH_ASSIGN(auto ranges, parseRanges(k["ipam"]));
    LeaseStore store(dataDir(c));
    BERTH_ASSIGN(Lease lease, store.allocate(ranges, c.containerId, c.ifname));
    int prefix = lease.range->prefix;
    uint32_t gw = lease.range->gateway;
    // Everything below is undone on failure: the lease, and the veth (deleting one end of a
    // veth pair deletes both).
    std::string hostVeth;
    bool done = false;
    struct Undo {
      std::function<void()> f;
      ~Undo() { f(); }
    } undo{[&] {
      if (done) {
        return;
      }
      if (!hostVeth.empty()) {
        if (auto h = nl::Socket::open(); h) {
          auto m = nl::delLinkMsg(hostVeth);
          (void)h->call(m, "delete " + hostVeth);
        }
      }
      (void)store.release(c.containerId, c.ifname);
    }};

    BERTH_ASSIGN(nl::Socket host, nl::Socket::open());
    BERTH_ASSIGN(nl::Link bridge, ensureBridge(host, br, isGateway, gw, prefix));
    UniqueFd nsFd(::open(c.netns.c_str(), O_RDONLY | O_CLOEXEC));
    if (!nsFd) {
      return failErrno("open netns " + c.netns);
    }
    BERTH_ASSIGN(nl::Socket ns, nl::Socket::openIn(c.netns));
    if (auto existing = nl::getLink(ns, c.ifname); existing) {
      return fail(ErrorCode::kAlreadyExists,
                  "container veth name provided (" + c.ifname + ") already exists");
    }
    for (int attempt = 0;; ++attempt) {
      std::string name = "veth" + str::randomHex(4);
      auto m = nl::newVethMsg(name, c.ifname, nsFd.get(), bridge.index);
      auto r = host.call(m, "create veth " + name);
      if (r) {
        hostVeth = name;
        break;
      }
      if (!r.error().is(EEXIST) || attempt >= 8) {
        return fail(std::move(r.error()));
      }
    }
    BERTH_ASSIGN(nl::Link hv, nl::getLink(host, hostVeth));
    if (k.value("hairpinMode", false)) {
      auto m = nl::setHairpinMsg(hv.index);
      BERTH_TRY(host.call(m, "hairpin on " + hostVeth));
    }
    {
      auto m = nl::setUpMsg(hv.index);
      BERTH_TRY(host.call(m, "set " + hostVeth + " up"));
    }
    // Inside the container's netns: address, up, lo up, routes.
    BERTH_ASSIGN(nl::Link cv, nl::getLink(ns, c.ifname));
    {
      auto m = nl::addAddr4Msg(cv.index, lease.ip, prefix);
      BERTH_TRY(ignoring(ns.call(m, "add address to " + c.ifname), EEXIST));
      auto up = nl::setUpMsg(cv.index);
      BERTH_TRY(ns.call(up, "set " + c.ifname + " up"));
      auto lo = nl::getLink(ns, "lo");
      if (lo && !(lo->flags & IFF_UP)) {
        auto loUp = nl::setUpMsg(lo->index);
        BERTH_TRY(ns.call(loUp, "set lo up"));
      }
    }
    if (k["ipam"].contains("routes") && k["ipam"]["routes"].is_array()) {
      for (auto& rt : k["ipam"]["routes"]) {
        std::string dst = rt.value("dst", std::string());
        BERTH_ASSIGN(Subnet d, parseSubnet(dst));
        uint32_t via = gw;
        if (std::string g = rt.value("gw", std::string()); !g.empty()) {
          auto v = nl::parseIp4(g);
          if (!v) {
            return fail(ErrorCode::kInvalidArgument, "bad route gateway \"" + g + "\"");
          }
          via = *v;
        }
        auto m = nl::addRoute4Msg(d.addr, d.prefix, via, cv.index);
        BERTH_TRY(ignoring(ns.call(m, "add route " + dst), EEXIST));
      }
    }
    if (isGateway) {
      BERTH_TRY(sysctlOn("/proc/sys/net/ipv4/ip_forward"));
    }
    if (k.value("ipMasq", false)) {
      BERTH_TRY(ensureNetworkRules("masq", br, prefixOf(lease.ip, prefix),
                                   masqRules(br, prefixOf(lease.ip, prefix))));
    }
    // The bridge's address may change when its first port joins: read it back last.
    auto brNow = nl::getLink(host, br);
    json res = ipamResult(c, lease);
    res["ips"][0]["interface"] = 2;
    res["interfaces"] = json::array({{{"name", br}, {"mac", brNow ? brNow->mac : bridge.mac}},
                                     {{"name", hostVeth}, {"mac", hv.mac}},
                                     {{"name", c.ifname}, {"mac", cv.mac}, {"sandbox", c.netns}}});
    done = true;
    return res.dump();
  }

  Result<std::string> bridgeDel(const Call& c) {
    Result<void> first = LeaseStore(dataDir(c)).release(c.containerId, c.ifname);
    bool deleted = false;
    if (!c.netns.empty()) {
      // A netns file that is gone or no longer a namespace (unmounted) is fine: its veth went
      // with it, or the host side is deleted below.
      if (auto ns = nl::Socket::openIn(c.netns); ns) {
        auto m = nl::delLinkMsg(c.ifname);
        auto r = ignoring(ns->call(m, "delete " + c.ifname), ENODEV);
        if (!r && first) {
          first = fail(std::move(r.error()));
        }
        deleted = true;
      }
    }
    PrevInfo p = prevInfo(c.conf.value("prevResult", json()));
    if (!deleted && !p.hostVeth.empty()) {
      BERTH_ASSIGN(nl::Socket host, nl::Socket::open());
      auto m = nl::delLinkMsg(p.hostVeth);
      auto r = ignoring(host.call(m, "delete " + p.hostVeth), ENODEV);
      if (!r && first) {
        first = fail(std::move(r.error()));
      }
    }
    if (!first) {
      return fail(std::move(first.error()));
    }
    return std::string();
  }

  static std::vector<PortMapping> mappings(const Call& c) {
    std::vector<PortMapping> out;
    if (!c.conf.contains("runtimeConfig")) {
      return out;
    }
    const json& rc = c.conf["runtimeConfig"];
    if (!rc.contains("portMappings") || !rc["portMappings"].is_array()) {
      return out;
    }
    for (auto& m : rc["portMappings"]) {
      PortMapping p;
      p.hostPort = m.value("hostPort", uint16_t{0});
      p.containerPort = m.value("containerPort", uint16_t{0});
      p.protocol = m.value("protocol", std::string("tcp"));
      p.hostIp = m.value("hostIP", std::string());
      if (p.hostIp == "0.0.0.0") {
        p.hostIp.clear();
      }
      if (p.hostPort && p.containerPort) {
        out.push_back(p);
      }
    }
    return out;
  }

  Result<std::string> portmapAdd(const Call& c) {
    auto ports = mappings(c);
    if (ports.empty()) {
      return prev(c);
    }
    PrevInfo p = prevInfo(c.conf.value("prevResult", json()));
    if (p.ip.empty()) {
      return fail(ErrorCode::kInvalidArgument, "no container IP in prevResult");
    }
    // 127.0.0.1:HOSTPORT is DNATed out of the bridge: the kernel must route loopback sources.
    if (!p.bridge.empty()) {
      BERTH_TRY(sysctlOn("/proc/sys/net/ipv4/conf/" + p.bridge + "/route_localnet"));
    }
    BERTH_TRY(installRules(*ipt_, hostPortRules(c.containerId, c.ifname, p.ip, p.subnet, ports)));
    return prev(c);
  }

  Result<std::string> portmapDel(const Call& c) {
    PrevInfo p = prevInfo(c.conf.value("prevResult", json()));
    auto ports = mappings(c);
    RuleSet s = hostPortRules(c.containerId, c.ifname, p.ip.empty() ? "0.0.0.0" : p.ip,
                              p.subnet.empty() ? "0.0.0.0/0" : p.subnet, ports);
    if (p.ip.empty()) {
      // No ADD result (a crash between intent and result): find the chains by name.
      BERTH_ASSIGN(std::string saved, ipt_->save(s.table));
      std::string clean = cleanupScript(saved, s.table, s.chains);
      if (!clean.empty()) {
        BERTH_TRY(ipt_->restore(clean));
      }
    } else {
      BERTH_TRY(removeRules(*ipt_, s));
    }
    return std::string();
  }

  Result<std::string> firewallAdd(const Call& c) {
    PrevInfo p = prevInfo(c.conf.value("prevResult", json()));
    if (p.bridge.empty() || p.subnet.empty()) {
      return fail(ErrorCode::kInvalidArgument, "no bridge or address in prevResult");
    }
    BERTH_TRY(ensureNetworkRules("fwd", p.bridge, p.subnet, forwardRules(p.bridge, p.subnet)));
    return prev(c);
  }

  // Per-network rules: installed by the first container, under a host-wide lock; the marker
  // (holding the subnet) spares every later container the iptables execs.
  Result<void> ensureNetworkRules(const std::string& kind, const std::string& bridge,
                                  const std::string& subnet, const RuleSet& rules) {
    std::string marker = ruleMarker(stateDir_, bridge, kind);
    if (auto m = fs::readFile(marker); m && *m == subnet) {
      return {};
    }
    UniqueFd lock(::open(kRulesLock, O_RDWR | O_CREAT | O_CLOEXEC, 0600));
    if (lock) {
      ::flock(lock.get(), LOCK_EX);
    }
    if (auto m = fs::readFile(marker); m && *m == subnet) {
      return {};
    }
    BERTH_TRY(ensureRules(*ipt_, rules));
    BERTH_TRY(fs::mkdirs(stateDir_ + "/rules", 0700));
    return fs::writeFileAtomic(marker, subnet, 0600);
  }

  std::string stateDir_;
  std::unique_ptr<PluginExec> fallback_;
  std::unique_ptr<IptablesRunner> ipt_;
};

}  // namespace

std::unique_ptr<PluginExec> makeNativePluginExec(std::string stateDir,
                                                 std::unique_ptr<PluginExec> fallback,
                                                 std::unique_ptr<IptablesRunner> ipt) {
  return std::make_unique<NativePluginExec>(std::move(stateDir), std::move(fallback),
                                            std::move(ipt));
}

std::unique_ptr<PluginExec> makeDefaultPluginExec(const std::string& stateDir) {
  const char* e = std::getenv("BERTH_CNI_EXEC");
  if (e && std::string(e) == "1") {
    return makeRealPluginExec();
  }
  return makeNativePluginExec(stateDir, makeRealPluginExec());
}

}  // namespace berth::network
