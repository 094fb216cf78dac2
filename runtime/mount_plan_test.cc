// The mount planner, CLI args, capability/rlimit parsing and state records (no root needed).
#include "runtime/mount_plan.h"

#include <gtest/gtest.h>
#include <sys/mount.h>

#include "runtime/cli_args.h"
#include "runtime/process_setup.h"
#include "runtime/runtime.h"
#include "runtime/seccomp.h"
#include "runtime/state_store.h"

namespace berth::runtime {
namespace {

TEST(MountOptions, FlagsPropagationAndData) {
  auto o = parseMountOptions({"nosuid", "ro", "rbind", "rslave", "mode=755", "size=1k", "rw"});
  ASSERT_TRUE(o);
  EXPECT_EQ(o->flags, static_cast<unsigned long>(MS_NOSUID | MS_BIND | MS_REC));
  EXPECT_EQ(o->clearFlags & MS_RDONLY, static_cast<unsigned long>(MS_RDONLY));
  EXPECT_EQ(o->propagation, static_cast<unsigned long>(MS_SLAVE | MS_REC));
  EXPECT_EQ(o->data, "mode=755,size=1k");
  EXPECT_TRUE(o->bind());
  auto bad = parseMountOptions({"idmap"});
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().message(), "mount option \"idmap\" is not supported");
}

TEST(MountPlan, DefaultSpec) {
  oci::Spec s = oci::defaultSpec();
  auto p = planMounts(s, "/b/rootfs", false);
  ASSERT_TRUE(p) << p.error().message();
  EXPECT_EQ(p->rootfs, "/b/rootfs");
  EXPECT_TRUE(p->readonlyRoot);
  EXPECT_EQ(p->rootPropagation, static_cast<unsigned long>(MS_SLAVE | MS_REC));
  ASSERT_EQ(p->steps.size(), 7u);
  EXPECT_EQ(p->steps[0].target, "/proc");
  EXPECT_EQ(p->steps[0].kind, MountStep::Kind::kMount);
  EXPECT_EQ(p->steps[6].kind, MountStep::Kind::kCgroup);
  EXPECT_EQ(p->steps[5].options.flags & MS_RDONLY, static_cast<unsigned long>(MS_RDONLY));
  EXPECT_TRUE(p->defaultDevices);
  EXPECT_FALSE(p->bindDevices);
  EXPECT_EQ(p->devices.size(), 6u);
  bool ptmx = false;
  for (auto& [l, t] : p->symlinks) ptmx |= (l == "/dev/ptmx" && t == "pts/ptmx");
  EXPECT_TRUE(ptmx);
  EXPECT_EQ(p->maskedPaths.size(), s.linux->maskedPaths.size());
}

TEST(MountPlan, UserNamespaceBindsSysfsAndDevices) {
  oci::Spec s = oci::defaultSpec();
  auto p = planMounts(s, "/r", true);
  ASSERT_TRUE(p);
  EXPECT_TRUE(p->bindDevices);
  EXPECT_EQ(p->steps[5].kind, MountStep::Kind::kBind);
  EXPECT_EQ(p->steps[5].source, "/sys");
}

TEST(MountPlan, CleansDestinationsAndRejectsRelative) {
  oci::Spec s;
  s.mounts = {{"/a/../b//c/", "tmpfs", "tmpfs", {}, {}, {}}};
  auto p = planMounts(s, "/r", false);
  ASSERT_TRUE(p);
  EXPECT_EQ(p->steps[0].target, "/b/c");
  s.mounts = {{"rel", "tmpfs", "tmpfs", {}, {}, {}}};
  auto bad = planMounts(s, "/r", false);
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().message(), "mounts[0].destination \"rel\": must be an absolute path");
  s.mounts = {{"/../../etc", "tmpfs", "tmpfs", {}, {}, {}}};
  auto esc = planMounts(s, "/r", false);
  ASSERT_TRUE(esc);
  EXPECT_EQ(esc->steps[0].target, "/etc");  // ".." never climbs above the container root
}

TEST(MountPlan, BindOfFileAndSpecDevices) {
  oci::Spec s;
  s.mounts = {{"/etc/hosts", "bind", "/etc/hostname", {"ro", "rbind"}, {}, {}},
              {"/dev", "tmpfs", "tmpfs", {}, {}, {}}};
  s.linux = oci::Linux{};
  s.linux->devices = {{"c", "/dev/null", 1, 3, 0600, 5, 6}, {"c", "/dev/fuse", 10, 229, {}, {}, {}}};
  auto p = planMounts(s, "/r", false);
  ASSERT_TRUE(p);
  EXPECT_EQ(p->steps[0].kind, MountStep::Kind::kBind);
  EXPECT_TRUE(p->steps[0].targetIsFile);
  EXPECT_EQ(p->steps[0].options.flags & (MS_RDONLY | MS_REC), static_cast<unsigned long>(MS_RDONLY | MS_REC));
  EXPECT_EQ(p->devices.size(), 7u);
  const DeviceNode* null = nullptr;
  for (const auto& d : p->devices)
    if (d.path == "/dev/null") null = &d;
  ASSERT_NE(null, nullptr);
  EXPECT_EQ(null->mode, 0600u);
  EXPECT_EQ(null->uid, 5u);
}

TEST(ProcessParse, CapsAndRlimits) {
  oci::Capabilities c;
  c.bounding = {"CAP_KILL", "CAP_SYS_ADMIN"};
  c.effective = {"CAP_KILL"};
  auto s = parseCaps(c);
  ASSERT_TRUE(s);
  EXPECT_EQ(s->bounding, (1ULL << 5) | (1ULL << 21));
  EXPECT_EQ(s->effective, 1ULL << 5);
  c.ambient = {"CAP_BOGUS"};
  auto bad = parseCaps(c);
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().message(), "process.capabilities.ambient: unknown capability \"CAP_BOGUS\"");
  EXPECT_EQ(capFromName("net_raw"), 13);
  EXPECT_TRUE(parseRlimits({{"RLIMIT_NOFILE", 10, 5}}));
  EXPECT_FALSE(parseRlimits({{"RLIMIT_NOFILE", 5, 10}}));
  EXPECT_FALSE(parseRlimits({{"RLIMIT_BOGUS", 1, 1}}));
}

TEST(Seccomp, CompileValidates) {
  oci::Seccomp s;
  s.defaultAction = "SCMP_ACT_ALLOW";
  s.syscalls = {{{"mkdir", "not_a_syscall"}, "SCMP_ACT_ERRNO", 1, {}}};
  EXPECT_TRUE(compileSeccomp(s));
  s.defaultAction = "SCMP_ACT_BOGUS";
  auto bad = compileSeccomp(s);
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().message(), "linux.seccomp.defaultAction: unknown action \"SCMP_ACT_BOGUS\"");
  s.defaultAction = "SCMP_ACT_ALLOW";
  s.syscalls = {{{"read"}, "SCMP_ACT_NOTIFY", {}, {}}};
  EXPECT_FALSE(compileSeccomp(s));  // notify needs listenerPath
  s.syscalls = {{{"read"}, "SCMP_ACT_ERRNO", {}, {{0, 1, 0, "SCMP_CMP_BOGUS"}}}};
  EXPECT_FALSE(compileSeccomp(s));
}

TEST(CliArgs, RuncStyles) {
  VerbSpec v{"exec", {{"detach", 'd', false}, {"env", 'e', true}, {"pid-file", 0, true}}, true};
  const char* argv[] = {"-d", "--env=A=1", "-e", "B=2", "--pid-file", "/p", "ctr", "sh", "-c", "x"};
  auto a = parseArgs(v, 10, const_cast<char**>(argv));
  ASSERT_TRUE(a) << a.error().message();
  EXPECT_TRUE(a->flag("detach"));
  EXPECT_EQ(a->all("env"), (std::vector<std::string>{"A=1", "B=2"}));
  EXPECT_EQ(a->get("pid-file"), "/p");
  EXPECT_EQ(a->positional, (std::vector<std::string>{"ctr", "sh", "-c", "x"}));
  const char* bad[] = {"--nope"};
  EXPECT_FALSE(parseArgs(v, 1, const_cast<char**>(bad)));
  const char* missing[] = {"--pid-file"};
  EXPECT_FALSE(parseArgs(v, 1, const_cast<char**>(missing)));
}

TEST(StateRecord, RoundTripAndIds) {
  Record r;
  r.id = "abc";
  r.pid = 42;
  r.startTime = 7;
  r.bundle = "/b";
  r.annotations["k"] = "v";
  r.hasCgroups = true;
  r.cgroups.mode = CgroupMode::kHybrid;
  r.cgroups.v1["memory"] = "/sys/fs/cgroup/memory/x";
  auto back = recordFromJson(recordToJson(r));
  ASSERT_TRUE(back);
  EXPECT_EQ(back->pid, 42);
  EXPECT_EQ(back->cgroups.mode, CgroupMode::kHybrid);
  EXPECT_EQ(back->cgroups.v1.at("memory"), "/sys/fs/cgroup/memory/x");
  EXPECT_FALSE(recordFromJson("{"));
  EXPECT_TRUE(validContainerId("my-ctr_1.2+x"));
  for (const char* bad : {"", "../x", "a/b", ".", "..", "-x", "a b", "x\n"})
    EXPECT_FALSE(validContainerId(bad)) << bad;
}

}  // namespace
}  // namespace berth::runtime
