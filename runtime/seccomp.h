#pragma once
/// seccomp via libseccomp. compileSeccomp() runs in the caller and validates everything (bad
/// action, arch, op or flag -> one-line error); the child only loads the compiled filter.

#include <memory>
#include <vector>
#include <string>

#include "common/error.h"
#include "oci/runtime_spec.h"

namespace berth::runtime {

class SeccompFilter {
 public:
  ~SeccompFilter();
  SeccompFilter(const SeccompFilter&) = delete;
  SeccompFilter& operator=(const SeccompFilter&) = delete;
  /// Load into the calling process (child side). With a listener, returns the notify fd.
  Result<int> load();
  bool wantsListener() const { return !listenerPath_.empty(); }
  const std::string& listenerPath() const { return listenerPath_; }
  const std::string& listenerMetadata() const { return listenerMetadata_; }

 private:
  friend Result<std::unique_ptr<SeccompFilter>> compileSeccomp(const oci::Seccomp&);
  SeccompFilter() = default;
  void* ctx_ = nullptr;
  std::string listenerPath_, listenerMetadata_;
};

/// Build a filter from linux.seccomp. Unknown syscall names are skipped (as runc does: the
/// profile may name syscalls newer than this libseccomp).
Result<std::unique_ptr<SeccompFilter>> compileSeccomp(const oci::Seccomp& s);

/// Names for `features`.
const std::vector<std::string>& seccompActionNames();
const std::vector<std::string>& seccompArchNames();
const std::vector<std::string>& seccompOpNames();
const std::vector<std::string>& seccompFlagNames();

}  // namespace berth::runtime
