// config.json serialization and the default spec (what `runc spec` writes).
#include <nlohmann/json.hpp>

#include "oci/runtime_spec.h"

namespace berth::oci {
namespace {

using nlohmann::ordered_json;
using J = ordered_json;

template <typename T>
void putOpt(J& j, const char* key, const std::optional<T>& v) {
  if (v) j[key] = *v;
}
void putStrs(J& j, const char* key, const std::vector<std::string>& v) {
  if (!v.empty()) j[key] = v;
}

J hookJson(const Hook& h) {
  J j;
  j["path"] = h.path;
  putStrs(j, "args", h.args);
  putStrs(j, "env", h.env);
  putOpt(j, "timeout", h.timeout);
  return j;
}

J processJson(const Process& p) {
  J j;
  if (p.terminal) j["terminal"] = true;
  if (p.consoleSize) j["consoleSize"] = {{"height", p.consoleSize->height},
                                         {"width", p.consoleSize->width}};
  J u = {{"uid", p.user.uid}, {"gid", p.user.gid}};
  putOpt(u, "umask", p.user.umask);
  if (!p.user.additionalGids.empty()) u["additionalGids"] = p.user.additionalGids;
  if (!p.user.username.empty()) u["username"] = p.user.username;
  j["user"] = u;
  j["args"] = p.args;
  j["env"] = p.env;
  j["cwd"] = p.cwd;
  if (p.capabilities) {
    J c = J::object();
    const auto& k = *p.capabilities;
    c["bounding"] = k.bounding;
    c["effective"] = k.effective;
    c["inheritable"] = k.inheritable;
    c["permitted"] = k.permitted;
    c["ambient"] = k.ambient;
    j["capabilities"] = c;
  }
  if (!p.rlimits.empty()) {
    J r = J::array();
    for (const auto& l : p.rlimits) r.push_back({{"type", l.type}, {"hard", l.hard}, {"soft", l.soft}});
    j["rlimits"] = r;
  }
  j["noNewPrivileges"] = p.noNewPrivileges;
  if (!p.apparmorProfile.empty()) j["apparmorProfile"] = p.apparmorProfile;
  putOpt(j, "oomScoreAdj", p.oomScoreAdj);
  if (!p.selinuxLabel.empty()) j["selinuxLabel"] = p.selinuxLabel;
  return j;
}

J resourcesJson(const Resources& r) {
  J j = J::object();
  if (!r.devices.empty()) {
    J d = J::array();
    for (const auto& x : r.devices) {
      J e = {{"allow", x.allow}};
      if (!x.type.empty()) e["type"] = x.type;
      putOpt(e, "major", x.major);
      putOpt(e, "minor", x.minor);
      if (!x.access.empty()) e["access"] = x.access;
      d.push_back(e);
    }
    j["devices"] = d;
  }
  if (r.memory) {
    J m = J::object();
    const auto& x = *r.memory;
    putOpt(m, "limit", x.limit);
    putOpt(m, "reservation", x.reservation);
    putOpt(m, "swap", x.swap);
    putOpt(m, "kernel", x.kernel);
    putOpt(m, "kernelTCP", x.kernelTCP);
    putOpt(m, "swappiness", x.swappiness);
    putOpt(m, "disableOOMKiller", x.disableOOMKiller);
    putOpt(m, "useHierarchy", x.useHierarchy);
    putOpt(m, "checkBeforeUpdate", x.checkBeforeUpdate);
    j["memory"] = m;
  }
  if (r.cpu) {
    J c = J::object();
    const auto& x = *r.cpu;
    putOpt(c, "shares", x.shares);
    putOpt(c, "quota", x.quota);
    putOpt(c, "burst", x.burst);
    putOpt(c, "period", x.period);
    putOpt(c, "realtimeRuntime", x.realtimeRuntime);
    putOpt(c, "realtimePeriod", x.realtimePeriod);
    if (!x.cpus.empty()) c["cpus"] = x.cpus;
    if (!x.mems.empty()) c["mems"] = x.mems;
    putOpt(c, "idle", x.idle);
    j["cpu"] = c;
  }
  if (r.pids) j["pids"] = {{"limit", r.pids->limit}};
  if (r.blockIO) {
    J b = J::object();
    const auto& x = *r.blockIO;
    putOpt(b, "weight", x.weight);
    putOpt(b, "leafWeight", x.leafWeight);
    if (!x.weightDevice.empty()) {
      J a = J::array();
      for (const auto& w : x.weightDevice) {
        J e = {{"major", w.major}, {"minor", w.minor}};
        putOpt(e, "weight", w.weight);
        putOpt(e, "leafWeight", w.leafWeight);
        a.push_back(e);
      }
      b["weightDevice"] = a;
    }
    auto thr = [&](const char* key, const std::vector<ThrottleDevice>& v) {
      if (v.empty()) return;
      J a = J::array();
      for (const auto& t : v) a.push_back({{"major", t.major}, {"minor", t.minor}, {"rate", t.rate}});
      b[key] = a;
    };
    thr("throttleReadBpsDevice", x.throttleReadBpsDevice);
    thr("throttleWriteBpsDevice", x.throttleWriteBpsDevice);
    thr("throttleReadIOPSDevice", x.throttleReadIOPSDevice);
    thr("throttleWriteIOPSDevice", x.throttleWriteIOPSDevice);
    j["blockIO"] = b;
  }
  if (!r.hugepageLimits.empty()) {
    J a = J::array();
    for (const auto& h : r.hugepageLimits) a.push_back({{"pageSize", h.pageSize}, {"limit", h.limit}});
    j["hugepageLimits"] = a;
  }
  if (r.network) {
    J n = J::object();
    putOpt(n, "classID", r.network->classID);
    if (!r.network->priorities.empty()) {
      J a = J::array();
      for (const auto& [name, prio] : r.network->priorities)
        a.push_back({{"name", name}, {"priority", prio}});
      n["priorities"] = a;
    }
    j["network"] = n;
  }
  if (!r.unified.empty()) j["unified"] = r.unified;
  return j;
}

J seccompJson(const Seccomp& s) {
  J j = {{"defaultAction", s.defaultAction}};
  putOpt(j, "defaultErrnoRet", s.defaultErrnoRet);
  putStrs(j, "architectures", s.architectures);
  putStrs(j, "flags", s.flags);
  if (!s.listenerPath.empty()) j["listenerPath"] = s.listenerPath;
  if (!s.listenerMetadata.empty()) j["listenerMetadata"] = s.listenerMetadata;
  J a = J::array();
  for (const auto& c : s.syscalls) {
    J e = {{"names", c.names}, {"action", c.action}};
    putOpt(e, "errnoRet", c.errnoRet);
    if (!c.args.empty()) {
      J args = J::array();
      for (const auto& x : c.args)
        args.push_back({{"index", x.index}, {"value", x.value}, {"valueTwo", x.valueTwo}, {"op", x.op}});
      e["args"] = args;
    }
    a.push_back(e);
  }
  if (!a.empty()) j["syscalls"] = a;
  return j;
}

J linuxJson(const Linux& l) {
  J j = J::object();
  auto maps = [](const std::vector<IdMapping>& v) {
    J a = J::array();
    for (const auto& m : v)
      a.push_back({{"containerID", m.containerID}, {"hostID", m.hostID}, {"size", m.size}});
    return a;
  };
  if (!l.uidMappings.empty()) j["uidMappings"] = maps(l.uidMappings);
  if (!l.gidMappings.empty()) j["gidMappings"] = maps(l.gidMappings);
  if (!l.sysctl.empty()) j["sysctl"] = l.sysctl;
  if (l.resources) j["resources"] = resourcesJson(*l.resources);
  if (!l.cgroupsPath.empty()) j["cgroupsPath"] = l.cgroupsPath;
  J ns = J::array();
  for (const auto& n : l.namespaces) {
    J e = {{"type", std::string(namespaceTypeName(n.type))}};
    if (!n.path.empty()) e["path"] = n.path;
    ns.push_back(e);
  }
  j["namespaces"] = ns;
  if (!l.devices.empty()) {
    J a = J::array();
    for (const auto& d : l.devices) {
      J e = {{"type", d.type}, {"path", d.path}, {"major", d.major}, {"minor", d.minor}};
      putOpt(e, "fileMode", d.fileMode);
      putOpt(e, "uid", d.uid);
      putOpt(e, "gid", d.gid);
      a.push_back(e);
    }
    j["devices"] = a;
  }
  if (l.seccomp) j["seccomp"] = seccompJson(*l.seccomp);
  if (!l.rootfsPropagation.empty()) j["rootfsPropagation"] = l.rootfsPropagation;
  putStrs(j, "maskedPaths", l.maskedPaths);
  putStrs(j, "readonlyPaths", l.readonlyPaths);
  if (!l.mountLabel.empty()) j["mountLabel"] = l.mountLabel;
  if (!l.timeOffsets.empty()) {
    J t = J::object();
    for (const auto& [k, v] : l.timeOffsets) t[k] = {{"secs", v}, {"nanosecs", 0}};
    j["timeOffsets"] = t;
  }
  return j;
}

}  // namespace

std::string toJson(const Spec& s) {
  J j;
  j["ociVersion"] = s.ociVersion;
  if (s.process) j["process"] = processJson(*s.process);
  if (s.root) j["root"] = {{"path", s.root->path}, {"readonly", s.root->readonly}};
  if (!s.hostname.empty()) j["hostname"] = s.hostname;
  if (!s.domainname.empty()) j["domainname"] = s.domainname;
  J m = J::array();
  for (const auto& x : s.mounts) {
    J e = {{"destination", x.destination}};
    if (!x.type.empty()) e["type"] = x.type;
    if (!x.source.empty()) e["source"] = x.source;
    putStrs(e, "options", x.options);
    m.push_back(e);
  }
  j["mounts"] = m;
  if (!s.hooks.empty()) {
    J h = J::object();
    auto list = [&](const char* key, const std::vector<Hook>& v) {
      if (v.empty()) return;
      J a = J::array();
      for (const auto& x : v) a.push_back(hookJson(x));
      h[key] = a;
    };
    list("prestart", s.hooks.prestart);
    list("createRuntime", s.hooks.createRuntime);
    list("createContainer", s.hooks.createContainer);
    list("startContainer", s.hooks.startContainer);
    list("poststart", s.hooks.poststart);
    list("poststop", s.hooks.poststop);
    j["hooks"] = h;
  }
  if (!s.annotations.empty()) j["annotations"] = s.annotations;
  if (s.linux) j["linux"] = linuxJson(*s.linux);
  return j.dump(2) + "\n";
}

Spec defaultSpec() {
  Spec s;
  Process p;
  p.terminal = true;
  p.args = {"sh"};
  p.env = {"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "TERM=xterm"};
  p.cwd = "/";
  std::vector<std::string> caps = {"CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"};
  p.capabilities = Capabilities{caps, caps, {}, caps, {}};
  p.rlimits = {{"RLIMIT_NOFILE", 1024, 1024}};
  p.noNewPrivileges = true;
  s.process = p;
  s.root = Root{"rootfs", true};
  s.hostname = "runc";
  s.mounts = {
      {"/proc", "proc", "proc", {}, {}, {}},
      {"/dev", "tmpfs", "tmpfs", {"nosuid", "strictatime", "mode=755", "size=65536k"}, {}, {}},
      {"/dev/pts", "devpts", "devpts",
       {"nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"}, {}, {}},
      {"/dev/shm", "tmpfs", "shm", {"nosuid", "noexec", "nodev", "mode=1777", "size=65536k"}, {}, {}},
      {"/dev/mqueue", "mqueue", "mqueue", {"nosuid", "noexec", "nodev"}, {}, {}},
      {"/sys", "sysfs", "sysfs", {"nosuid", "noexec", "nodev", "ro"}, {}, {}},
      {"/sys/fs/cgroup", "cgroup", "cgroup", {"nosuid", "noexec", "nodev", "relatime", "ro"}, {}, {}},
  };
  Linux l;
  l.resources = Resources{};
  l.resources->devices = {{false, "", std::nullopt, std::nullopt, "rwm"}};
  l.namespaces = {{NamespaceType::kPid, {}}, {NamespaceType::kNetwork, {}},
                  {NamespaceType::kIpc, {}}, {NamespaceType::kUts, {}},
                  {NamespaceType::kMount, {}}};
  l.maskedPaths = {"/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys",
                   "/proc/latency_stats", "/proc/timer_list", "/proc/timer_stats",
                   "/proc/sched_debug", "/sys/firmware", "/proc/scsi"};
  l.readonlyPaths = {"/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"};
  s.linux = l;
  return s;
}

Spec rootlessSpec(uint32_t uid, uint32_t gid) {
  Spec s = defaultSpec();
  auto& l = *s.linux;
  l.resources.reset();
  std::erase_if(l.namespaces, [](const Namespace& n) { return n.type == NamespaceType::kNetwork; });
  l.namespaces.push_back({NamespaceType::kUser, {}});
  l.uidMappings = {{0, uid, 1}};
  l.gidMappings = {{0, gid, 1}};
  std::erase_if(s.mounts, [](const Mount& m) {
    return m.destination == "/sys" || m.destination == "/sys/fs/cgroup";
  });
  for (auto& m : s.mounts)
    if (m.destination == "/dev/pts") std::erase(m.options, "gid=5");
  s.mounts.push_back({"/sys", "none", "/sys", {"rbind", "nosuid", "noexec", "nodev", "ro"}, {}, {}});
  return s;
}

}  // namespace berth::oci
