#pragma once
/// The mount planner: turns a spec's root, mounts, devices and masked/readonly paths into an
/// ordered list of steps, without touching the system (unit-tested without root). The
/// container init executes the plan (rootfs.cc), resolving every target inside the rootfs.

#include <sys/types.h>

#include <string>
#include <vector>

#include "common/error.h"
#include "oci/runtime_spec.h"

namespace berth::runtime {

/// Mount options split into mount(2) flags, propagation flags and the data string.
struct MountOptions {
  unsigned long flags = 0;        ///< MS_RDONLY, MS_NOSUID, ... (MS_BIND|MS_REC for rbind)
  unsigned long clearFlags = 0;   ///< flags explicitly turned off (rw, suid, ...)
  unsigned long propagation = 0;  ///< MS_PRIVATE|MS_REC, MS_SHARED, ...
  std::string data;               ///< "mode=755,size=65536k"
  bool bind() const;
};
/// Errors: an option berth cannot honour (e.g. "idmap") -> kUnsupported naming it.
Result<MountOptions> parseMountOptions(const std::vector<std::string>& options);

struct MountStep {
  enum class Kind {
    kMount,   ///< mount(source, target, type, flags, data)
    kBind,    ///< bind mount of a host path, then a remount for flags
    kCgroup,  ///< /sys/fs/cgroup: tmpfs + the container's cgroup dirs bound in
  };
  Kind kind = Kind::kMount;
  std::string source;  ///< host path for binds
  std::string target;  ///< absolute path inside the container
  std::string type;
  MountOptions options;
  bool targetIsFile = false;  ///< bind of a non-directory: create an empty file as target
  bool operator==(const MountStep& o) const {
    return kind == o.kind && source == o.source && target == o.target && type == o.type &&
           options.flags == o.options.flags && options.data == o.options.data &&
           targetIsFile == o.targetIsFile;
  }
};

struct DeviceNode {
  std::string path;  ///< absolute inside the container
  char type = 'c';   ///< 'c' 'b' 'p'
  uint32_t major = 0, minor = 0;
  uint32_t mode = 0666;
  uint32_t uid = 0, gid = 0;
};

struct MountPlan {
  std::string rootfs;                 ///< absolute host path
  unsigned long rootPropagation = 0;  ///< applied to "/" first (default MS_SLAVE|MS_REC)
  bool readonlyRoot = false;
  std::vector<MountStep> steps;
  bool defaultDevices = false;      ///< /dev is a fresh mount: create default nodes + links
  std::vector<DeviceNode> devices;  ///< default + linux.devices
  bool bindDevices = false;         ///< user namespace: bind host nodes instead of mknod
  std::vector<std::pair<std::string, std::string>> symlinks;  ///< link path -> target
  std::vector<std::string> maskedPaths, readonlyPaths;
};

/// Plan the container's file system. `rootfs` is the absolute host path of root.path.
/// Errors: relative mount destinations, "..", unsupported options.
Result<MountPlan> planMounts(const oci::Spec& spec, const std::string& rootfs, bool userns);

/// Default device nodes every container gets (null zero full random urandom tty).
std::vector<DeviceNode> defaultDeviceNodes();

}  // namespace berth::runtime
