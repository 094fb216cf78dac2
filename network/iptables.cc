#include "network/iptables.h"

#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <set>

#include "common/digest.h"
#include "common/fs.h"
#include "common/strings.h"
#include "common/unique_fd.h"

namespace berth::network {
namespace {

std::string natChain(const std::string& bridge) { return "BERTH-NAT-" + bridge; }
std::string fwdChain(const std::string& bridge) { return "BERTH-FWD-" + bridge; }

std::string header(const RuleSet& s) {
  std::string t = "*" + s.table + "\n";
  for (auto& c : s.chains) {
    t += ":" + c + " - [0:0]\n";
  }
  return t;
}

// The chain a rule line ("-A X ... -j Y ...") jumps to, and the chain it is in.
std::pair<std::string, std::string> chainAndTarget(const std::string& line) {
  auto words = str::split(line, ' ');
  std::string in = words.size() > 1 ? words[1] : "";
  std::string target;
  for (size_t i = 0; i + 1 < words.size(); ++i) {
    if (words[i] == "-j" || words[i] == "-g") {
      target = words[i + 1];
    }
  }
  return {in, target};
}

}  // namespace

std::string installScript(const RuleSet& s) {
  std::string t = header(s);
  for (auto& r : s.rules) {
    t += r + "\n";
  }
  for (auto& j : s.jumps) {
    t += j + "\n";
  }
  return t + "COMMIT\n";
}

std::string removeScript(const RuleSet& s) {
  std::string t = header(s);  // flushes them: -X needs empty chains
  for (auto& j : s.jumps) {
    t += "-D" + j.substr(2) + "\n";
  }
  for (auto& c : s.chains) {
    t += "-X " + c + "\n";
  }
  return t + "COMMIT\n";
}

std::string cleanupScript(const std::string& saved, const std::string& table,
                          const std::vector<std::string>& chains) {
  std::set<std::string> ours(chains.begin(), chains.end());
  std::set<std::string> present;
  std::vector<std::string> dels;
  bool inTable = false;
  for (auto& raw : str::split(saved, '\n')) {
    std::string line(str::trim(raw));
    if (line.empty() || line[0] == '#') {
      continue;
    }
    if (line[0] == '*') {
      inTable = line.substr(1) == table;
      continue;
    }
    if (!inTable) {
      continue;
    }
    if (line[0] == ':') {
      std::string name = line.substr(1, line.find(' ') - 1);
      if (ours.count(name)) {
        present.insert(name);
      }
      continue;
    }
    if (!str::startsWith(line, "-A ")) {
      continue;
    }
    auto [in, target] = chainAndTarget(line);
    if (!ours.count(in) && ours.count(target)) {
      dels.push_back("-D" + line.substr(2));
    }
  }
  if (present.empty() && dels.empty()) {
    return "";
  }
  std::string t = "*" + table + "\n";
  for (auto& c : present) {
    t += ":" + c + " - [0:0]\n";
  }
  for (auto& d : dels) {
    t += d + "\n";
  }
  for (auto& c : present) {
    t += "-X " + c + "\n";
  }
  return t + "COMMIT\n";
}

RuleSet masqRules(const std::string& bridge, const std::string& subnet) {
  std::string c = natChain(bridge);
  return {
      "nat",
      {c},
      {"-A " + c + " -d " + subnet + " -j ACCEPT", "-A " + c + " ! -d 224.0.0.0/4 -j MASQUERADE"},
      {"-A POSTROUTING -s " + subnet + " -m comment --comment \"berth network " + bridge +
       "\" -j " + c}};
}

RuleSet forwardRules(const std::string& bridge, const std::string& subnet) {
  std::string c = fwdChain(bridge);
  return {
      "filter",
      {c},
      {"-A " + c + " -d " + subnet + " -m conntrack --ctstate RELATED,ESTABLISHED,DNAT -j ACCEPT",
       "-A " + c + " -s " + subnet + " -j ACCEPT"},
      {"-I FORWARD -m comment --comment \"berth network " + bridge + "\" -j " + c}};
}

RuleSet hostPortRules(const std::string& containerId, const std::string& ifname,
                      const std::string& containerIp, const std::string& subnet,
                      const std::vector<PortMapping>& ports) {
  std::string h = sha256Digest(containerId + "/" + ifname).substr(7, 16);
  std::string hp = "BERTH-HP-" + h, hm = "BERTH-HM-" + h;
  std::string tag =
      " -m comment --comment \"berth " + containerId.substr(0, 12) + " " + ifname + "\"";
  RuleSet s{"nat", {hp, hm}, {}, {}};
  for (auto& p : ports) {
    if (p.hostIp.find(':') != std::string::npos) {
      continue;
    }
    std::string proto = p.protocol == "udp" ? "udp" : "tcp";
    std::string r = "-A " + hp;
    if (!p.hostIp.empty()) {
      r.append(" -d ").append(p.hostIp).append("/32");
    }
    r.append(" -p ").append(proto).append(" -m ").append(proto);
    r.append(" --dport ").append(std::to_string(p.hostPort));
    r.append(" -j DNAT --to-destination ").append(containerIp).append(":");
    r.append(std::to_string(p.containerPort));
    s.rules.push_back(std::move(r));
  }
  // snat: connections DNATed to the container from loopback (needs route_localnet on the
  // bridge) or from its own subnet (hairpin) leave with the bridge's address, so replies
  // come back through the host.
  s.rules.push_back("-A " + hm + " -s 127.0.0.0/8 -m conntrack --ctstate DNAT -j MASQUERADE");
  s.rules.push_back("-A " + hm + " -s " + subnet + " -m conntrack --ctstate DNAT -j MASQUERADE");
  s.jumps.push_back("-A PREROUTING -m addrtype --dst-type LOCAL" + tag + " -j " + hp);
  s.jumps.push_back("-A OUTPUT -m addrtype --dst-type LOCAL" + tag + " -j " + hp);
  // First in POSTROUTING: the network's masquerade chain ACCEPTs traffic within the subnet.
  s.jumps.push_back("-I POSTROUTING -d " + containerIp + "/32" + tag + " -j " + hm);
  return s;
}

namespace {

// Runs a tool with `in` on stdin; returns its stdout, or an error with its stderr.
Result<std::string> runTool(const std::vector<std::string>& argv, const std::string& in) {
  std::string path;
  for (const char* d : {"/usr/sbin/", "/sbin/", "/usr/bin/", "/bin/"}) {
    if (::access((d + argv[0]).c_str(), X_OK) == 0) {
      path = d + argv[0];
      break;
    }
  }
  if (path.empty()) {
    return fail(ErrorCode::kUnsupported, argv[0] + " not found (install iptables)");
  }
  int inP[2], outP[2], errP[2];
  if (::pipe2(inP, O_CLOEXEC) < 0) {
    return failErrno("pipe");
  }
  UniqueFd inR(inP[0]), inW(inP[1]);
  if (::pipe2(outP, O_CLOEXEC) < 0) {
    return failErrno("pipe");
  }
  UniqueFd outR(outP[0]), outW(outP[1]);
  if (::pipe2(errP, O_CLOEXEC) < 0) {
    return failErrno("pipe");
  }
  UniqueFd errR(errP[0]), errW(errP[1]);
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, inR.get(), 0);
  posix_spawn_file_actions_adddup2(&fa, outW.get(), 1);
  posix_spawn_file_actions_adddup2(&fa, errW.get(), 2);
  std::vector<char*> args;
  args.reserve(argv.size() + 1);
  std::vector<std::string> a = argv;
  a[0] = path;
  for (auto& s : a) {
    args.push_back(s.data());
  }
  args.push_back(nullptr);
  std::string envPath = "PATH=/usr/sbin:/usr/bin:/sbin:/bin";
  char* envp[] = {envPath.data(), nullptr};
  pid_t pid;
  int rc = ::posix_spawn(&pid, path.c_str(), &fa, nullptr, args.data(), envp);
  posix_spawn_file_actions_destroy(&fa);
  if (rc != 0) {
    return failErrno("spawn " + path, rc);
  }
  inR.reset();
  outW.reset();
  errW.reset();
  // Scripts are a few KiB (under the pipe buffer): write all, then drain stdout and stderr.
  size_t off = 0;
  while (off < in.size()) {
    ssize_t n = ::write(inW.get(), in.data() + off, in.size() - off);
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n <= 0) {
      break;
    }
    off += static_cast<size_t>(n);
  }
  inW.reset();
  auto drain = [](int fd) {
    std::string s;
    char buf[8192];
    for (;;) {
      ssize_t n = ::read(fd, buf, sizeof buf);
      if (n < 0 && errno == EINTR) {
        continue;
      }
      if (n <= 0) {
        break;
      }
      s.append(buf, static_cast<size_t>(n));
    }
    return s;
  };
  std::string out = drain(outR.get());
  std::string err = drain(errR.get());
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) {
      return failErrno("wait " + path);
    }
  }
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    std::string msg(str::trim(err));
    if (auto nl = msg.find('\n'); nl != std::string::npos) {
      msg = msg.substr(0, nl);
    }
    return fail(
        ErrorCode::kInternal,
        argv[0] + " failed: " + (msg.empty() ? "exit status " + std::to_string(status) : msg));
  }
  return out;
}

class RealRunner : public IptablesRunner {
 public:
  Result<void> restore(const std::string& script) override {
    BERTH_TRY(runTool({"iptables-restore", "--noflush", "-w", "10"}, script));
    return {};
  }
  Result<std::string> save(const std::string& table) override {
    return runTool({"iptables-save", "-t", table}, "");
  }
};

}  // namespace

std::unique_ptr<IptablesRunner> makeIptablesRunner() { return std::make_unique<RealRunner>(); }

Result<void> installRules(IptablesRunner& r, const RuleSet& s) {
  return r.restore(installScript(s));
}

Result<void> ensureRules(IptablesRunner& r, const RuleSet& s) {
  BERTH_ASSIGN(std::string saved, r.save(s.table));
  // Chain lines first, then the removal of stale jumps, then the rules and fresh jumps.
  std::string t = header(s);
  std::string clean = cleanupScript(saved, s.table, s.chains);
  for (auto& line : str::split(clean, '\n')) {
    if (str::startsWith(line, "-D ")) {
      t += line + "\n";
    }
  }
  for (auto& x : s.rules) {
    t += x + "\n";
  }
  for (auto& j : s.jumps) {
    t += j + "\n";
  }
  return r.restore(t + "COMMIT\n");
}

Result<void> removeRules(IptablesRunner& r, const RuleSet& s) {
  if (r.restore(removeScript(s))) {
    return {};
  }
  BERTH_ASSIGN(std::string saved, r.save(s.table));
  std::string clean = cleanupScript(saved, s.table, s.chains);
  if (clean.empty()) {
    return {};
  }
  return r.restore(clean);
}

std::string ruleMarker(const std::string& stateDir, const std::string& bridge,
                       const std::string& kind) {
  return stateDir + "/rules/" + bridge + "." + kind;
}

Result<void> removeNetworkRules(IptablesRunner& r, const std::string& bridge) {
  Result<void> first;
  for (auto& [table, chain] : {std::pair<std::string, std::string>{"nat", natChain(bridge)},
                               {"filter", fwdChain(bridge)}}) {
    auto saved = r.save(table);
    if (!saved) {
      if (first) {
        first = fail(std::move(saved.error()));
      }
      continue;
    }
    std::string clean = cleanupScript(*saved, table, {chain});
    if (clean.empty()) {
      continue;
    }
    if (auto x = r.restore(clean); !x && first) {
      first = fail(std::move(x.error()));
    }
  }
  return first;
}

}  // namespace berth::network
