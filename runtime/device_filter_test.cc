// The cgroup v2 device program emitter, run through a small BPF interpreter written here and
// compared with an independent model of the rules' semantics (no root, no kernel).
#include "runtime/device_filter.h"

#include <gtest/gtest.h>

#include <optional>

namespace berth::runtime {
namespace {

struct Req {
  int type;    // BPF_DEVCG_DEV_CHAR / BPF_DEVCG_DEV_BLOCK
  uint32_t major, minor;
  int access;  // BPF_DEVCG_ACC_* bits
};

/// Interprets exactly the instructions a device program may use; anything else, a jump out of
/// the program, a read of an unset register or running off the end fails the test.
std::optional<int64_t> run(const BpfProgram& p, const Req& q) {
  uint32_t ctx[3] = {static_cast<uint32_t>(q.access) << 16 | static_cast<uint32_t>(q.type), q.major,
                     q.minor};
  uint64_t reg[11] = {};
  bool set[11] = {};
  set[1] = true;  // r1 = ctx (kept symbolic: only LDX from r1 is allowed while it is the ctx)
  bool r1IsCtx = true;
  auto get = [&](int r) -> std::optional<uint64_t> {
    if (!set[r] || (r == 1 && r1IsCtx)) return std::nullopt;
    return reg[r];
  };
  for (size_t pc = 0, steps = 0; pc < p.size() && steps < 100000; ++pc, ++steps) {
    const bpf_insn& i = p[pc];
    int64_t imm = i.imm;
    switch (i.code) {
      case BPF_LDX | BPF_MEM | BPF_W:
        if (i.src_reg != 1 || !r1IsCtx || i.off < 0 || i.off > 8 || i.off % 4) {
          ADD_FAILURE() << "bad ctx load at " << pc;
          return std::nullopt;
        }
        reg[i.dst_reg] = ctx[i.off / 4];
        set[i.dst_reg] = true;
        if (i.dst_reg == 1) r1IsCtx = false;
        break;
      case BPF_ALU64 | BPF_MOV | BPF_X: {
        auto v = get(i.src_reg);
        if (!v) return ADD_FAILURE() << "mov from unset r" << int(i.src_reg), std::nullopt;
        reg[i.dst_reg] = *v;
        set[i.dst_reg] = true;
        if (i.dst_reg == 1) r1IsCtx = false;
        break;
      }
      case BPF_ALU64 | BPF_MOV | BPF_K:
        reg[i.dst_reg] = static_cast<uint64_t>(imm);
        set[i.dst_reg] = true;
        if (i.dst_reg == 1) r1IsCtx = false;
        break;
      case BPF_ALU64 | BPF_AND | BPF_K:
      case BPF_ALU64 | BPF_RSH | BPF_K: {
        auto v = get(i.dst_reg);
        if (!v) return ADD_FAILURE() << "alu on unset r" << int(i.dst_reg), std::nullopt;
        reg[i.dst_reg] = (i.code & 0xf0) == BPF_AND ? *v & static_cast<uint64_t>(imm) : *v >> imm;
        break;
      }
      case BPF_JMP | BPF_JEQ | BPF_K:
      case BPF_JMP | BPF_JNE | BPF_K: {
        auto v = get(i.dst_reg);
        if (!v) return ADD_FAILURE() << "jump on unset r" << int(i.dst_reg), std::nullopt;
        bool eq = *v == static_cast<uint64_t>(imm);
        if (eq == ((i.code & 0xf0) == BPF_JEQ)) {
          if (i.off < 0 || pc + 1 + i.off >= p.size())
            return ADD_FAILURE() << "jump out of program at " << pc, std::nullopt;
          pc += i.off;
        }
        break;
      }
      case BPF_JMP | BPF_EXIT:
        if (!set[0]) return ADD_FAILURE() << "exit with r0 unset", std::nullopt;
        return static_cast<int64_t>(reg[0]);
      default:
        ADD_FAILURE() << "unexpected opcode 0x" << std::hex << int(i.code) << " at " << std::dec << pc;
        return std::nullopt;
    }
  }
  ADD_FAILURE() << "ran off the end";
  return std::nullopt;
}

/// The semantics, written independently: per requested bit, the last rule matching the device
/// and naming the bit decides; unnamed bits default to allow.
bool model(const std::vector<oci::DeviceCgroupRule>& rules, const Req& q) {
  for (int bit : {BPF_DEVCG_ACC_MKNOD, BPF_DEVCG_ACC_READ, BPF_DEVCG_ACC_WRITE}) {
    if (!(q.access & bit)) continue;
    bool allowed = true;
    for (const auto& r : rules) {
      char t = q.type == BPF_DEVCG_DEV_CHAR ? 'c' : 'b';
      if (!r.type.empty() && r.type != "a" && r.type[0] != t) continue;
      if (r.major && *r.major >= 0 && *r.major != q.major) continue;
      if (r.minor && *r.minor >= 0 && *r.minor != q.minor) continue;
      std::string acc = r.access.empty() ? "rwm" : r.access;
      char letter = bit == BPF_DEVCG_ACC_MKNOD ? 'm' : bit == BPF_DEVCG_ACC_READ ? 'r' : 'w';
      if (acc.find(letter) == std::string::npos) continue;
      allowed = r.allow;
    }
    if (!allowed) return false;
  }
  return true;
}

oci::DeviceCgroupRule rule(bool allow, std::string type, std::optional<int64_t> maj,
                           std::optional<int64_t> min, std::string access) {
  return {allow, std::move(type), maj, min, std::move(access)};
}

/// Every request over a small device space agrees with the model.
void checkAll(const std::vector<oci::DeviceCgroupRule>& rules) {
  auto p = buildDeviceFilter(rules);
  ASSERT_TRUE(p) << p.error().message();
  for (int type : {BPF_DEVCG_DEV_CHAR, BPF_DEVCG_DEV_BLOCK})
    for (uint32_t maj : {0u, 1u, 5u, 136u})
      for (uint32_t min : {0u, 3u, 5u, 9u})
        for (int acc = 1; acc <= 7; ++acc) {
          Req q{type, maj, min, acc};
          auto got = run(*p, q);
          ASSERT_TRUE(got);
          EXPECT_EQ(*got, model(rules, q) ? 1 : 0)
              << "type " << type << " " << maj << ":" << min << " access " << acc;
        }
}

constexpr int R = BPF_DEVCG_ACC_READ, W = BPF_DEVCG_ACC_WRITE, M = BPF_DEVCG_ACC_MKNOD;
constexpr int C = BPF_DEVCG_DEV_CHAR, B = BPF_DEVCG_DEV_BLOCK;

TEST(DeviceFilter, EmptyListAllowsEverything) {
  auto p = buildDeviceFilter({});
  ASSERT_TRUE(p);
  EXPECT_EQ(run(*p, {C, 1, 3, R | W}), 1);
  EXPECT_EQ(run(*p, {B, 8, 0, M}), 1);
}

TEST(DeviceFilter, DenyAllThenAllowList) {
  std::vector<oci::DeviceCgroupRule> rules = {rule(false, "a", std::nullopt, std::nullopt, "rwm"),
                                              rule(true, "c", 1, 5, "rwm"),
                                              rule(true, "c", 1, 3, "r"),
                                              rule(true, "c", std::nullopt, std::nullopt, "m")};
  auto p = buildDeviceFilter(rules);
  ASSERT_TRUE(p);
  EXPECT_EQ(run(*p, {C, 1, 5, R | W}), 1);  // /dev/zero
  EXPECT_EQ(run(*p, {C, 1, 3, R}), 1);      // /dev/null read
  EXPECT_EQ(run(*p, {C, 1, 3, R | W}), 0);  // ... but not write
  EXPECT_EQ(run(*p, {C, 1, 7, R}), 0);      // /dev/full: default deny
  EXPECT_EQ(run(*p, {C, 4, 1, M}), 1);      // mknod of any char device
  EXPECT_EQ(run(*p, {B, 8, 0, M}), 0);
  // The deny-all catch-all is folded into the default: no block is emitted for it.
  EXPECT_EQ(p->size(), 6u + 10 + 10 + 8 + 2);
  checkAll(rules);
}

TEST(DeviceFilter, LastMatchWins) {
  // Deny after allow: the deny wins for the bits it names only.
  checkAll({rule(true, "c", 1, std::nullopt, "rwm"), rule(false, "c", 1, 3, "w")});
  auto p = buildDeviceFilter({rule(true, "c", 1, std::nullopt, "rwm"), rule(false, "c", 1, 3, "w")});
  ASSERT_TRUE(p);
  EXPECT_EQ(run(*p, {C, 1, 3, R}), 1);
  EXPECT_EQ(run(*p, {C, 1, 3, R | W}), 0);
  // Allow after deny re-opens.
  checkAll({rule(false, "c", 1, 3, "rwm"), rule(true, "", std::nullopt, std::nullopt, "r")});
  // A later catch-all makes everything before it irrelevant.
  checkAll({rule(false, "c", 1, 3, "rwm"), rule(true, "a", -1, -1, "rwm"),
            rule(false, "b", 8, -1, "w")});
  auto q = buildDeviceFilter({rule(false, "c", 1, 3, "rwm"), rule(true, "a", -1, -1, "")});
  ASSERT_TRUE(q);
  EXPECT_EQ(q->size(), 8u);  // prologue + "return 1"
  EXPECT_EQ(run(*q, {C, 1, 3, R}), 1);
}

TEST(DeviceFilter, MixedRulesAgreeWithModel) {
  checkAll({rule(false, "a", {}, {}, "rwm"), rule(true, "c", 136, {}, "rw"),
            rule(true, "c", 5, 0, "rwm"), rule(false, "c", 5, {}, "m"), rule(true, "b", {}, 9, "r"),
            rule(false, "", {}, {}, "w"), rule(true, "c", 1, 5, "w")});
  checkAll({rule(true, "b", 1, 3, "m"), rule(false, "a", 5, {}, "r")});
}

TEST(DeviceFilter, RejectsBadRules) {
  auto e = buildDeviceFilter({rule(true, "c", 1, 3, "rwm"), rule(true, "p", 1, 3, "rwm")});
  ASSERT_FALSE(e);
  EXPECT_NE(e.error().message().find("devices[1].type"), std::string::npos) << e.error().message();
  e = buildDeviceFilter({rule(true, "c", 1, 3, "rwx")});
  ASSERT_FALSE(e);
  EXPECT_NE(e.error().message().find("devices[0].access"), std::string::npos);
  EXPECT_FALSE(buildDeviceFilter({rule(true, "c", -2, 3, "r")}));
  EXPECT_FALSE(buildDeviceFilter({rule(true, "c", 1, int64_t{1} << 40, "r")}));
}

}  // namespace
}  // namespace berth::runtime
