// Pure mount planning (see mount_plan.h).
#include "runtime/mount_plan.h"

#include <sys/mount.h>
#include <sys/stat.h>

#include <cstring>

#include "common/fs.h"
#include "runtime/lsm.h"

namespace berth::runtime {
namespace {

struct FlagOpt {
  const char* name;
  bool clear;
  unsigned long flag;
};
const FlagOpt kFlags[] = {
    {"ro", false, MS_RDONLY},          {"rw", true, MS_RDONLY},
    {"nosuid", false, MS_NOSUID},      {"suid", true, MS_NOSUID},
    {"nodev", false, MS_NODEV},        {"dev", true, MS_NODEV},
    {"noexec", false, MS_NOEXEC},      {"exec", true, MS_NOEXEC},
    {"sync", false, MS_SYNCHRONOUS},   {"async", true, MS_SYNCHRONOUS},
    {"dirsync", false, MS_DIRSYNC},    {"remount", false, MS_REMOUNT},
    {"mand", false, MS_MANDLOCK},      {"nomand", true, MS_MANDLOCK},
    {"noatime", false, MS_NOATIME},    {"atime", true, MS_NOATIME},
    {"nodiratime", false, MS_NODIRATIME}, {"diratime", true, MS_NODIRATIME},
    {"relatime", false, MS_RELATIME},  {"norelatime", true, MS_RELATIME},
    {"strictatime", false, MS_STRICTATIME}, {"nostrictatime", true, MS_STRICTATIME},
    {"lazytime", false, MS_LAZYTIME},  {"nolazytime", true, MS_LAZYTIME},
    {"silent", false, MS_SILENT},      {"loud", true, MS_SILENT},
    {"bind", false, MS_BIND},          {"rbind", false, MS_BIND | MS_REC},
#ifdef MS_NOSYMFOLLOW
    {"nosymfollow", false, MS_NOSYMFOLLOW}, {"symfollow", true, MS_NOSYMFOLLOW},
#endif
};

struct PropOpt {
  const char* name;
  unsigned long flag;
};
const PropOpt kProps[] = {
    {"private", MS_PRIVATE},   {"rprivate", MS_PRIVATE | MS_REC},
    {"shared", MS_SHARED},     {"rshared", MS_SHARED | MS_REC},
    {"slave", MS_SLAVE},       {"rslave", MS_SLAVE | MS_REC},
    {"unbindable", MS_UNBINDABLE}, {"runbindable", MS_UNBINDABLE | MS_REC},
};

Result<std::string> cleanDest(const std::string& dest, const char* what) {
  if (dest.empty() || dest[0] != '/')
    return fail(ErrorCode::kInvalidArgument,
                std::string(what) + " \"" + dest + "\": must be an absolute path");
  std::string c = fs::clean(dest);
  return c;
}

bool isDir(const std::string& p) {
  struct stat st;
  return ::stat(p.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

}  // namespace

bool MountOptions::bind() const { return (flags & MS_BIND) != 0; }

Result<MountOptions> parseMountOptions(const std::vector<std::string>& options) {
  MountOptions o;
  for (const auto& opt : options) {
    bool done = false;
    for (const auto& f : kFlags)
      if (opt == f.name) {
        if (f.clear) {
          o.flags &= ~f.flag;
          o.clearFlags |= f.flag;
        } else {
          o.flags |= f.flag;
          o.clearFlags &= ~f.flag;
        }
        done = true;
        break;
      }
    if (done) continue;
    for (const auto& p : kProps)
      if (opt == p.name) {
        o.propagation = p.flag;
        done = true;
        break;
      }
    if (done) continue;
    if (opt == "idmap" || opt == "ridmap" || opt.rfind("X-mount.idmap", 0) == 0)
      return fail(ErrorCode::kUnsupported, "mount option \"" + opt + "\" is not supported");
    if (opt == "tmpcopyup" || opt == "defaults" || opt == "rro" || opt == "rrw") {
      if (opt == "rro") o.flags |= MS_RDONLY;
      continue;
    }
    if (!o.data.empty()) o.data += ",";
    o.data += opt;
  }
  return o;
}

std::vector<DeviceNode> defaultDeviceNodes() {
  return {{"/dev/null", 'c', 1, 3},    {"/dev/zero", 'c', 1, 5},
          {"/dev/full", 'c', 1, 7},    {"/dev/random", 'c', 1, 8},
          {"/dev/urandom", 'c', 1, 9}, {"/dev/tty", 'c', 5, 0}};
}

Result<MountPlan> planMounts(const oci::Spec& spec, const std::string& rootfs, bool userns) {
  MountPlan plan;
  plan.rootfs = rootfs;
  plan.readonlyRoot = spec.root && spec.root->readonly;
  plan.rootPropagation = MS_SLAVE | MS_REC;
  if (spec.linux && !spec.linux->rootfsPropagation.empty()) {
    BERTH_ASSIGN(auto o, parseMountOptions({spec.linux->rootfsPropagation}));
    plan.rootPropagation = o.propagation;
  }
  bool devMounted = false, devptsMounted = false, procMounted = false;
  for (size_t i = 0; i < spec.mounts.size(); ++i) {
    const auto& m = spec.mounts[i];
    std::string field = "mounts[" + std::to_string(i) + "].destination";
    BERTH_ASSIGN(std::string dest, cleanDest(m.destination, field.c_str()));
    BERTH_ASSIGN(MountOptions opts, parseMountOptions(m.options));
    MountStep step;
    step.target = dest;
    step.type = m.type;
    step.source = m.source;
    step.options = opts;
    if (m.type == "bind" || opts.bind()) {
      step.kind = MountStep::Kind::kBind;
      step.options.flags |= MS_BIND;
      if (step.source.empty())
        return fail(ErrorCode::kInvalidArgument, "mounts[" + std::to_string(i) + "]: bind needs a source");
      step.targetIsFile = !isDir(step.source);
    } else if (m.type == "cgroup" || m.type == "cgroup2") {
      step.kind = MountStep::Kind::kCgroup;
    } else {
      if (m.type.empty())
        return fail(ErrorCode::kInvalidArgument, "mounts[" + std::to_string(i) + "].type: required");
      step.kind = MountStep::Kind::kMount;
      if (m.type == "sysfs" && userns) {
        // A fresh sysfs needs a net namespace owned by the container's user namespace; with
        // a user namespace we bind the host's read-only instead (what runc does too).
        step.kind = MountStep::Kind::kBind;
        step.source = "/sys";
        step.options.flags |= MS_BIND | MS_REC | MS_RDONLY;
      }
    }
    // SELinux: the filesystems the runtime creates carry the container's mount label.
    if (step.kind == MountStep::Kind::kMount && spec.linux && !spec.linux->mountLabel.empty() &&
        (m.type == "tmpfs" || m.type == "devpts" || m.type == "mqueue")) {
      if (!step.options.data.empty()) step.options.data += ",";
      step.options.data += lsm::mountLabelOption(spec.linux->mountLabel);
    }
    if (dest == "/dev" && step.kind == MountStep::Kind::kMount) devMounted = true;
    if (dest == "/dev/pts" && m.type == "devpts") devptsMounted = true;
    if (dest == "/proc") procMounted = true;
    plan.steps.push_back(std::move(step));
  }
  plan.bindDevices = userns;
  if (devMounted) {
    plan.defaultDevices = true;
    plan.devices = defaultDeviceNodes();
    plan.symlinks = {{"/dev/fd", "/proc/self/fd"},
                     {"/dev/stdin", "/proc/self/fd/0"},
                     {"/dev/stdout", "/proc/self/fd/1"},
                     {"/dev/stderr", "/proc/self/fd/2"}};
    if (procMounted) plan.symlinks.push_back({"/dev/core", "/proc/kcore"});
    if (devptsMounted) plan.symlinks.push_back({"/dev/ptmx", "pts/ptmx"});
  }
  if (spec.linux) {
    for (const auto& d : spec.linux->devices) {
      BERTH_ASSIGN(std::string p, cleanDest(d.path, "linux.devices path"));
      DeviceNode n;
      n.path = p;
      n.type = d.type == "u" ? 'c' : d.type[0];
      n.major = static_cast<uint32_t>(d.major);
      n.minor = static_cast<uint32_t>(d.minor);
      n.mode = d.fileMode.value_or(0666) & 07777;
      n.uid = d.uid.value_or(0);
      n.gid = d.gid.value_or(0);
      // A spec device replaces a default one at the same path.
      std::erase_if(plan.devices, [&](const DeviceNode& x) { return x.path == n.path; });
      plan.devices.push_back(n);
    }
    for (const auto& p : spec.linux->maskedPaths) {
      BERTH_ASSIGN(std::string c, cleanDest(p, "linux.maskedPaths"));
      plan.maskedPaths.push_back(c);
    }
    for (const auto& p : spec.linux->readonlyPaths) {
      BERTH_ASSIGN(std::string c, cleanDest(p, "linux.readonlyPaths"));
      plan.readonlyPaths.push_back(c);
    }
  }
  return plan;
}

}  // namespace berth::runtime
