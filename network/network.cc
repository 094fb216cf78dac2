#include "network/network.h"

#include <fcntl.h>
#include <linux/sockios.h>
#include <net/if.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cstdio>
#include <nlohmann/json.hpp>

#include "common/fs.h"
#include "common/strings.h"
#include "common/unique_fd.h"
#include "network/subnet.h"

namespace berth::network {
namespace {

using nlohmann::json;

constexpr const char* kRegistry = "/run/berth-netreg.json";
constexpr const char* kRegistryLock = "/run/berth-netreg.lock";

// Host-wide lock around the subnet/bridge registry (several roots may allocate at once).
class RegistryLock {
 public:
  RegistryLock() : fd_(::open(kRegistryLock, O_RDWR | O_CREAT | O_CLOEXEC, 0600)) {
    if (fd_) ::flock(fd_.get(), LOCK_EX);
  }

 private:
  UniqueFd fd_;
};

json readRegistry() {
  auto t = fs::readFile(kRegistry);
  if (!t) return json::array();
  auto j = json::parse(*t, nullptr, false);
  return j.is_array() ? j : json::array();
}

bool linkExists(const std::string& name) { return fs::exists("/sys/class/net/" + name); }

void deleteBridge(const std::string& name) {
  if (name.empty() || !linkExists(name)) return;
  UniqueFd s(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  if (!s) return;
  ifreq ifr{};
  std::snprintf(ifr.ifr_name, IFNAMSIZ, "%s", name.c_str());
  if (::ioctl(s.get(), SIOCGIFFLAGS, &ifr) == 0) {
    ifr.ifr_flags &= ~IFF_UP;
    ::ioctl(s.get(), SIOCSIFFLAGS, &ifr);
  }
  ::ioctl(s.get(), SIOCBRDELBR, name.c_str());
}

// Drops entries of roots that no longer exist (deleted temp roots), their bridges and the
// per-network rules of the in-process plugins.
json gcRegistry(json reg, IptablesRunner& ipt) {
  json keep = json::array();
  for (auto& e : reg) {
    if (fs::isDir(e.value("root", std::string()))) {
      keep.push_back(e);
    } else {
      std::string br = e.value("bridge", std::string());
      deleteBridge(br);
      if (!br.empty()) (void)removeNetworkRules(ipt, br);
    }
  }
  return keep;
}

}  // namespace

void to_json(nlohmann::json& j, const NetworkInfo& n) {
  j = nlohmann::json{{"Name", n.name},       {"Id", n.id},           {"Driver", n.driver},
           {"Bridge", n.bridge},   {"Subnet", n.subnet},   {"Gateway", n.gateway},
           {"Internal", n.internal}, {"Created", n.created}, {"Labels", n.labels}};
}
void from_json(const nlohmann::json& j, NetworkInfo& n) {
  n.name = j.value("Name", "");
  n.id = j.value("Id", "");
  n.driver = j.value("Driver", "bridge");
  n.bridge = j.value("Bridge", "");
  n.subnet = j.value("Subnet", "");
  n.gateway = j.value("Gateway", "");
  n.internal = j.value("Internal", false);
  n.created = j.value("Created", int64_t{0});
  n.labels = j.value("Labels", std::map<std::string, std::string>{});
}


std::string networkToJson(const NetworkInfo& n) {
  json j = n;
  return j.dump(2);
}

std::string attachmentToJson(const std::vector<Attachment>& as) {
  json arr = json::array();
  for (auto& a : as)
    arr.push_back({{"network", a.network}, {"ifname", a.ifname}, {"ip", a.ip}, {"mac", a.mac},
                   {"gateway", a.gateway}, {"aliases", a.aliases}, {"result", a.result}});
  return arr.dump();
}

std::vector<Attachment> attachmentsFromJson(const std::string& s) {
  std::vector<Attachment> out;
  auto j = json::parse(s, nullptr, false);
  if (!j.is_array()) return out;
  for (auto& e : j) {
    Attachment a;
    a.network = e.value("network", "");
    a.ifname = e.value("ifname", "");
    a.ip = e.value("ip", "");
    a.mac = e.value("mac", "");
    a.gateway = e.value("gateway", "");
    a.aliases = e.value("aliases", std::vector<std::string>{});
    a.result = e.value("result", "");
    out.push_back(std::move(a));
  }
  return out;
}

Result<void> validateNetworkName(const std::string& name) {
  bool ok = !name.empty() && name.size() <= 64 && std::isalnum(static_cast<unsigned char>(name[0]));
  for (char c : name)
    ok = ok && (std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '.' || c == '-');
  if (!ok) return fail(ErrorCode::kInvalidArgument, "invalid network name \"" + name + "\"");
  if (name == "host" || name == "none")
    return fail(ErrorCode::kInvalidArgument, "network name \"" + name + "\" is reserved");
  return {};
}

NetworkStore::NetworkStore(std::string root, std::string runroot,
                           std::unique_ptr<PluginExec> exec, std::unique_ptr<IptablesRunner> ipt)
    : dir_(root + "/networks"),
      runroot_(runroot),
      ipamDir_(runroot + "/cni/ipam"),
      root_(std::move(root)),
      exec_(exec ? std::move(exec) : makeDefaultPluginExec(runroot + "/cni")),
      ipt_(ipt ? std::move(ipt) : makeIptablesRunner()) {}

void NetworkStore::dropNetworkRules(const std::string& bridge) {
  if (bridge.empty()) return;
  (void)removeNetworkRules(*ipt_, bridge);
  for (const char* kind : {"masq", "fwd"}) ::unlink(ruleMarker(runroot_ + "/cni", bridge, kind).c_str());
}

std::string NetworkStore::netnsPath(const std::string& containerId) const {
  return runroot_ + "/netns/" + containerId;
}

Result<NetworkInfo> NetworkStore::load(const std::string& name) {
  auto t = fs::readFile(dir_ + "/" + name + ".json");
  if (!t) {
    if (t.error().is(ENOENT)) return fail(ErrorCode::kNotFound, "no such network: " + name);
    return fail(std::move(t.error()));
  }
  auto j = json::parse(*t, nullptr, false);
  if (!j.is_object()) return fail(ErrorCode::kCorrupt, "network " + name + ": bad metadata");
  return j.get<NetworkInfo>();
}

Result<NetworkInfo> NetworkStore::ensureDefault() {
  auto n = load(kDefaultNetwork);
  if (n || !n.error().is(ErrorCode::kNotFound)) return n;
  auto made = createLocked(kDefaultNetwork, "", false, {}, true);
  // Another berth process made it first (containers started at once on a new root).
  if (!made && made.error().is(ErrorCode::kAlreadyExists)) return load(kDefaultNetwork);
  return made;
}

Result<NetworkInfo> NetworkStore::create(const std::string& name, const std::string& subnet,
                                         bool internal,
                                         const std::map<std::string, std::string>& labels) {
  BERTH_TRY(validateNetworkName(name));
  if (name == kDefaultNetwork)
    return fail(ErrorCode::kAlreadyExists, "network \"bridge\" is the default network");
  return createLocked(name, subnet, internal, labels, false);
}

Result<NetworkInfo> NetworkStore::createLocked(const std::string& name, const std::string& subnet,
                                               bool internal,
                                               const std::map<std::string, std::string>& labels,
                                               bool isDefault) {
  BERTH_TRY(fs::mkdirs(dir_, 0700));
  RegistryLock lock;
  if (fs::exists(dir_ + "/" + name + ".json"))
    return fail(ErrorCode::kAlreadyExists, "network with name " + name + " already exists");
  json reg = gcRegistry(readRegistry(), *ipt_);
  std::vector<Subnet> taken = hostRoutes();
  for (auto& e : reg)
    if (auto s = parseSubnet(e.value("subnet", std::string())); s) taken.push_back(*s);
  Subnet sn;
  if (!subnet.empty()) {
    BERTH_ASSIGN(sn, parseSubnet(subnet));
    for (auto& t : taken)
      if (sn.overlaps(t))
        return fail(ErrorCode::kAlreadyExists,
                    "subnet " + subnet + " overlaps " + t.str() + " already in use");
  } else {
    BERTH_ASSIGN(sn, pickSubnet(taken));
  }
  NetworkInfo n;
  n.name = name;
  n.id = str::randomHex(32);
  n.subnet = sn.str();
  n.gateway = sn.hostAddr(1);
  n.internal = internal;
  n.created = ::time(nullptr);
  n.labels = labels;
  auto bridgeTaken = [&](const std::string& b) {
    if (linkExists(b)) return true;
    for (auto& e : reg)
      if (e.value("bridge", std::string()) == b) return true;
    return false;
  };
  if (isDefault && root_ == "/var/lib/berth" && !bridgeTaken("berth0")) {
    n.bridge = "berth0";
  } else {
    for (int i = 1; i < 100000 && n.bridge.empty(); ++i)
      if (!bridgeTaken("berth" + std::to_string(i))) n.bridge = "berth" + std::to_string(i);
  }
  reg.push_back({{"root", root_}, {"name", name}, {"bridge", n.bridge}, {"subnet", n.subnet}});
  BERTH_TRY(fs::writeFileAtomic(kRegistry, reg.dump(), 0600));
  BERTH_TRY(fs::writeFileAtomic(dir_ + "/" + name + ".conflist", conflist(n), 0644));
  BERTH_TRY(fs::writeFileAtomic(dir_ + "/" + name + ".json", networkToJson(n), 0644));
  return n;
}

Result<NetworkInfo> NetworkStore::get(const std::string& nameOrId) {
  if (nameOrId == kDefaultNetwork) return ensureDefault();
  auto n = load(nameOrId);
  if (n || !n.error().is(ErrorCode::kNotFound)) return n;
  if (nameOrId.size() >= 3) {
    BERTH_ASSIGN(auto all, list());
    std::optional<NetworkInfo> hit;
    for (auto& x : all) {
      if (str::startsWith(x.id, nameOrId)) {
        if (hit) return fail(ErrorCode::kInvalidArgument, "network id prefix " + nameOrId +
                                                              " is ambiguous");
        hit = x;
      }
    }
    if (hit) return *hit;
  }
  return fail(ErrorCode::kNotFound, "network " + nameOrId + " not found");
}

Result<std::vector<NetworkInfo>> NetworkStore::list() {
  BERTH_TRY(ensureDefault());
  BERTH_ASSIGN(auto names, fs::listDir(dir_));
  std::vector<NetworkInfo> out;
  for (auto& f : names) {
    if (!str::endsWith(f, ".json")) continue;
    if (auto n = load(f.substr(0, f.size() - 5)); n) out.push_back(std::move(*n));
  }
  return out;
}

Result<void> NetworkStore::remove(const std::string& name) {
  if (name == kDefaultNetwork)
    return fail(ErrorCode::kFailedPrecondition, "the default network cannot be removed");
  BERTH_ASSIGN(auto n, load(name));
  RegistryLock lock;
  json reg = readRegistry(), keep = json::array();
  for (auto& e : reg)
    if (!(e.value("root", std::string()) == root_ && e.value("name", std::string()) == name))
      keep.push_back(e);
  deleteBridge(n.bridge);
  dropNetworkRules(n.bridge);
  BERTH_TRY(fs::writeFileAtomic(kRegistry, keep.dump(), 0600));
  ::unlink((dir_ + "/" + name + ".conflist").c_str());
  ::unlink((dir_ + "/" + name + ".json").c_str());
  (void)fs::removeAll(ipamDir_ + "/" + name);
  return {};
}

std::string NetworkStore::conflist(const NetworkInfo& n) const {
  json ipam = {{"type", "host-local"},
               {"ranges", json::array({json::array({{{"subnet", n.subnet},
                                                      {"gateway", n.gateway}}})})},
               {"routes", json::array({{{"dst", "0.0.0.0/0"}}})},
               {"dataDir", ipamDir_}};
  json plugins = json::array();
  plugins.push_back({{"type", "bridge"},
                     {"bridge", n.bridge},
                     {"isGateway", true},
                     {"ipMasq", !n.internal},
                     {"hairpinMode", true},
                     {"ipam", ipam}});
  plugins.push_back({{"type", "portmap"}, {"capabilities", {{"portMappings", true}}},
                     {"snat", true}});
  plugins.push_back({{"type", "firewall"}, {"backend", "iptables"}});
  json l = {{"cniVersion", "1.0.0"}, {"name", n.name}, {"plugins", plugins}};
  return l.dump(2);
}

namespace {
// portmap is skipped when nothing is published: one plugin run less on every start and stop.
std::string effectiveConflist(const std::string& full, bool withPorts) {
  if (withPorts) return full;
  json l = json::parse(full);
  json keep = json::array();
  for (auto& p : l["plugins"])
    if (p.value("type", std::string()) != "portmap") keep.push_back(p);
  l["plugins"] = keep;
  return l.dump();
}

json portsJson(const std::vector<PortMapping>& ports) {
  json arr = json::array();
  for (auto& p : ports)
    arr.push_back({{"hostPort", p.hostPort}, {"containerPort", p.containerPort},
                   {"protocol", p.protocol}, {"hostIP", p.hostIp}});
  return {{"portMappings", arr}};
}
}  // namespace

Result<Attachment> NetworkStore::attach(const NetworkInfo& net, const std::string& containerId,
                                        const std::string& netnsPath, const std::string& ifname,
                                        const std::vector<PortMapping>& ports) {
  json rc = portsJson(ports);
  CniRuntime rt{containerId, netnsPath, ifname, &rc};
  BERTH_ASSIGN(std::string res,
               cniAdd(*exec_, effectiveConflist(conflist(net), !ports.empty()), rt)
                   .map_error([&](Error e) { return e.context("network " + net.name); }));
  Attachment a;
  a.network = net.name;
  a.ifname = ifname;
  a.result = res;
  a.gateway = net.gateway;
  auto j = json::parse(res, nullptr, false);
  if (j.is_object() && j.contains("ips") && j["ips"].is_array() && !j["ips"].empty()) {
    std::string addr = j["ips"][0].value("address", std::string());
    a.ip = addr.substr(0, addr.find('/'));
    a.gateway = j["ips"][0].value("gateway", net.gateway);
  }
  if (j.is_object() && j.contains("interfaces") && j["interfaces"].is_array()) {
    for (auto& i : j["interfaces"])
      if (i.value("name", std::string()) == ifname) a.mac = i.value("mac", std::string());
  }
  return a;
}

Result<void> NetworkStore::detach(const NetworkInfo& net, const std::string& containerId,
                                  const std::string& netnsPath, const Attachment& a,
                                  const std::vector<PortMapping>& ports) {
  json rc = portsJson(ports);
  // A netns that is already gone still needs DEL for the lease and the rules; the plugins
  // accept an empty CNI_NETNS for that.
  CniRuntime rt{containerId, fs::exists(netnsPath) ? netnsPath : "", a.ifname, &rc};
  return cniDel(*exec_, effectiveConflist(conflist(net), !ports.empty()), rt, a.result)
      .map_error([&](Error e) { return e.context("network " + net.name); });
}

}  // namespace berth::network
