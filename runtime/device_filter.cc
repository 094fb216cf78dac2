// The cgroup v2 device program: emitter (pure) and bpf(2) load/attach/detach.
#include "runtime/device_filter.h"

#include <fcntl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstring>

#include "common/unique_fd.h"

namespace berth::runtime {
namespace {

// Registers: r1 ctx (then scratch), r2 device type, r3 access bits still undecided,
// r4 major, r5 minor. struct bpf_cgroup_dev_ctx { u32 access_type; u32 major; u32 minor; }
// with access_type = access << 16 | type.
constexpr uint8_t kCtx = BPF_REG_1, kTmp = BPF_REG_1, kType = BPF_REG_2, kAccess = BPF_REG_3,
                  kMajor = BPF_REG_4, kMinor = BPF_REG_5;
constexpr int32_t kAllAccess = BPF_DEVCG_ACC_MKNOD | BPF_DEVCG_ACC_READ | BPF_DEVCG_ACC_WRITE;
constexpr int16_t kToNext = 0x7fff;  // placeholder offset: "to the next rule's block"

bpf_insn insn(uint8_t code, uint8_t dst, uint8_t src, int16_t off, int32_t imm) {
  bpf_insn i{};
  i.code = code;
  i.dst_reg = dst & 0xf;
  i.src_reg = src & 0xf;
  i.off = off;
  i.imm = imm;
  return i;
}
bpf_insn ldxW(uint8_t dst, uint8_t src, int16_t off) {
  return insn(BPF_LDX | BPF_MEM | BPF_W, dst, src, off, 0);
}
bpf_insn movReg(uint8_t dst, uint8_t src) { return insn(BPF_ALU64 | BPF_MOV | BPF_X, dst, src, 0, 0); }
bpf_insn movImm(uint8_t dst, int32_t v) { return insn(BPF_ALU64 | BPF_MOV | BPF_K, dst, 0, 0, v); }
bpf_insn andImm(uint8_t dst, int32_t v) { return insn(BPF_ALU64 | BPF_AND | BPF_K, dst, 0, 0, v); }
bpf_insn rshImm(uint8_t dst, int32_t v) { return insn(BPF_ALU64 | BPF_RSH | BPF_K, dst, 0, 0, v); }
bpf_insn jneNext(uint8_t dst, int32_t v) { return insn(BPF_JMP | BPF_JNE | BPF_K, dst, 0, kToNext, v); }
bpf_insn jeqNext(uint8_t dst, int32_t v) { return insn(BPF_JMP | BPF_JEQ | BPF_K, dst, 0, kToNext, v); }
bpf_insn exitInsn() { return insn(BPF_JMP | BPF_EXIT, 0, 0, 0, 0); }

struct Rule {
  bool allow;
  int32_t type;  // 0 = any, else BPF_DEVCG_DEV_*
  int64_t major, minor;  // -1 = any
  int32_t access;
};

Result<Rule> normalize(const oci::DeviceCgroupRule& d, size_t index) {
  std::string where = "linux.resources.devices[" + std::to_string(index) + "]";
  Rule r{d.allow, 0, d.major.value_or(-1), d.minor.value_or(-1), 0};
  if (d.type.empty() || d.type == "a") r.type = 0;
  else if (d.type == "c") r.type = BPF_DEVCG_DEV_CHAR;
  else if (d.type == "b") r.type = BPF_DEVCG_DEV_BLOCK;
  else return fail(ErrorCode::kInvalidArgument, where + ".type: \"" + d.type + "\" is not a, b or c");
  for (int64_t v : {r.major, r.minor})
    if (v < -1 || v > INT32_MAX)
      return fail(ErrorCode::kInvalidArgument, where + ": device number " + std::to_string(v) +
                                                   " out of range");
  for (char c : d.access.empty() ? std::string("rwm") : d.access) {
    if (c == 'r') r.access |= BPF_DEVCG_ACC_READ;
    else if (c == 'w') r.access |= BPF_DEVCG_ACC_WRITE;
    else if (c == 'm') r.access |= BPF_DEVCG_ACC_MKNOD;
    else
      return fail(ErrorCode::kInvalidArgument,
                  where + ".access: \"" + d.access + "\" is not a subset of \"rwm\"");
  }
  return r;
}

bool catchAll(const Rule& r) {
  return r.type == 0 && r.major == -1 && r.minor == -1 && r.access == kAllAccess;
}

uint64_t ptr(const void* p) { return static_cast<uint64_t>(reinterpret_cast<uintptr_t>(p)); }

long bpf(int cmd, union bpf_attr* attr) {
  return ::syscall(SYS_bpf, cmd, attr, sizeof(*attr));
}

UniqueFd openDir(const std::string& dir) {
  return UniqueFd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
}

Result<std::vector<uint32_t>> queryIds(int dirFd, const std::string& dir) {
  std::vector<uint32_t> ids(64);
  union bpf_attr a;
  std::memset(&a, 0, sizeof a);
  a.query.target_fd = static_cast<uint32_t>(dirFd);
  a.query.attach_type = BPF_CGROUP_DEVICE;
  a.query.prog_ids = ptr(ids.data());
  a.query.prog_cnt = static_cast<uint32_t>(ids.size());
  if (bpf(BPF_PROG_QUERY, &a) < 0) return failErrno("bpf query device programs of " + dir);
  ids.resize(std::min<size_t>(a.query.prog_cnt, ids.size()));
  return ids;
}

Result<void> detachIds(int dirFd, const std::string& dir, const std::vector<uint32_t>& ids) {
  for (uint32_t id : ids) {
    union bpf_attr a;
    std::memset(&a, 0, sizeof a);
    a.prog_id = id;
    UniqueFd prog(static_cast<int>(bpf(BPF_PROG_GET_FD_BY_ID, &a)));
    if (!prog) {
      if (errno == ENOENT) continue;  // already gone
      return failErrno("bpf open device program " + std::to_string(id));
    }
    std::memset(&a, 0, sizeof a);
    a.target_fd = static_cast<uint32_t>(dirFd);
    a.attach_bpf_fd = static_cast<uint32_t>(prog.get());
    a.attach_type = BPF_CGROUP_DEVICE;
    if (bpf(BPF_PROG_DETACH, &a) < 0 && errno != ENOENT)
      return failErrno("bpf detach device program from " + dir);
  }
  return {};
}

}  // namespace

Result<BpfProgram> buildDeviceFilter(const std::vector<oci::DeviceCgroupRule>& rules) {
  std::vector<Rule> rs;
  for (size_t i = 0; i < rules.size(); ++i) {
    BERTH_ASSIGN(Rule r, normalize(rules[i], i));
    rs.push_back(r);
  }
  // Rules before the last catch-all can never decide anything: it becomes the default.
  int32_t defaultAllow = 1;
  size_t first = 0;
  for (size_t i = rs.size(); i-- > 0;)
    if (catchAll(rs[i])) {
      defaultAllow = rs[i].allow ? 1 : 0;
      first = i + 1;
      break;
    }

  BpfProgram p = {ldxW(kType, kCtx, 0), movReg(kAccess, kType), rshImm(kAccess, 16), andImm(kType, 0xffff),
       ldxW(kMajor, kCtx, 4), ldxW(kMinor, kCtx, 8)};
  // Last rule first: the first block that decides a requested bit is the last matching rule.
  for (size_t i = rs.size(); i-- > first;) {
    const Rule& r = rs[i];
    BpfProgram b;
    if (r.type) b.push_back(jneNext(kType, r.type));
    if (r.major >= 0) b.push_back(jneNext(kMajor, static_cast<int32_t>(r.major)));
    if (r.minor >= 0) b.push_back(jneNext(kMinor, static_cast<int32_t>(r.minor)));
    b.push_back(movReg(kTmp, kAccess));
    b.push_back(andImm(kTmp, r.access));
    b.push_back(jeqNext(kTmp, 0));  // names none of the undecided bits
    if (!r.allow) {
      b.push_back(movImm(BPF_REG_0, 0));
      b.push_back(exitInsn());
    } else {
      b.push_back(andImm(kAccess, ~r.access & kAllAccess));
      b.push_back(jneNext(kAccess, 0));  // bits left for earlier rules
      b.push_back(movImm(BPF_REG_0, 1));
      b.push_back(exitInsn());
    }
    for (size_t k = 0; k < b.size(); ++k)
      if (b[k].off == kToNext) b[k].off = static_cast<int16_t>(b.size() - k - 1);
    p.insert(p.end(), b.begin(), b.end());
  }
  p.push_back(movImm(BPF_REG_0, defaultAllow));
  p.push_back(exitInsn());
  if (p.size() > 1000000)  // the kernel's limit for privileged loaders
    return fail(ErrorCode::kInvalidArgument, "linux.resources.devices: too many rules (" +
                                                 std::to_string(rules.size()) + ")");
  return p;
}

Result<std::vector<uint32_t>> attachedDeviceFilters(const std::string& dir) {
  UniqueFd d = openDir(dir);
  if (!d) return failErrno("open cgroup " + dir);
  return queryIds(d.get(), dir);
}

Result<void> attachDeviceFilter(const std::string& dir, const BpfProgram& prog) {
  UniqueFd d = openDir(dir);
  if (!d) return failErrno("open cgroup " + dir);
  static const char kLicense[] = "Apache-2.0";
  union bpf_attr a;
  std::memset(&a, 0, sizeof a);
  a.prog_type = BPF_PROG_TYPE_CGROUP_DEVICE;
  a.insns = ptr(prog.data());
  a.insn_cnt = static_cast<uint32_t>(prog.size());
  a.license = ptr(kLicense);
  UniqueFd fd(static_cast<int>(bpf(BPF_PROG_LOAD, &a)));
  if (!fd) {
    int err = errno;
    // Load again with the verifier log, for its last line in the error.
    std::string log(16384, '\0');
    a.log_level = 1;
    a.log_buf = ptr(log.data());
    a.log_size = static_cast<uint32_t>(log.size());
    UniqueFd again(static_cast<int>(bpf(BPF_PROG_LOAD, &a)));
    log.resize(std::strlen(log.c_str()));
    while (!log.empty() && log.back() == '\n') log.pop_back();
    auto nl = log.rfind('\n');
    std::string last = nl == std::string::npos ? log : log.substr(nl + 1);
    return failErrno("bpf load device program" + (last.empty() ? "" : " (" + last + ")"), err);
  }
  BERTH_ASSIGN(auto old, queryIds(d.get(), dir));
  std::memset(&a, 0, sizeof a);
  a.target_fd = static_cast<uint32_t>(d.get());
  a.attach_bpf_fd = static_cast<uint32_t>(fd.get());
  a.attach_type = BPF_CGROUP_DEVICE;
  a.attach_flags = BPF_F_ALLOW_MULTI;
  if (bpf(BPF_PROG_ATTACH, &a) < 0) return failErrno("bpf attach device program to " + dir);
  // Until here the old programs still applied: never a window without a filter.
  return detachIds(d.get(), dir, old);
}

Result<void> detachDeviceFilters(const std::string& dir) {
  UniqueFd d = openDir(dir);
  if (!d) {
    if (errno == ENOENT) return {};
    return failErrno("open cgroup " + dir);
  }
  BERTH_ASSIGN(auto ids, queryIds(d.get(), dir));
  return detachIds(d.get(), dir, ids);
}

}  // namespace berth::runtime
