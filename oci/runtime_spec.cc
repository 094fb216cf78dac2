// config.json parsing: a strict walk over the nlohmann tree. Inside this file a FieldError
// exception carries the failing field's path up to parseSpec, which turns it into a Result;
// no exception leaves the file.
#include "oci/runtime_spec.h"

#include <limits>
#include <nlohmann/json.hpp>

namespace berth::oci {
namespace {

using nlohmann::json;

struct FieldError {
  std::string path, what;
};

[[noreturn]] void bad(const std::string& path, const std::string& what) {
  throw FieldError{path, what};
}

std::string sub(const std::string& p, std::string_view key) {
  return p.empty() ? std::string(key) : p + "." + std::string(key);
}
std::string idx(const std::string& p, size_t i) { return p + "[" + std::to_string(i) + "]"; }

void wantObject(const json& j, const std::string& p) {
  if (!j.is_object()) bad(p, "expected object");
}

std::string asString(const json& j, const std::string& p) {
  if (!j.is_string()) bad(p, "expected string");
  return j.get<std::string>();
}
bool asBool(const json& j, const std::string& p) {
  if (!j.is_boolean()) bad(p, "expected boolean");
  return j.get<bool>();
}
int64_t asI64(const json& j, const std::string& p) {
  if (j.is_number_unsigned()) {
    if (j.get<uint64_t>() > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()))
      bad(p, "number out of range");
    return static_cast<int64_t>(j.get<uint64_t>());
  }
  if (!j.is_number_integer()) bad(p, "expected integer");
  return j.get<int64_t>();
}
uint64_t asU64(const json& j, const std::string& p) {
  if (j.is_number_unsigned()) return j.get<uint64_t>();
  if (j.is_number_integer()) {
    if (j.get<int64_t>() < 0) bad(p, "expected non-negative integer");
    return static_cast<uint64_t>(j.get<int64_t>());
  }
  bad(p, "expected integer");
}
uint32_t asU32(const json& j, const std::string& p) {
  uint64_t v = asU64(j, p);
  if (v > std::numeric_limits<uint32_t>::max()) bad(p, "number out of range");
  return static_cast<uint32_t>(v);
}
uint16_t asU16(const json& j, const std::string& p) {
  uint64_t v = asU64(j, p);
  if (v > std::numeric_limits<uint16_t>::max()) bad(p, "number out of range");
  return static_cast<uint16_t>(v);
}

std::vector<std::string> asStrings(const json& j, const std::string& p) {
  if (!j.is_array()) bad(p, "expected array of strings");
  std::vector<std::string> out;
  out.reserve(j.size());
  for (size_t i = 0; i < j.size(); ++i) out.push_back(asString(j[i], idx(p, i)));
  return out;
}

std::map<std::string, std::string> asStringMap(const json& j, const std::string& p) {
  wantObject(j, p);
  std::map<std::string, std::string> out;
  for (auto it = j.begin(); it != j.end(); ++it) out[it.key()] = asString(*it, sub(p, it.key()));
  return out;
}

/// Field lookup: nullptr if absent or JSON null.
const json* field(const json& obj, std::string_view key) {
  auto it = obj.find(key);
  if (it == obj.end() || it->is_null()) return nullptr;
  return &*it;
}

template <typename T, typename F>
std::vector<T> asArray(const json& j, const std::string& p, F each) {
  if (!j.is_array()) bad(p, "expected array");
  std::vector<T> out;
  out.reserve(j.size());
  for (size_t i = 0; i < j.size(); ++i) out.push_back(each(j[i], idx(p, i)));
  return out;
}

// Helpers that assign optional fields when present.
#define OPT(obj, path, key, conv, target) \
  if (const json* _f = field(obj, key)) target = conv(*_f, sub(path, key))

Rlimit parseRlimit(const json& j, const std::string& p) {
  wantObject(j, p);
  Rlimit r;
  const json* t = field(j, "type");
  if (!t) bad(sub(p, "type"), "required");
  r.type = asString(*t, sub(p, "type"));
  OPT(j, p, "hard", asU64, r.hard);
  OPT(j, p, "soft", asU64, r.soft);
  return r;
}

Capabilities parseCaps(const json& j, const std::string& p) {
  wantObject(j, p);
  Capabilities c;
  OPT(j, p, "bounding", asStrings, c.bounding);
  OPT(j, p, "effective", asStrings, c.effective);
  OPT(j, p, "inheritable", asStrings, c.inheritable);
  OPT(j, p, "permitted", asStrings, c.permitted);
  OPT(j, p, "ambient", asStrings, c.ambient);
  return c;
}

Process parseProcessAt(const json& j, const std::string& p) {
  wantObject(j, p);
  Process pr;
  OPT(j, p, "terminal", asBool, pr.terminal);
  if (const json* cs = field(j, "consoleSize")) {
    wantObject(*cs, sub(p, "consoleSize"));
    ConsoleSize c;
    OPT(*cs, sub(p, "consoleSize"), "height", asU32, c.height);
    OPT(*cs, sub(p, "consoleSize"), "width", asU32, c.width);
    pr.consoleSize = c;
  }
  if (const json* u = field(j, "user")) {
    std::string up = sub(p, "user");
    wantObject(*u, up);
    OPT(*u, up, "uid", asU32, pr.user.uid);
    OPT(*u, up, "gid", asU32, pr.user.gid);
    OPT(*u, up, "umask", asU32, pr.user.umask);
    if (const json* g = field(*u, "additionalGids"))
      pr.user.additionalGids = asArray<uint32_t>(*g, sub(up, "additionalGids"), asU32);
    OPT(*u, up, "username", asString, pr.user.username);
  }
  OPT(j, p, "args", asStrings, pr.args);
  OPT(j, p, "env", asStrings, pr.env);
  OPT(j, p, "cwd", asString, pr.cwd);
  if (const json* c = field(j, "capabilities")) pr.capabilities = parseCaps(*c, sub(p, "capabilities"));
  if (const json* r = field(j, "rlimits"))
    pr.rlimits = asArray<Rlimit>(*r, sub(p, "rlimits"), parseRlimit);
  OPT(j, p, "noNewPrivileges", asBool, pr.noNewPrivileges);
  OPT(j, p, "apparmorProfile", asString, pr.apparmorProfile);
  if (const json* o = field(j, "oomScoreAdj")) {
    int64_t v = asI64(*o, sub(p, "oomScoreAdj"));
    if (v < -1000 || v > 1000) bad(sub(p, "oomScoreAdj"), "must be in [-1000, 1000]");
    pr.oomScoreAdj = static_cast<int>(v);
  }
  OPT(j, p, "selinuxLabel", asString, pr.selinuxLabel);
  return pr;
}

Mount parseMount(const json& j, const std::string& p) {
  wantObject(j, p);
  Mount m;
  const json* d = field(j, "destination");
  if (!d) bad(sub(p, "destination"), "required");
  m.destination = asString(*d, sub(p, "destination"));
  if (m.destination.empty()) bad(sub(p, "destination"), "must not be empty");
  OPT(j, p, "type", asString, m.type);
  OPT(j, p, "source", asString, m.source);
  OPT(j, p, "options", asStrings, m.options);
  return m;
}

Hook parseHook(const json& j, const std::string& p) {
  wantObject(j, p);
  Hook h;
  const json* path = field(j, "path");
  if (!path) bad(sub(p, "path"), "required");
  h.path = asString(*path, sub(p, "path"));
  if (h.path.empty() || h.path[0] != '/') bad(sub(p, "path"), "must be an absolute path");
  OPT(j, p, "args", asStrings, h.args);
  OPT(j, p, "env", asStrings, h.env);
  if (const json* t = field(j, "timeout")) {
    int64_t v = asI64(*t, sub(p, "timeout"));
    if (v <= 0) bad(sub(p, "timeout"), "must be greater than zero");
    h.timeout = static_cast<int>(std::min<int64_t>(v, std::numeric_limits<int>::max()));
  }
  return h;
}

Hooks parseHooks(const json& j, const std::string& p) {
  wantObject(j, p);
  Hooks h;
  auto list = [&](const char* key, std::vector<Hook>& out) {
    if (const json* a = field(j, key)) out = asArray<Hook>(*a, sub(p, key), parseHook);
  };
  list("prestart", h.prestart);
  list("createRuntime", h.createRuntime);
  list("createContainer", h.createContainer);
  list("startContainer", h.startContainer);
  list("poststart", h.poststart);
  list("poststop", h.poststop);
  return h;
}

IdMapping parseIdMapping(const json& j, const std::string& p) {
  wantObject(j, p);
  IdMapping m;
  for (auto [key, target] : {std::pair{"containerID", &m.containerID},
                             std::pair{"hostID", &m.hostID}, std::pair{"size", &m.size}}) {
    const json* f = field(j, key);
    if (!f) bad(sub(p, key), "required");
    *target = asU32(*f, sub(p, key));
  }
  return m;
}

Namespace parseNamespace(const json& j, const std::string& p) {
  wantObject(j, p);
  const json* t = field(j, "type");
  if (!t) bad(sub(p, "type"), "required");
  std::string name = asString(*t, sub(p, "type"));
  auto type = parseNamespaceType(name);
  if (!type) bad(sub(p, "type"), "unknown namespace type \"" + name + "\"");
  Namespace ns{*type, {}};
  OPT(j, p, "path", asString, ns.path);
  if (!ns.path.empty() && ns.path[0] != '/') bad(sub(p, "path"), "must be an absolute path");
  return ns;
}

Device parseDevice(const json& j, const std::string& p) {
  wantObject(j, p);
  Device d;
  const json* t = field(j, "type");
  if (!t) bad(sub(p, "type"), "required");
  d.type = asString(*t, sub(p, "type"));
  if (d.type != "c" && d.type != "b" && d.type != "u" && d.type != "p")
    bad(sub(p, "type"), "must be one of c, b, u, p");
  const json* path = field(j, "path");
  if (!path) bad(sub(p, "path"), "required");
  d.path = asString(*path, sub(p, "path"));
  if (d.path.empty() || d.path[0] != '/') bad(sub(p, "path"), "must be an absolute path");
  OPT(j, p, "major", asI64, d.major);
  OPT(j, p, "minor", asI64, d.minor);
  OPT(j, p, "fileMode", asU32, d.fileMode);
  OPT(j, p, "uid", asU32, d.uid);
  OPT(j, p, "gid", asU32, d.gid);
  return d;
}

DeviceCgroupRule parseDeviceRule(const json& j, const std::string& p) {
  wantObject(j, p);
  DeviceCgroupRule r;
  const json* a = field(j, "allow");
  if (!a) bad(sub(p, "allow"), "required");
  r.allow = asBool(*a, sub(p, "allow"));
  OPT(j, p, "type", asString, r.type);
  if (!r.type.empty() && r.type != "a" && r.type != "c" && r.type != "b")
    bad(sub(p, "type"), "must be one of a, c, b");
  OPT(j, p, "major", asI64, r.major);
  OPT(j, p, "minor", asI64, r.minor);
  OPT(j, p, "access", asString, r.access);
  for (char c : r.access)
    if (c != 'r' && c != 'w' && c != 'm') bad(sub(p, "access"), "must be made of r, w, m");
  return r;
}

WeightDevice parseWeightDevice(const json& j, const std::string& p) {
  wantObject(j, p);
  WeightDevice w;
  OPT(j, p, "major", asI64, w.major);
  OPT(j, p, "minor", asI64, w.minor);
  OPT(j, p, "weight", asU16, w.weight);
  OPT(j, p, "leafWeight", asU16, w.leafWeight);
  return w;
}
ThrottleDevice parseThrottle(const json& j, const std::string& p) {
  wantObject(j, p);
  ThrottleDevice t;
  OPT(j, p, "major", asI64, t.major);
  OPT(j, p, "minor", asI64, t.minor);
  OPT(j, p, "rate", asU64, t.rate);
  return t;
}

Resources parseResourcesAt(const json& j, const std::string& p) {
  wantObject(j, p);
  Resources r;
  if (const json* d = field(j, "devices"))
    r.devices = asArray<DeviceCgroupRule>(*d, sub(p, "devices"), parseDeviceRule);
  if (const json* m = field(j, "memory")) {
    std::string mp = sub(p, "memory");
    wantObject(*m, mp);
    MemoryResources mr;
    OPT(*m, mp, "limit", asI64, mr.limit);
    OPT(*m, mp, "reservation", asI64, mr.reservation);
    OPT(*m, mp, "swap", asI64, mr.swap);
    OPT(*m, mp, "kernel", asI64, mr.kernel);
    OPT(*m, mp, "kernelTCP", asI64, mr.kernelTCP);
    OPT(*m, mp, "swappiness", asU64, mr.swappiness);
    OPT(*m, mp, "disableOOMKiller", asBool, mr.disableOOMKiller);
    OPT(*m, mp, "useHierarchy", asBool, mr.useHierarchy);
    OPT(*m, mp, "checkBeforeUpdate", asBool, mr.checkBeforeUpdate);
    r.memory = mr;
  }
  if (const json* c = field(j, "cpu")) {
    std::string cp = sub(p, "cpu");
    wantObject(*c, cp);
    CpuResources cr;
    OPT(*c, cp, "shares", asU64, cr.shares);
    OPT(*c, cp, "quota", asI64, cr.quota);
    OPT(*c, cp, "burst", asI64, cr.burst);
    OPT(*c, cp, "period", asU64, cr.period);
    OPT(*c, cp, "realtimeRuntime", asI64, cr.realtimeRuntime);
    OPT(*c, cp, "realtimePeriod", asU64, cr.realtimePeriod);
    OPT(*c, cp, "cpus", asString, cr.cpus);
    OPT(*c, cp, "mems", asString, cr.mems);
    OPT(*c, cp, "idle", asI64, cr.idle);
    r.cpu = cr;
  }
  if (const json* pids = field(j, "pids")) {
    std::string pp = sub(p, "pids");
    wantObject(*pids, pp);
    const json* l = field(*pids, "limit");
    if (!l) bad(sub(pp, "limit"), "required");
    r.pids = PidsResources{asI64(*l, sub(pp, "limit"))};
  }
  if (const json* b = field(j, "blockIO")) {
    std::string bp = sub(p, "blockIO");
    wantObject(*b, bp);
    BlockIoResources br;
    OPT(*b, bp, "weight", asU16, br.weight);
    OPT(*b, bp, "leafWeight", asU16, br.leafWeight);
    if (const json* w = field(*b, "weightDevice"))
      br.weightDevice = asArray<WeightDevice>(*w, sub(bp, "weightDevice"), parseWeightDevice);
    auto thr = [&](const char* key, std::vector<ThrottleDevice>& out) {
      if (const json* t = field(*b, key))
        out = asArray<ThrottleDevice>(*t, sub(bp, key), parseThrottle);
    };
    thr("throttleReadBpsDevice", br.throttleReadBpsDevice);
    thr("throttleWriteBpsDevice", br.throttleWriteBpsDevice);
    thr("throttleReadIOPSDevice", br.throttleReadIOPSDevice);
    thr("throttleWriteIOPSDevice", br.throttleWriteIOPSDevice);
    r.blockIO = br;
  }
  if (const json* h = field(j, "hugepageLimits")) {
    r.hugepageLimits = asArray<HugepageLimit>(*h, sub(p, "hugepageLimits"),
                                              [](const json& e, const std::string& ep) {
                                                wantObject(e, ep);
                                                HugepageLimit l;
                                                OPT(e, ep, "pageSize", asString, l.pageSize);
                                                OPT(e, ep, "limit", asU64, l.limit);
                                                return l;
                                              });
  }
  if (const json* n = field(j, "network")) {
    std::string np = sub(p, "network");
    wantObject(*n, np);
    NetworkResources nr;
    OPT(*n, np, "classID", asU32, nr.classID);
    if (const json* pr = field(*n, "priorities")) {
      nr.priorities = asArray<std::pair<std::string, uint32_t>>(
          *pr, sub(np, "priorities"), [](const json& e, const std::string& ep) {
            wantObject(e, ep);
            std::pair<std::string, uint32_t> out;
            OPT(e, ep, "name", asString, out.first);
            OPT(e, ep, "priority", asU32, out.second);
            return out;
          });
    }
    r.network = nr;
  }
  OPT(j, p, "unified", asStringMap, r.unified);
  return r;
}

Seccomp parseSeccomp(const json& j, const std::string& p) {
  wantObject(j, p);
  Seccomp s;
  const json* d = field(j, "defaultAction");
  if (!d) bad(sub(p, "defaultAction"), "required");
  s.defaultAction = asString(*d, sub(p, "defaultAction"));
  OPT(j, p, "defaultErrnoRet", asU32, s.defaultErrnoRet);
  OPT(j, p, "architectures", asStrings, s.architectures);
  OPT(j, p, "flags", asStrings, s.flags);
  OPT(j, p, "listenerPath", asString, s.listenerPath);
  OPT(j, p, "listenerMetadata", asString, s.listenerMetadata);
  if (const json* sc = field(j, "syscalls")) {
    s.syscalls = asArray<SeccompSyscall>(*sc, sub(p, "syscalls"), [](const json& e,
                                                                       const std::string& ep) {
      wantObject(e, ep);
      SeccompSyscall c;
      const json* n = field(e, "names");
      if (!n) bad(sub(ep, "names"), "required");
      c.names = asStrings(*n, sub(ep, "names"));
      const json* a = field(e, "action");
      if (!a) bad(sub(ep, "action"), "required");
      c.action = asString(*a, sub(ep, "action"));
      OPT(e, ep, "errnoRet", asU32, c.errnoRet);
      if (const json* args = field(e, "args")) {
        c.args = asArray<SeccompArg>(*args, sub(ep, "args"), [](const json& x,
                                                                  const std::string& xp) {
          wantObject(x, xp);
          SeccompArg arg;
          OPT(x, xp, "index", asU32, arg.index);
          OPT(x, xp, "value", asU64, arg.value);
          OPT(x, xp, "valueTwo", asU64, arg.valueTwo);
          const json* op = field(x, "op");
          if (!op) bad(sub(xp, "op"), "required");
          arg.op = asString(*op, sub(xp, "op"));
          return arg;
        });
      }
      return c;
    });
  }
  return s;
}

Linux parseLinux(const json& j, const std::string& p) {
  wantObject(j, p);
  Linux l;
  if (const json* m = field(j, "uidMappings"))
    l.uidMappings = asArray<IdMapping>(*m, sub(p, "uidMappings"), parseIdMapping);
  if (const json* m = field(j, "gidMappings"))
    l.gidMappings = asArray<IdMapping>(*m, sub(p, "gidMappings"), parseIdMapping);
  OPT(j, p, "sysctl", asStringMap, l.sysctl);
  if (const json* r = field(j, "resources")) l.resources = parseResourcesAt(*r, sub(p, "resources"));
  OPT(j, p, "cgroupsPath", asString, l.cgroupsPath);
  if (const json* n = field(j, "namespaces")) {
    l.namespaces = asArray<Namespace>(*n, sub(p, "namespaces"), parseNamespace);
    for (size_t i = 0; i < l.namespaces.size(); ++i)
      for (size_t k = 0; k < i; ++k)
        if (l.namespaces[i].type == l.namespaces[k].type)
          bad(idx(sub(p, "namespaces"), i), "duplicate namespace type");
  }
  if (const json* d = field(j, "devices"))
    l.devices = asArray<Device>(*d, sub(p, "devices"), parseDevice);
  if (const json* s = field(j, "seccomp")) l.seccomp = parseSeccomp(*s, sub(p, "seccomp"));
  OPT(j, p, "rootfsPropagation", asString, l.rootfsPropagation);
  if (!l.rootfsPropagation.empty()) {
    static const char* kOk[] = {"private", "rprivate", "slave", "rslave", "shared", "rshared",
                                "unbindable", "runbindable"};
    bool ok = false;
    for (auto* k : kOk) ok |= l.rootfsPropagation == k;
    if (!ok) bad(sub(p, "rootfsPropagation"), "unknown propagation \"" + l.rootfsPropagation + "\"");
  }
  OPT(j, p, "maskedPaths", asStrings, l.maskedPaths);
  OPT(j, p, "readonlyPaths", asStrings, l.readonlyPaths);
  OPT(j, p, "mountLabel", asString, l.mountLabel);
  if (const json* t = field(j, "timeOffsets")) {
    wantObject(*t, sub(p, "timeOffsets"));
    for (auto it = t->begin(); it != t->end(); ++it) {
      std::string tp = sub(sub(p, "timeOffsets"), it.key());
      wantObject(*it, tp);
      int64_t secs = 0;
      OPT(*it, tp, "secs", asI64, secs);
      l.timeOffsets[it.key()] = secs;
    }
  }
  return l;
}

Spec parseSpecAt(const json& j) {
  wantObject(j, "");
  Spec s;
  const json* v = field(j, "ociVersion");
  if (!v) bad("ociVersion", "required");
  s.ociVersion = asString(*v, "ociVersion");
  if (const json* pr = field(j, "process")) s.process = parseProcessAt(*pr, "process");
  if (const json* r = field(j, "root")) {
    wantObject(*r, "root");
    Root root;
    const json* path = field(*r, "path");
    if (!path) bad("root.path", "required");
    root.path = asString(*path, "root.path");
    if (root.path.empty()) bad("root.path", "must not be empty");
    OPT(*r, "root", "readonly", asBool, root.readonly);
    s.root = root;
  }
  OPT(j, "", "hostname", asString, s.hostname);
  OPT(j, "", "domainname", asString, s.domainname);
  if (const json* m = field(j, "mounts")) s.mounts = asArray<Mount>(*m, "mounts", parseMount);
  if (const json* h = field(j, "hooks")) s.hooks = parseHooks(*h, "hooks");
  OPT(j, "", "annotations", asStringMap, s.annotations);
  if (const json* l = field(j, "linux")) s.linux = parseLinux(*l, "linux");
  return s;
}

template <typename T, typename F>
Result<T> parseWith(std::string_view text, std::string_view what, F fn) {
  json j = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) {
    // Re-parse with exceptions only to get the position for the message.
    try {
      json again = json::parse(text);
      (void)again;
    } catch (const json::parse_error& e) {
      return fail(ErrorCode::kInvalidArgument,
                  std::string(what) + ": invalid JSON at byte " + std::to_string(e.byte));
    }
    return fail(ErrorCode::kInvalidArgument, std::string(what) + ": invalid JSON");
  }
  try {
    return fn(j);
  } catch (const FieldError& e) {
    return fail(ErrorCode::kInvalidArgument,
                std::string(what) + ": " + (e.path.empty() ? "" : e.path + ": ") + e.what);
  } catch (const json::exception& e) {
    return fail(ErrorCode::kInvalidArgument, std::string(what) + ": " + e.what());
  }
}

}  // namespace

std::string_view namespaceTypeName(NamespaceType t) {
  switch (t) {
    case NamespaceType::kPid: return "pid";
    case NamespaceType::kNetwork: return "network";
    case NamespaceType::kMount: return "mount";
    case NamespaceType::kIpc: return "ipc";
    case NamespaceType::kUts: return "uts";
    case NamespaceType::kUser: return "user";
    case NamespaceType::kCgroup: return "cgroup";
    case NamespaceType::kTime: return "time";
  }
  return "?";
}

std::optional<NamespaceType> parseNamespaceType(std::string_view n) {
  for (auto t : {NamespaceType::kPid, NamespaceType::kNetwork, NamespaceType::kMount,
                 NamespaceType::kIpc, NamespaceType::kUts, NamespaceType::kUser,
                 NamespaceType::kCgroup, NamespaceType::kTime})
    if (namespaceTypeName(t) == n) return t;
  return std::nullopt;
}

bool Linux::hasNamespace(NamespaceType t) const { return findNamespace(t) != nullptr; }
const Namespace* Linux::findNamespace(NamespaceType t) const {
  for (const auto& n : namespaces)
    if (n.type == t) return &n;
  return nullptr;
}

Result<Spec> parseSpec(std::string_view text) {
  return parseWith<Spec>(text, "config.json", [](const json& j) { return parseSpecAt(j); });
}
Result<Process> parseProcess(std::string_view text) {
  return parseWith<Process>(text, "process.json",
                            [](const json& j) { return parseProcessAt(j, ""); });
}
Result<Resources> parseResources(std::string_view text) {
  return parseWith<Resources>(text, "resources",
                              [](const json& j) { return parseResourcesAt(j, ""); });
}

}  // namespace berth::oci
