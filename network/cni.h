#pragma once
/// CNI plugin invocation (spec 1.0): run a network configuration list's plugins in order for
/// ADD (each gets the previous result as prevResult) and in reverse for DEL. Plugin execution
/// goes through PluginExec so tests can record the calls without running binaries.

#include <map>
#include <memory>
#include <string>

#include <nlohmann/json_fwd.hpp>

#include "common/error.h"

namespace berth::network {

/// Runs one CNI plugin binary. `env` is the whole CNI_* environment; stdin is the config.
class PluginExec {
 public:
  virtual ~PluginExec() = default;
  /// Returns the plugin's stdout. A non-zero exit gives an error carrying the plugin's
  /// CNI error "msg" (and "details") when it printed one.
  virtual Result<std::string> run(const std::string& plugin,
                                  const std::map<std::string, std::string>& env,
                                  const std::string& stdinData) = 0;
};

/// The real thing: fork+exec `<pluginDir>/<plugin>` with a clean environment.
std::unique_ptr<PluginExec> makeRealPluginExec(std::string pluginDir = "/usr/lib/cni");

class IptablesRunner;

/// In-process implementations of the plugin types berth's conflists use: `bridge` (with
/// `host-local` IPAM, over rtnetlink), `host-local`, `portmap` and `firewall` (iptables
/// backend). They read the same config and CNI_* environment and answer the same CNI 1.0
/// result as Debian's binaries, and keep leases in host-local's on-disk format. Firewall rules
/// are per network (installed once, remembered by a marker under `stateDir`) except published
/// ports (one iptables-restore per ADD/DEL). Any other type, or a config option they do not
/// handle, goes to `fallback` (null: makeRealPluginExec()). `ipt` null means the real
/// iptables-restore.
std::unique_ptr<PluginExec> makeNativePluginExec(std::string stateDir,
                                                 std::unique_ptr<PluginExec> fallback,
                                                 std::unique_ptr<IptablesRunner> ipt = nullptr);

/// The in-process plugins, or Debian's binaries when the environment has BERTH_CNI_EXEC=1.
std::unique_ptr<PluginExec> makeDefaultPluginExec(const std::string& stateDir);

struct CniRuntime {
  std::string containerId;
  std::string netns;     ///< path of the netns file
  std::string ifname = "eth0";
  nlohmann::json* runtimeConfig = nullptr;  ///< e.g. {"portMappings": [...]}; may be null
};

/// ADD the container to the network described by `conflist` (a CNI conflist JSON object).
/// Returns the final result JSON (text). On failure the plugins already run are DELeted.
Result<std::string> cniAdd(PluginExec& exec, const std::string& conflist, const CniRuntime& rt);

/// DEL in reverse plugin order. `prevResult` (the ADD result, may be empty) is passed along.
/// Every plugin is called even if one fails; the first error is returned.
Result<void> cniDel(PluginExec& exec, const std::string& conflist, const CniRuntime& rt,
                    const std::string& prevResult);

}  // namespace berth::network
