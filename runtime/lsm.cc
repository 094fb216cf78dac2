#include "runtime/lsm.h"

#include <cerrno>

#include "common/fs.h"
#include "runtime/sys.h"

namespace berth::runtime::lsm {

bool apparmorEnabled() {
  auto t = fs::readFile("/sys/module/apparmor/parameters/enabled");
  return t && !t->empty() && (*t)[0] == 'Y';
}

bool selinuxEnabled() { return fs::exists("/sys/fs/selinux/enforce"); }

Result<void> check(const oci::Spec& spec) {
  if (spec.process && !spec.process->apparmorProfile.empty() && !apparmorEnabled())
    return fail(ErrorCode::kUnsupported,
                "process.apparmorProfile: AppArmor is not enabled on this host");
  bool wantsLabel = spec.process && !spec.process->selinuxLabel.empty();
  bool wantsMountLabel = spec.linux && !spec.linux->mountLabel.empty();
  if ((wantsLabel || wantsMountLabel) && !selinuxEnabled())
    return fail(ErrorCode::kUnsupported,
                std::string(wantsLabel ? "process.selinuxLabel" : "linux.mountLabel") +
                    ": SELinux is not enabled on this host");
  for (auto* s : {spec.process ? &spec.process->selinuxLabel : nullptr,
                  spec.linux ? &spec.linux->mountLabel : nullptr})
    if (s && s->find_first_of("\"\n,") != std::string::npos)
      return fail(ErrorCode::kInvalidArgument, "SELinux label " + *s + ": invalid character");
  return {};
}

std::string apparmorExecText(const std::string& profile) { return "exec " + profile; }

std::string mountLabelOption(const std::string& label) { return "context=\"" + label + "\""; }

namespace {
/// Writes `text` to the first of `paths` that exists.
Result<void> writeAttr(std::initializer_list<std::string> paths, const std::string& text,
                       const char* what) {
  for (auto& p : paths) {
    auto r = writeKernelFile(p, text);
    if (!r && r.error().is(ENOENT)) continue;
    if (!r) return fail(r.error().context(what));
    return {};
  }
  return fail(ErrorCode::kUnsupported, std::string(what) + ": no LSM attribute file in /proc");
}
}  // namespace

Result<void> setExecAttributes(const oci::Process& proc, const std::string& procDir) {
  if (!proc.apparmorProfile.empty())
    BERTH_TRY(writeAttr({procDir + "/thread-self/attr/apparmor/exec",
                         procDir + "/thread-self/attr/exec"},
                        apparmorExecText(proc.apparmorProfile),
                        ("apparmor profile " + proc.apparmorProfile).c_str()));
  if (!proc.selinuxLabel.empty())
    BERTH_TRY(writeAttr({procDir + "/thread-self/attr/exec"}, proc.selinuxLabel,
                        ("selinux label " + proc.selinuxLabel).c_str()));
  return {};
}

}  // namespace berth::runtime::lsm
