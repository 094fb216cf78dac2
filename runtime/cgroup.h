#pragma once
/// cgroups: one manager interface (Cgroups) with three drivers chosen by the host layout:
///  - v1: one hierarchy per controller (/sys/fs/cgroup/<ctrl>);
///  - v2: the unified hierarchy (/sys/fs/cgroup);
///  - hybrid: v1 controllers plus cgroup2 at /sys/fs/cgroup/unified. The container is placed
///    in both; each controller is driven where it is attached (v1 if mounted there, else v2).
/// Limits are first planned as a list of (controller, file, value) writes by pure functions
/// (planV1 / planV2, unit-tested), then written through Sys.

#include <sys/types.h>

#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "common/error.h"
#include "oci/runtime_spec.h"
#include "runtime/sys.h"

namespace berth::runtime {

enum class CgroupMode { kV1, kV2, kHybrid };

struct CgroupLayout {
  CgroupMode mode = CgroupMode::kV2;
  std::map<std::string, std::string> v1;  ///< controller -> mount point (v1, hybrid)
  std::string unified;                    ///< cgroup2 mount point (v2, hybrid), "" if none
  std::set<std::string> v2Controllers;    ///< from <unified>/cgroup.controllers
};

/// Read the layout from /proc/self/mountinfo (cached after the first call in a process).
Result<CgroupLayout> detectCgroupLayout(Sys& sys);
/// Parse mountinfo text (for tests).
CgroupLayout parseCgroupLayout(std::string_view mountinfo, Sys& sys);

/// One planned write: <cgroup dir of controller>/<file> = value.
struct CgroupWrite {
  std::string controller;
  std::string file;
  std::string value;
  bool operator==(const CgroupWrite&) const = default;
};

/// Plan v1 writes for `r`. Errors: invalid values (e.g. cpu quota with period 0).
Result<std::vector<CgroupWrite>> planV1(const oci::Resources& r);
/// Plan v2 writes for `r` (converting v1-style shares/weights as runc/crun do).
Result<std::vector<CgroupWrite>> planV2(const oci::Resources& r);
/// v1 shares (2..262144) -> v2 cpu.weight (1..10000).
uint64_t sharesToWeight(uint64_t shares);
/// v1 blkio weight (10..1000) -> v2 io.weight (1..10000).
uint64_t blkioToIoWeight(uint64_t w);

/// Where a container's cgroups are, as recorded in the state file.
struct CgroupPaths {
  CgroupMode mode = CgroupMode::kV2;
  std::map<std::string, std::string> v1;  ///< controller -> absolute dir
  std::string unified;                    ///< absolute dir, "" if none
};

class Cgroups {
 public:
  virtual ~Cgroups() = default;
  /// Create the directories (cpuset v1: inherit cpus/mems; v2: enable controllers up the tree).
  virtual Result<void> create() = 0;
  /// Write the limits. Controllers asked for but missing on the host are an error.
  virtual Result<void> apply(const oci::Resources& r) = 0;
  /// Move `pid` into every hierarchy.
  virtual Result<void> addProcess(pid_t pid) = 0;
  virtual Result<void> freeze(bool frozen) = 0;
  virtual Result<bool> isFrozen() = 0;
  /// Every pid in the container's cgroup (v1: pids/memory/freezer, v2: unified).
  virtual Result<std::vector<pid_t>> pids() = 0;
  /// SIGKILL every remaining process and remove the directories (missing is fine).
  virtual Result<void> destroy() = 0;
  virtual const CgroupPaths& paths() const = 0;
};

/// Resolve `cgroupsPath` (absolute: from each hierarchy's root; relative: from the caller's own
/// cgroup; empty: "/berth/<id>") into per-hierarchy dirs and return the matching driver.
/// `selfCgroup` is /proc/self/cgroup's text.
Result<std::unique_ptr<Cgroups>> openCgroups(Sys& sys, const CgroupLayout& layout,
                                             const std::string& cgroupsPath,
                                             const std::string& id,
                                             std::string_view selfCgroup);
/// Re-open from recorded paths (for state/kill/delete/pause).
std::unique_ptr<Cgroups> openCgroups(Sys& sys, const CgroupPaths& paths);

std::string_view cgroupModeName(CgroupMode m);

}  // namespace berth::runtime
