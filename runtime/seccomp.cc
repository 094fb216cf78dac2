// linux.seccomp -> libseccomp filter.
#include "runtime/seccomp.h"

#include <seccomp.h>

#include <cstring>
#include <vector>

namespace berth::runtime {
namespace {

struct Named {
  const char* name;
  uint32_t value;
};

const Named kArchs[] = {
    {"SCMP_ARCH_X86", SCMP_ARCH_X86},         {"SCMP_ARCH_X86_64", SCMP_ARCH_X86_64},
    {"SCMP_ARCH_X32", SCMP_ARCH_X32},         {"SCMP_ARCH_ARM", SCMP_ARCH_ARM},
    {"SCMP_ARCH_AARCH64", SCMP_ARCH_AARCH64}, {"SCMP_ARCH_MIPS", SCMP_ARCH_MIPS},
    {"SCMP_ARCH_MIPS64", SCMP_ARCH_MIPS64},   {"SCMP_ARCH_MIPS64N32", SCMP_ARCH_MIPS64N32},
    {"SCMP_ARCH_MIPSEL", SCMP_ARCH_MIPSEL},   {"SCMP_ARCH_MIPSEL64", SCMP_ARCH_MIPSEL64},
    {"SCMP_ARCH_MIPSEL64N32", SCMP_ARCH_MIPSEL64N32}, {"SCMP_ARCH_PPC", SCMP_ARCH_PPC},
    {"SCMP_ARCH_PPC64", SCMP_ARCH_PPC64},     {"SCMP_ARCH_PPC64LE", SCMP_ARCH_PPC64LE},
    {"SCMP_ARCH_S390", SCMP_ARCH_S390},       {"SCMP_ARCH_S390X", SCMP_ARCH_S390X},
    {"SCMP_ARCH_PARISC", SCMP_ARCH_PARISC},   {"SCMP_ARCH_PARISC64", SCMP_ARCH_PARISC64},
    {"SCMP_ARCH_RISCV64", SCMP_ARCH_RISCV64},
};

const Named kOps[] = {
    {"SCMP_CMP_NE", SCMP_CMP_NE}, {"SCMP_CMP_LT", SCMP_CMP_LT},
    {"SCMP_CMP_LE", SCMP_CMP_LE}, {"SCMP_CMP_EQ", SCMP_CMP_EQ},
    {"SCMP_CMP_GE", SCMP_CMP_GE}, {"SCMP_CMP_GT", SCMP_CMP_GT},
    {"SCMP_CMP_MASKED_EQ", SCMP_CMP_MASKED_EQ},
};

const char* const kActions[] = {"SCMP_ACT_KILL", "SCMP_ACT_KILL_PROCESS", "SCMP_ACT_KILL_THREAD",
                                "SCMP_ACT_TRAP", "SCMP_ACT_ERRNO", "SCMP_ACT_TRACE",
                                "SCMP_ACT_ALLOW", "SCMP_ACT_LOG", "SCMP_ACT_NOTIFY"};
const char* const kFlags[] = {"SECCOMP_FILTER_FLAG_TSYNC", "SECCOMP_FILTER_FLAG_LOG",
                              "SECCOMP_FILTER_FLAG_SPEC_ALLOW",
                              "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV"};

Result<uint32_t> action(const std::string& a, std::optional<uint32_t> errnoRet, const std::string& field) {
  uint32_t e = errnoRet.value_or(EPERM);
  if (a == "SCMP_ACT_KILL" || a == "SCMP_ACT_KILL_THREAD") return SCMP_ACT_KILL_THREAD;
  if (a == "SCMP_ACT_KILL_PROCESS") return SCMP_ACT_KILL_PROCESS;
  if (a == "SCMP_ACT_TRAP") return SCMP_ACT_TRAP;
  if (a == "SCMP_ACT_ERRNO") return SCMP_ACT_ERRNO(e);
  if (a == "SCMP_ACT_TRACE") return SCMP_ACT_TRACE(e);
  if (a == "SCMP_ACT_ALLOW") return SCMP_ACT_ALLOW;
  if (a == "SCMP_ACT_LOG") return SCMP_ACT_LOG;
  if (a == "SCMP_ACT_NOTIFY") return SCMP_ACT_NOTIFY;
  return fail(ErrorCode::kInvalidArgument, field + ": unknown action \"" + a + "\"");
}

std::vector<std::string> names(const auto& table) {
  std::vector<std::string> v;
  for (const auto& x : table) {
    if constexpr (std::is_same_v<std::decay_t<decltype(x)>, Named>) v.emplace_back(x.name);
    else v.emplace_back(x);
  }
  return v;
}

}  // namespace

SeccompFilter::~SeccompFilter() {
  if (ctx_) seccomp_release(static_cast<scmp_filter_ctx>(ctx_));
}

Result<int> SeccompFilter::load() {
  int rc = seccomp_load(static_cast<scmp_filter_ctx>(ctx_));
  if (rc < 0) return failErrno("load seccomp filter", -rc);
  if (listenerPath_.empty()) return -1;
  int fd = seccomp_notify_fd(static_cast<scmp_filter_ctx>(ctx_));
  if (fd < 0) return failErrno("seccomp notify fd", -fd);
  return fd;
}

Result<std::unique_ptr<SeccompFilter>> compileSeccomp(const oci::Seccomp& s) {
  const std::string base = "linux.seccomp";
  BERTH_ASSIGN(uint32_t def, action(s.defaultAction, s.defaultErrnoRet, base + ".defaultAction"));
  std::unique_ptr<SeccompFilter> f(new SeccompFilter());
  scmp_filter_ctx ctx = seccomp_init(def);
  if (!ctx) return fail(ErrorCode::kInternal, "seccomp_init failed");
  f->ctx_ = ctx;
  f->listenerPath_ = s.listenerPath;
  f->listenerMetadata_ = s.listenerMetadata;
  for (const auto& a : s.architectures) {
    uint32_t arch = 0;
    for (const auto& k : kArchs)
      if (a == k.name) arch = k.value;
    if (!arch) return fail(ErrorCode::kInvalidArgument, base + ".architectures: unknown \"" + a + "\"");
    int rc = seccomp_arch_add(ctx, arch);
    if (rc < 0 && rc != -EEXIST) return failErrno("seccomp add arch " + a, -rc);
  }
  bool notify = s.defaultAction == "SCMP_ACT_NOTIFY";
  for (const auto& fl : s.flags) {
    int rc = 0;
    if (fl == "SECCOMP_FILTER_FLAG_TSYNC") rc = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_TSYNC, 1);
    else if (fl == "SECCOMP_FILTER_FLAG_LOG") rc = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_LOG, 1);
    else if (fl == "SECCOMP_FILTER_FLAG_SPEC_ALLOW") rc = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_SSB, 1);
    else if (fl == "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV") rc = 0;
    else return fail(ErrorCode::kInvalidArgument, base + ".flags: unknown \"" + fl + "\"");
    if (rc < 0) return failErrno("seccomp flag " + fl, -rc);
  }
  for (size_t i = 0; i < s.syscalls.size(); ++i) {
    const auto& sc = s.syscalls[i];
    std::string field = base + ".syscalls[" + std::to_string(i) + "]";
    BERTH_ASSIGN(uint32_t act, action(sc.action, sc.errnoRet, field + ".action"));
    notify |= sc.action == "SCMP_ACT_NOTIFY";
    if (act == def) continue;  // libseccomp rejects rules equal to the default action
    std::vector<scmp_arg_cmp> conds;
    bool dupIndex = false;
    for (const auto& a : sc.args) {
      int op = -1;
      for (const auto& k : kOps)
        if (a.op == k.name) op = static_cast<int>(k.value);
      if (op < 0) return fail(ErrorCode::kInvalidArgument, field + ".args: unknown op \"" + a.op + "\"");
      if (a.index > 5) return fail(ErrorCode::kInvalidArgument, field + ".args: index > 5");
      for (const auto& c : conds) dupIndex |= c.arg == a.index;
      conds.push_back({a.index, static_cast<scmp_compare>(op), a.value, a.valueTwo});
    }
    for (const auto& name : sc.names) {
      int nr = seccomp_syscall_resolve_name(name.c_str());
      if (nr == __NR_SCMP_ERROR) continue;
      int rc;
      if (!dupIndex) {
        rc = seccomp_rule_add_array(ctx, act, nr, static_cast<unsigned>(conds.size()), conds.data());
      } else {
        // libseccomp refuses two conditions on one argument in a rule: one rule each (OR).
        rc = 0;
        for (const auto& c : conds)
          if ((rc = seccomp_rule_add_array(ctx, act, nr, 1, &c)) < 0) break;
      }
      if (rc < 0) return failErrno(field + ": add rule for " + name, -rc);
    }
  }
  if (notify && s.listenerPath.empty())
    return fail(ErrorCode::kInvalidArgument, base + ": SCMP_ACT_NOTIFY needs listenerPath");
  return f;
}

const std::vector<std::string>& seccompActionNames() {
  static auto v = names(kActions);
  return v;
}
const std::vector<std::string>& seccompArchNames() {
  static auto v = names(kArchs);
  return v;
}
const std::vector<std::string>& seccompOpNames() {
  static auto v = names(kOps);
  return v;
}
const std::vector<std::string>& seccompFlagNames() {
  static auto v = names(kFlags);
  return v;
}

}  // namespace berth::runtime
