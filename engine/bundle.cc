#include "engine/bundle.h"

#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <climits>

#include "common/fs.h"
#include "common/strings.h"
#include "common/unique_fd.h"
#include "engine/run_flags.h"
#include "engine/seccomp_profile.h"

namespace berth::engine {
namespace {

const std::vector<std::string> kDefaultCaps = {
    "CAP_CHOWN",  "CAP_DAC_OVERRIDE", "CAP_FSETID",   "CAP_FOWNER",     "CAP_MKNOD",
    "CAP_NET_RAW", "CAP_SETGID",      "CAP_SETUID",   "CAP_SETFCAP",    "CAP_SETPCAP",
    "CAP_NET_BIND_SERVICE", "CAP_SYS_CHROOT", "CAP_KILL", "CAP_AUDIT_WRITE"};

// Read a file inside a rootfs without following symlinks out of it.
Result<std::string> readInRoot(const std::string& rootfs, const std::string& rel) {
  UniqueFd root(::open(rootfs.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
  if (!root) return failErrno("open " + rootfs);
  open_how how{};
  how.flags = O_RDONLY | O_CLOEXEC;
  how.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS;
  UniqueFd fd(static_cast<int>(::syscall(SYS_openat2, root.get(), rel.c_str(), &how, sizeof how)));
  if (!fd) return failErrno("open " + rel + " in container");
  std::string out;
  char buf[8192];
  for (;;) {
    ssize_t n = ::read(fd.get(), buf, sizeof buf);
    if (n <= 0) break;
    out.append(buf, static_cast<size_t>(n));
    if (out.size() > (4 << 20)) break;
  }
  return out;
}

std::string envKey(const std::string& e) { return e.substr(0, e.find('=')); }

void setEnv(std::vector<std::string>& env, const std::string& kv) {
  auto k = envKey(kv);
  for (auto& e : env)
    if (envKey(e) == k) {
      e = kv;
      return;
    }
  env.push_back(kv);
}

}  // namespace

std::string initBinaryPath() {
  return fs::siblingExe("berth-init").value_or("/usr/libexec/berth/berth-init");
}

Result<void> mergeImageConfig(ContainerConfig& c, const oci::ImageConfig& img) {
  const auto& ic = img.config;
  std::vector<std::string> env = ic.env;
  bool hasPath = false;
  for (auto& e : env) hasPath = hasPath || envKey(e) == "PATH";
  if (!hasPath) env.insert(env.begin(), "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin");
  bool hasTerm = false;
  for (auto& e : env) hasTerm = hasTerm || envKey(e) == "TERM";
  for (auto& e : c.env) {
    setEnv(env, e);
    hasTerm = hasTerm || envKey(e) == "TERM";
  }
  if (c.tty && !hasTerm) env.push_back("TERM=xterm");  // Docker's default; -e TERM wins
  c.env = env;
  std::vector<std::string> entry = c.entrypoint ? *c.entrypoint : ic.entrypoint;
  std::vector<std::string> cmd = c.cmd;
  if (cmd.empty() && !c.entrypoint) cmd = ic.cmd;
  c.args = entry;
  c.args.insert(c.args.end(), cmd.begin(), cmd.end());
  if (c.args.empty()) return fail(ErrorCode::kInvalidArgument, "no command specified");
  if (c.workdir.empty()) c.workdir = ic.workingDir.empty() ? "/" : ic.workingDir;
  if (c.user.empty()) c.user = ic.user;
  if (c.labels.erase("berth.stop-signal-set") == 0 && !ic.stopSignal.empty()) {
    if (auto s = parseSignal(ic.stopSignal); s) c.stopSignal = *s;
  }
  for (auto& [k, v] : ic.labels) c.labels.emplace(k, v);
  if (ic.healthcheck && !ic.healthcheck->test.empty()) {
    HealthConfig h;
    h.test = ic.healthcheck->test;
    if (ic.healthcheck->interval > 0) h.intervalMs = ic.healthcheck->interval / 1000000;
    if (ic.healthcheck->timeout > 0) h.timeoutMs = ic.healthcheck->timeout / 1000000;
    if (ic.healthcheck->startPeriod > 0) h.startPeriodMs = ic.healthcheck->startPeriod / 1000000;
    if (ic.healthcheck->retries > 0) h.retries = ic.healthcheck->retries;
    if (!c.health) {
      c.health = h;
    } else if (c.health->test.empty()) {  // --health-interval etc. without --health-cmd
      c.health->test = h.test;
    }
  }
  if (c.health && (c.health->test.empty() || c.health->test[0] == "NONE")) c.health.reset();
  if (c.publishAll) {
    for (auto& key : ic.exposedPorts) {
      auto m = network::parseExposed(key);
      if (!m) continue;
      bool already = false;
      for (auto& p : c.ports)
        already = already || (p.containerPort == m->containerPort && p.protocol == m->protocol);
      if (!already) c.ports.push_back(*m);
    }
  }
  for (auto& v : ic.volumes) {
    bool covered = false;
    for (auto& m : c.mounts) covered = covered || m.destination == fs::clean(v);
    if (!covered) c.mounts.push_back({"volume", "", fs::clean(v), false, {}});
  }
  return {};
}

Result<ResolvedUser> resolveUser(const std::string& rootfs, const std::string& user) {
  ResolvedUser r;
  if (user.empty()) return r;
  auto [u, g] = str::splitOnce(user, ':');
  auto passwd = readInRoot(rootfs, "/etc/passwd");
  std::string uname;
  if (auto n = str::parseU64(u); n) {
    r.uid = static_cast<uint32_t>(*n);
    if (passwd) {
      for (auto& line : str::split(*passwd, '\n')) {
        auto f = str::split(line, ':');
        if (f.size() >= 4 && f[2] == u) {
          r.gid = static_cast<uint32_t>(str::parseU64(f[3]).value_or(0));
          uname = f[0];
        }
      }
    }
  } else {
    bool found = false;
    if (passwd) {
      for (auto& line : str::split(*passwd, '\n')) {
        auto f = str::split(line, ':');
        if (f.size() >= 4 && f[0] == u) {
          r.uid = static_cast<uint32_t>(str::parseU64(f[2]).value_or(0));
          r.gid = static_cast<uint32_t>(str::parseU64(f[3]).value_or(0));
          found = true;
          uname = u;
          break;
        }
      }
    }
    if (!found)
      return fail(ErrorCode::kInvalidArgument,
                  "unable to find user " + u + ": no matching entries in passwd file");
  }
  auto group = readInRoot(rootfs, "/etc/group");
  if (g) {
    if (auto n = str::parseU64(*g); n) {
      r.gid = static_cast<uint32_t>(*n);
    } else {
      bool found = false;
      if (group) {
        for (auto& line : str::split(*group, '\n')) {
          auto f = str::split(line, ':');
          if (f.size() >= 3 && f[0] == *g) {
            r.gid = static_cast<uint32_t>(str::parseU64(f[2]).value_or(0));
            found = true;
          }
        }
      }
      if (!found)
        return fail(ErrorCode::kInvalidArgument,
                    "unable to find group " + *g + ": no matching entries in group file");
    }
  } else if (group && !uname.empty()) {
    for (auto& line : str::split(*group, '\n')) {
      auto f = str::split(line, ':');
      if (f.size() < 4) continue;
      for (auto& m : str::split(f[3], ','))
        if (m == uname) {
          auto gid = static_cast<uint32_t>(str::parseU64(f[2]).value_or(0));
          if (gid != r.gid) r.additionalGids.push_back(gid);
        }
    }
  }
  return r;
}

Result<oci::Spec> buildSpec(const Record& r, const Paths& paths, const std::string& netnsPath) {
  const ContainerConfig& c = r.config;
  oci::Spec s = oci::defaultSpec();
  s.root = oci::Root{paths.rootfs(r.id), c.readOnly};
  s.hostname = c.hostname.empty() ? r.shortId() : c.hostname;
  oci::Process p = s.process.value_or(oci::Process{});
  p.terminal = c.tty;
  p.args = c.args;
  if (c.init) {
    p.args.insert(p.args.begin(), {"/dev/init", "--"});
  }
  p.env = c.env;
  bool hasHostname = false;
  for (auto& e : p.env) hasHostname = hasHostname || envKey(e) == "HOSTNAME";
  if (!hasHostname) p.env.push_back("HOSTNAME=" + s.hostname);
  p.cwd = c.workdir.empty() ? "/" : c.workdir;
  BERTH_ASSIGN(auto user, resolveUser(paths.rootfs(r.id), c.user));
  p.user.uid = user.uid;
  p.user.gid = user.gid;
  p.user.additionalGids = user.additionalGids;
  p.noNewPrivileges = c.noNewPrivileges;
  std::vector<std::string> caps;
  bool dropAll = std::find(c.capDrop.begin(), c.capDrop.end(), "ALL") != c.capDrop.end();
  bool addAll = c.privileged ||
                std::find(c.capAdd.begin(), c.capAdd.end(), "ALL") != c.capAdd.end();
  if (addAll) {
    // Every capability we hold in our bounding set (the list is in capability-number order),
    // as Docker does: one we lack (CAP_SYS_RESOURCE in some sandboxes) would fail capset.
    const auto& all = allCapabilities();
    for (size_t i = 0; i < all.size(); ++i)
      if (::prctl(PR_CAPBSET_READ, static_cast<unsigned long>(i), 0, 0, 0) == 1)
        caps.push_back(all[i]);
  } else if (!dropAll) {
    caps = kDefaultCaps;
  }
  for (auto& a : c.capAdd)
    if (a != "ALL" && std::find(caps.begin(), caps.end(), a) == caps.end()) caps.push_back(a);
  if (!c.privileged)
    for (auto& d : c.capDrop) caps.erase(std::remove(caps.begin(), caps.end(), d), caps.end());
  oci::Capabilities pc;
  pc.bounding = pc.effective = pc.permitted = caps;
  p.capabilities = pc;
  if (!c.ulimits.empty()) {
    p.rlimits.clear();
    for (auto& u : c.ulimits) {
      std::string t = "RLIMIT_" + str::toLower(u.name);
      for (auto& ch : t) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
      if (u.name == "nofile") t = "RLIMIT_NOFILE";
      p.rlimits.push_back({t, u.hard, u.soft});
    }
  }
  s.process = p;

  // Mounts: defaults, then berth's files, then the user's.
  auto addBind = [&](const std::string& src, const std::string& dst, bool ro) {
    oci::Mount m;
    m.destination = dst;
    m.type = "bind";
    m.source = src;
    m.options = {"rbind", "rprivate", ro ? "ro" : "rw"};
    s.mounts.push_back(m);
  };
  if (netnsPath.empty()) {  // host network: the host's files
    addBind("/etc/hosts", "/etc/hosts", true);
    addBind("/etc/resolv.conf", "/etc/resolv.conf", true);
  } else {
    addBind(paths.hosts(r.id), "/etc/hosts", false);
    addBind(paths.resolv(r.id), "/etc/resolv.conf", false);
  }
  addBind(paths.hostname(r.id), "/etc/hostname", false);
  if (c.init) addBind(initBinaryPath(), "/dev/init", true);
  for (auto& m : c.mounts) {
    if (m.type == "tmpfs") {
      oci::Mount t;
      t.destination = m.destination;
      t.type = "tmpfs";
      t.source = "tmpfs";
      t.options = {"nosuid", "nodev"};
      for (auto& o : m.options) t.options.push_back(o);
      if (m.readOnly) t.options.push_back("ro");
      s.mounts.push_back(t);
    } else if (m.type == "bind") {
      addBind(m.source, m.destination, m.readOnly);
    } else {
      addBind(paths.volumeData(m.source), m.destination, m.readOnly);
    }
  }

  oci::Linux lx = s.linux.value_or(oci::Linux{});
  for (auto it = lx.namespaces.begin(); it != lx.namespaces.end();) {
    if (it->type == oci::NamespaceType::kNetwork) {
      if (netnsPath.empty()) {
        it = lx.namespaces.erase(it);
        continue;
      }
      it->path = netnsPath;
    }
    ++it;
  }
  if (!lx.hasNamespace(oci::NamespaceType::kNetwork) && !netnsPath.empty())
    lx.namespaces.push_back({oci::NamespaceType::kNetwork, netnsPath});
  lx.cgroupsPath = "/berth/" + r.id;
  oci::Resources res = lx.resources.value_or(oci::Resources{});
  if (c.memory > 0) {
    oci::MemoryResources mem;
    mem.limit = c.memory;
    mem.swap = c.memory;  // no extra swap, like docker's default --memory-swap = 2x? keep strict
    res.memory = mem;
  }
  if (c.nanoCpus > 0) {
    oci::CpuResources cpu;
    cpu.period = 100000;
    cpu.quota = c.nanoCpus / 10000;  // ns per s of CPU -> us per 100ms period
    res.cpu = cpu;
  }
  if (c.pidsLimit > 0) res.pids = oci::PidsResources{c.pidsLimit};
  lx.resources = res;
  if (c.privileged) {
    lx.maskedPaths.clear();
    lx.readonlyPaths.clear();
  }
  if (c.seccomp.empty() && !c.privileged) {
    lx.seccomp = defaultSeccompProfile();
  } else if (!c.seccomp.empty() && c.seccomp != "unconfined" && !c.privileged) {
    std::string wrapped = "{\"ociVersion\":\"1.0.2\",\"linux\":{\"seccomp\":" + c.seccomp + "}}";
    auto parsed = oci::parseSpec(wrapped);
    if (!parsed || !parsed->linux || !parsed->linux->seccomp)
      return fail(ErrorCode::kInvalidArgument,
                  "seccomp profile: " + (parsed ? std::string("empty") : parsed.error().message()));
    lx.seccomp = parsed->linux->seccomp;
  }
  s.linux = lx;
  s.annotations["org.opencontainers.image.ref.name"] = r.image;
  s.annotations["berth.container.name"] = r.name;
  return s;
}

}  // namespace berth::engine
