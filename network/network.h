#pragma once
/// CNI networks of one berth root: the default "bridge" network and user-defined ones, each a
/// conflist berth writes for Debian's plugins (bridge + host-local + portmap + firewall), and
/// the attach/detach of a container's netns to them (by the in-process plugins by default,
/// by Debian's binaries with BERTH_CNI_EXEC=1). Subnets and bridge names are reserved in
/// a host-wide registry so several roots (tests, benchmarks) never collide.

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/error.h"
#include "network/cni.h"
#include "network/iptables.h"
#include "network/ports.h"

namespace berth::network {

inline constexpr const char* kDefaultNetwork = "bridge";

struct NetworkInfo {
  std::string name;
  std::string id;        ///< 64 hex chars
  std::string driver = "bridge";
  std::string bridge;    ///< host bridge interface
  std::string subnet;    ///< "10.89.0.0/24"
  std::string gateway;   ///< "10.89.0.1"
  bool internal = false; ///< no masquerade to the outside
  int64_t created = 0;   ///< unix seconds
  std::map<std::string, std::string> labels;
};

/// One container's place on one network (kept in the container's record).
struct Attachment {
  std::string network;
  std::string ifname;    ///< "eth0", "eth1", ...
  std::string ip;        ///< "10.89.0.5" (no prefix)
  std::string mac;
  std::string gateway;
  std::vector<std::string> aliases;
  std::string result;    ///< the CNI ADD result JSON, handed back at DEL
};

std::string attachmentToJson(const std::vector<Attachment>&);
std::vector<Attachment> attachmentsFromJson(const std::string&);
std::string networkToJson(const NetworkInfo&);

/// "bridge", "host", "none" are reserved; user names match [a-zA-Z0-9][a-zA-Z0-9_.-]{0,63}.
Result<void> validateNetworkName(const std::string& name);

class NetworkStore {
 public:
  /// Networks of `root` live in <root>/networks; leases, netns files and the markers of
  /// installed per-network rules in <runroot>. `exec` null means makeDefaultPluginExec (the
  /// in-process plugins; Debian's binaries with BERTH_CNI_EXEC=1); `ipt` null, the real
  /// iptables (used to remove a network's rules).
  NetworkStore(std::string root, std::string runroot, std::unique_ptr<PluginExec> exec = nullptr,
               std::unique_ptr<IptablesRunner> ipt = nullptr);

  /// The default bridge network, created on first use.
  Result<NetworkInfo> ensureDefault();
  /// kAlreadyExists if the name is taken; `subnet` empty picks a free /24.
  Result<NetworkInfo> create(const std::string& name, const std::string& subnet,
                             bool internal, const std::map<std::string, std::string>& labels);
  /// By name, full id or id prefix; "bridge" is created on demand. kNotFound otherwise.
  Result<NetworkInfo> get(const std::string& nameOrId);
  Result<std::vector<NetworkInfo>> list();
  /// Remove the conflist, the registry entry and the host bridge. The caller (engine) checks
  /// that no container is attached. The default network cannot be removed.
  Result<void> remove(const std::string& name);
  /// The CNI conflist text for `net`.
  std::string conflist(const NetworkInfo& net) const;

  /// CNI ADD of `netnsPath` to `net` with interface `ifname`; `ports` go to portmap (host ports
  /// of 0 must be resolved by the caller). On error nothing is left (plugins are DELeted).
  Result<Attachment> attach(const NetworkInfo& net, const std::string& containerId,
                            const std::string& netnsPath, const std::string& ifname,
                            const std::vector<PortMapping>& ports);
  /// CNI DEL (idempotent: a missing netns, lease or rule is fine).
  Result<void> detach(const NetworkInfo& net, const std::string& containerId,
                      const std::string& netnsPath, const Attachment& a,
                      const std::vector<PortMapping>& ports);

  std::string netnsPath(const std::string& containerId) const;
  const std::string& ipamDir() const { return ipamDir_; }

 private:
  Result<NetworkInfo> load(const std::string& name);
  Result<NetworkInfo> createLocked(const std::string& name, const std::string& subnet,
                                   bool internal, const std::map<std::string, std::string>& labels,
                                   bool isDefault);
  void dropNetworkRules(const std::string& bridge);
  std::string dir_, runroot_, ipamDir_, root_;
  std::unique_ptr<PluginExec> exec_;
  std::unique_ptr<IptablesRunner> ipt_;
};

}  // namespace berth::network
