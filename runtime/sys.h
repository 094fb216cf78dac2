#pragma once
/// Sys: the thin file-system interface the cgroup managers write through, so their logic is
/// unit-tested against a recording fake (see cgroup_test.cc) and run for real on cgroupfs.

#include <sys/types.h>

#include <string>
#include <string_view>
#include <vector>

#include "common/error.h"
#include "runtime/device_filter.h"

namespace berth::runtime {

/// Write `data` to an existing kernel interface file (procfs: uid_map, oom_score_adj,
/// attr/exec, ...) with one write(2): such files take a value whole or refuse it. A short
/// write is an error too.
Result<void> writeKernelFile(const std::string& path, std::string_view data);

class Sys {
 public:
  virtual ~Sys() = default;
  /// Write `data` to an existing file (O_WRONLY|O_TRUNC, no create), as cgroupfs wants.
  virtual Result<void> writeFile(const std::string& path, std::string_view data) = 0;
  virtual Result<std::string> readFile(const std::string& path) = 0;
  /// mkdir; an existing directory is not an error.
  virtual Result<void> mkdir(const std::string& path, mode_t mode) = 0;
  /// rmdir; a missing directory is not an error.
  virtual Result<void> rmdir(const std::string& path) = 0;
  virtual bool exists(const std::string& path) = 0;
  /// Attach `prog` as the device program of cgroup2 dir `dir`, replacing the previous one
  /// (see attachDeviceFilter).
  virtual Result<void> setDeviceFilter(const std::string& dir, const BpfProgram& prog) = 0;
  /// Detach the device programs of `dir` (none, or a missing dir, is fine).
  virtual Result<void> clearDeviceFilter(const std::string& dir) = 0;
};

/// The real kernel.
Sys& realSys();

}  // namespace berth::runtime
