#pragma once
/// Firewall rules of berth's in-process CNI plugins, written with iptables-restore --noflush
/// (so they land in whatever backend the host's iptables uses, nft or legacy, next to the rules
/// of Debian's plugins, and show in iptables-save). A rule set is a few chains of berth's own
/// plus the jumps into them from built-in chains; installing or removing one is one
/// iptables-restore transaction (all or nothing), so no exec per rule.
///
/// - per network, installed once when the first container attaches, removed with the network:
///   masquerade of the subnet (nat, BERTH-NAT-<bridge>) and forward accept (filter,
///   BERTH-FWD-<bridge>), the in-process forms of the bridge plugin's ipMasq and the firewall
///   plugin;
/// - per published container (the portmap plugin with snat): DNAT from the host's addresses
///   (BERTH-HP-<hash>) and masquerade of 127.0.0.0/8 and hairpin sources (BERTH-HM-<hash>).

#include <memory>
#include <string>
#include <vector>

#include "common/error.h"
#include "network/ports.h"

namespace berth::network {

struct RuleSet {
  std::string table;                ///< "nat" or "filter"
  std::vector<std::string> chains;  ///< berth's own chains (created, or flushed and refilled)
  std::vector<std::string> rules;   ///< "-A <own chain> ..." lines
  std::vector<std::string> jumps;   ///< "-A|-I <built-in chain> ... -j <own chain>" lines
};

/// iptables-restore text creating the chains (flushing them if they exist) and adding the
/// jumps. Run twice without removal it duplicates the jumps; removeRules copes with that.
std::string installScript(const RuleSet& s);
/// iptables-restore text removing the jumps and chains; fails as a whole if a jump is absent.
std::string removeScript(const RuleSet& s);
/// From `saved` (iptables-save text of `table`), iptables-restore text that deletes every rule
/// of another chain jumping to one of `chains`, then the chains; "" when none is present.
std::string cleanupScript(const std::string& saved, const std::string& table,
                          const std::vector<std::string>& chains);

RuleSet masqRules(const std::string& bridge, const std::string& subnet);
RuleSet forwardRules(const std::string& bridge, const std::string& subnet);
/// Published ports of one attachment. IPv6 host addresses are skipped (networks are IPv4).
RuleSet hostPortRules(const std::string& containerId, const std::string& ifname,
                      const std::string& containerIp, const std::string& subnet,
                      const std::vector<PortMapping>& ports);

/// How the rules reach the kernel; faked in unit tests.
class IptablesRunner {
 public:
  virtual ~IptablesRunner() = default;
  /// iptables-restore --noflush with `script` on stdin; the error carries its stderr.
  virtual Result<void> restore(const std::string& script) = 0;
  /// iptables-save -t `table`.
  virtual Result<std::string> save(const std::string& table) = 0;
};
std::unique_ptr<IptablesRunner> makeIptablesRunner();

/// One restore (per-container ADD).
Result<void> installRules(IptablesRunner& r, const RuleSet& s);
/// Idempotent install: one save, then one restore that refills the chains, drops whatever
/// jumps to them already and adds the jumps once.
Result<void> ensureRules(IptablesRunner& r, const RuleSet& s);
/// Idempotent removal: one restore in the usual case; if that fails (a jump is missing, or
/// duplicated), one save and a restore of exactly what is there.
Result<void> removeRules(IptablesRunner& r, const RuleSet& s);
/// Remove a network's rules knowing only its bridge (for networks of deleted roots).
Result<void> removeNetworkRules(IptablesRunner& r, const std::string& bridge);

/// The marker file saying a network's rules of `kind` ("masq", "fwd") are installed; it
/// holds the subnet. Lives in <stateDir>/rules, so it is gone after a reboot like the rules.
std::string ruleMarker(const std::string& stateDir, const std::string& bridge,
                       const std::string& kind);

}  // namespace berth::network
