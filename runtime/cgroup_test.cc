// cgroup planners and drivers against a recording fake file system (no root needed).
#include "runtime/cgroup.h"

#include <gtest/gtest.h>

#include <map>
#include <set>

namespace berth::runtime {
namespace {

class FakeSys : public Sys {
 public:
  std::map<std::string, std::string> files;
  std::set<std::string> dirs;
  std::vector<std::string> log;  // "write path=value", "mkdir path", "rmdir path"
  std::set<std::string> failOnce;  // paths whose first write fails (EINVAL)

  Result<void> writeFile(const std::string& p, std::string_view d) override {
    log.push_back("write " + p + "=" + std::string(d));
    if (failOnce.erase(p)) return failErrno("write " + p, EINVAL);
    files[p] = std::string(d);
    return {};
  }
  Result<std::string> readFile(const std::string& p) override {
    auto it = files.find(p);
    if (it == files.end()) return failErrno("open " + p, ENOENT);
    return it->second;
  }
  Result<void> mkdir(const std::string& p, mode_t) override {
    log.push_back("mkdir " + p);
    dirs.insert(p);
    return {};
  }
  Result<void> rmdir(const std::string& p) override {
    log.push_back("rmdir " + p);
    dirs.erase(p);
    return {};
  }
  bool exists(const std::string& p) override { return dirs.count(p) || files.count(p); }
  std::map<std::string, BpfProgram> filters;  // cgroup2 dir -> attached device program
  int filterError = 0;                         // errno setDeviceFilter fails with, if set
  Result<void> setDeviceFilter(const std::string& d, const BpfProgram& prog) override {
    log.push_back("bpf attach " + d);
    if (filterError) return failErrno("bpf attach", filterError);
    filters[d] = prog;
    return {};
  }
  Result<void> clearDeviceFilter(const std::string& d) override {
    log.push_back("bpf detach " + d);
    filters.erase(d);
    return {};
  }
};

const char* kHybridMountinfo =
    "30 25 0:26 / /sys/fs/cgroup rw - tmpfs tmpfs rw\n"
    "31 30 0:27 / /sys/fs/cgroup/unified rw shared:6 - cgroup2 cgroup2 rw\n"
    "32 30 0:28 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory\n"
    "33 30 0:29 / /sys/fs/cgroup/cpu,cpuacct rw - cgroup cgroup rw,cpu,cpuacct\n"
    "34 30 0:30 / /sys/fs/cgroup/cpuset rw - cgroup cgroup rw,cpuset\n"
    "35 30 0:31 / /sys/fs/cgroup/pids rw - cgroup cgroup rw,pids\n"
    "36 30 0:32 / /sys/fs/cgroup/freezer rw - cgroup cgroup rw,freezer\n"
    "37 30 0:33 / /sys/fs/cgroup/systemd rw - cgroup cgroup rw,name=systemd\n";

TEST(CgroupLayout, DetectsHybrid) {
  FakeSys sys;
  sys.files["/sys/fs/cgroup/unified/cgroup.controllers"] = "hugetlb\n";
  auto l = parseCgroupLayout(kHybridMountinfo, sys);
  EXPECT_EQ(l.mode, CgroupMode::kHybrid);
  EXPECT_EQ(l.v1.at("memory"), "/sys/fs/cgroup/memory");
  EXPECT_EQ(l.v1.at("cpu"), "/sys/fs/cgroup/cpu,cpuacct");
  EXPECT_EQ(l.v1.at("cpuacct"), "/sys/fs/cgroup/cpu,cpuacct");
  EXPECT_FALSE(l.v1.count("name=systemd"));
  EXPECT_EQ(l.unified, "/sys/fs/cgroup/unified");
  EXPECT_EQ(l.v2Controllers, std::set<std::string>{"hugetlb"});
}

TEST(CgroupLayout, DetectsV1AndV2) {
  FakeSys sys;
  auto v2 = parseCgroupLayout("30 25 0:26 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw\n", sys);
  EXPECT_EQ(v2.mode, CgroupMode::kV2);
  auto v1 = parseCgroupLayout("32 30 0:28 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory\n", sys);
  EXPECT_EQ(v1.mode, CgroupMode::kV1);
}

TEST(CgroupPlan, V1) {
  oci::Resources r;
  r.memory = oci::MemoryResources{};
  r.memory->limit = 1 << 20;
  r.memory->swap = 2 << 20;
  r.cpu = oci::CpuResources{};
  r.cpu->shares = 512;
  r.cpu->quota = 50000;
  r.cpu->period = 100000;
  r.cpu->cpus = "0";
  r.pids = oci::PidsResources{-1};
  r.devices = {{false, "", std::nullopt, std::nullopt, "rwm"}, {true, "c", 1, 3, "rwm"}};
  auto w = planV1(r);
  ASSERT_TRUE(w) << w.error().message();
  std::vector<CgroupWrite> want = {
      {"memory", "memory.limit_in_bytes", "1048576"},
      {"memory", "memory.memsw.limit_in_bytes", "2097152"},
      {"cpu", "cpu.shares", "512"},
      {"cpu", "cpu.cfs_period_us", "100000"},
      {"cpu", "cpu.cfs_quota_us", "50000"},
      {"cpuset", "cpuset.cpus", "0"},
      {"pids", "pids.max", "max"},
      {"devices", "devices.deny", "a"},
      {"devices", "devices.allow", "c 1:3 rwm"},
  };
  EXPECT_EQ(*w, want);
}

TEST(CgroupPlan, V2ConvertsUnits) {
  oci::Resources r;
  r.memory = oci::MemoryResources{};
  r.memory->limit = 100;
  r.memory->swap = 300;
  r.cpu = oci::CpuResources{};
  r.cpu->shares = 1024;
  r.cpu->quota = 20000;
  r.pids = oci::PidsResources{7};
  r.blockIO = oci::BlockIoResources{};
  r.blockIO->weight = 10;
  r.unified["memory.high"] = "50";
  auto w = planV2(r);
  ASSERT_TRUE(w) << w.error().message();
  std::vector<CgroupWrite> want = {
      {"memory", "memory.max", "100"},     {"memory", "memory.swap.max", "200"},
      {"cpu", "cpu.weight", "39"},         {"cpu", "cpu.max", "20000 100000"},
      {"pids", "pids.max", "7"},           {"io", "io.weight", "default 1"},
      {"memory", "memory.high", "50"},
  };
  EXPECT_EQ(*w, want);
  EXPECT_EQ(sharesToWeight(2), 1u);
  EXPECT_EQ(sharesToWeight(262144), 10000u);
}

TEST(CgroupPlan, RejectsBadValues) {
  oci::Resources r;
  r.memory = oci::MemoryResources{};
  r.memory->swappiness = 150;
  EXPECT_FALSE(planV1(r));
  oci::Resources r2;
  r2.memory = oci::MemoryResources{};
  r2.memory->limit = 100;
  r2.memory->swap = 50;
  EXPECT_FALSE(planV2(r2));
  oci::Resources r3;
  r3.unified["../x"] = "1";
  EXPECT_FALSE(planV2(r3));
  EXPECT_FALSE(planV1(r3));
}

TEST(CgroupDriver, HybridCreateApplyJoinDestroy) {
  FakeSys sys;
  sys.files["/sys/fs/cgroup/unified/cgroup.controllers"] = "hugetlb";
  sys.files["/sys/fs/cgroup/cpuset/cpuset.cpus"] = "0-1\n";
  sys.files["/sys/fs/cgroup/cpuset/cpuset.mems"] = "0\n";
  auto layout = parseCgroupLayout(kHybridMountinfo, sys);
  auto cg = openCgroups(sys, layout, "/test/c1", "c1", "4:memory:/user\n0::/\n");
  ASSERT_TRUE(cg) << cg.error().message();
  const auto& p = (*cg)->paths();
  EXPECT_EQ(p.v1.at("memory"), "/sys/fs/cgroup/memory/test/c1");
  EXPECT_EQ(p.unified, "/sys/fs/cgroup/unified/test/c1");
  ASSERT_TRUE((*cg)->create());
  EXPECT_TRUE(sys.dirs.count("/sys/fs/cgroup/memory/test/c1"));
  EXPECT_TRUE(sys.dirs.count("/sys/fs/cgroup/unified/test/c1"));
  // cpuset levels inherit cpus/mems from their parent.
  EXPECT_EQ(sys.files["/sys/fs/cgroup/cpuset/test/cpuset.cpus"], "0-1");
  EXPECT_EQ(sys.files["/sys/fs/cgroup/cpuset/test/c1/cpuset.mems"], "0");
  // hugetlb is only on cgroup2 here: enabled in the parents' subtree_control.
  EXPECT_EQ(sys.files["/sys/fs/cgroup/unified/test/cgroup.subtree_control"], "+hugetlb");

  oci::Resources r;
  r.memory = oci::MemoryResources{};
  r.memory->limit = 4096;
  r.memory->swap = 8192;
  r.pids = oci::PidsResources{3};
  r.hugepageLimits = {{"2MB", 0}};
  // memsw first refused (ordering), then retried after the others.
  sys.failOnce.insert("/sys/fs/cgroup/memory/test/c1/memory.memsw.limit_in_bytes");
  ASSERT_TRUE((*cg)->apply(r));
  EXPECT_EQ(sys.files["/sys/fs/cgroup/memory/test/c1/memory.limit_in_bytes"], "4096");
  EXPECT_EQ(sys.files["/sys/fs/cgroup/memory/test/c1/memory.memsw.limit_in_bytes"], "8192");
  EXPECT_EQ(sys.files["/sys/fs/cgroup/pids/test/c1/pids.max"], "3");
  EXPECT_EQ(sys.files["/sys/fs/cgroup/unified/test/c1/hugetlb.2MB.max"], "0");

  ASSERT_TRUE((*cg)->addProcess(42));
  EXPECT_EQ(sys.files["/sys/fs/cgroup/unified/test/c1/cgroup.procs"], "42");
  EXPECT_EQ(sys.files["/sys/fs/cgroup/freezer/test/c1/cgroup.procs"], "42");

  sys.files["/sys/fs/cgroup/freezer/test/c1/freezer.state"] = "THAWED";
  ASSERT_TRUE((*cg)->freeze(true));
  EXPECT_EQ(sys.files["/sys/fs/cgroup/freezer/test/c1/freezer.state"], "FROZEN");
  EXPECT_TRUE(*(*cg)->isFrozen());

  sys.files["/sys/fs/cgroup/pids/test/c1/cgroup.procs"] = "";
  ASSERT_TRUE((*cg)->destroy());
  EXPECT_FALSE(sys.dirs.count("/sys/fs/cgroup/memory/test/c1"));
  EXPECT_FALSE(sys.dirs.count("/sys/fs/cgroup/unified/test/c1"));
}

TEST(CgroupDriver, RelativePathAndMissingController) {
  FakeSys sys;
  auto layout = parseCgroupLayout(
      "32 30 0:28 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory\n", sys);
  auto cg = openCgroups(sys, layout, "sub/c2", "c2", "4:memory:/parent\n");
  ASSERT_TRUE(cg);
  EXPECT_EQ((*cg)->paths().v1.at("memory"), "/sys/fs/cgroup/memory/parent/sub/c2");
  oci::Resources r;
  r.pids = oci::PidsResources{3};
  auto res = (*cg)->apply(r);
  ASSERT_FALSE(res);
  EXPECT_NE(res.error().message().find("\"pids\" is not available"), std::string::npos);
  EXPECT_FALSE(openCgroups(sys, layout, "/../../etc", "c", ""));
  EXPECT_FALSE(openCgroups(sys, layout, "machine.slice:libpod:x", "c", ""));
}

TEST(CgroupDriver, V2EnablesControllers) {
  FakeSys sys;
  sys.files["/sys/fs/cgroup/cgroup.controllers"] = "cpu memory pids";
  auto layout = parseCgroupLayout("30 25 0:26 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw\n", sys);
  auto cg = openCgroups(sys, layout, "", "c3", "0::/\n");
  ASSERT_TRUE(cg);
  EXPECT_EQ((*cg)->paths().unified, "/sys/fs/cgroup/berth/c3");
  ASSERT_TRUE((*cg)->create());
  EXPECT_EQ(sys.files["/sys/fs/cgroup/cgroup.subtree_control"], "+cpu +memory +pids");
  EXPECT_EQ(sys.files["/sys/fs/cgroup/berth/cgroup.subtree_control"], "+cpu +memory +pids");
  oci::Resources r;
  r.memory = oci::MemoryResources{};
  r.memory->limit = 1000;
  ASSERT_TRUE((*cg)->apply(r));
  EXPECT_EQ(sys.files["/sys/fs/cgroup/berth/c3/memory.max"], "1000");
  ASSERT_TRUE((*cg)->freeze(true));
  EXPECT_EQ(sys.files["/sys/fs/cgroup/berth/c3/cgroup.freeze"], "1");
}

TEST(CgroupDriver, V2DevicesAttachAProgramAndDestroyDetachesIt) {
  FakeSys sys;
  sys.files["/sys/fs/cgroup/cgroup.controllers"] = "memory pids";
  auto layout = parseCgroupLayout("30 25 0:26 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw\n", sys);
  auto cg = openCgroups(sys, layout, "/t/c4", "c4", "0::/\n");
  ASSERT_TRUE(cg);
  ASSERT_TRUE((*cg)->create());
  oci::Resources r;
  r.devices = {{false, "a", std::nullopt, std::nullopt, "rwm"}, {true, "c", 1, 5, "rwm"}};
  ASSERT_TRUE((*cg)->apply(r));
  auto want = buildDeviceFilter(r.devices);
  ASSERT_TRUE(want);
  ASSERT_TRUE(sys.filters.count("/sys/fs/cgroup/t/c4"));
  EXPECT_EQ(sys.filters["/sys/fs/cgroup/t/c4"].size(), want->size());
  // No files are written for devices on v2.
  for (const auto& l : sys.log) EXPECT_EQ(l.find("devices."), std::string::npos) << l;
  // Bad rules fail before anything is written or attached.
  sys.filters.clear();
  size_t before = sys.log.size();
  oci::Resources bad;
  bad.pids = oci::PidsResources{5};
  bad.devices = {{true, "x", 1, 1, "r"}};
  EXPECT_FALSE((*cg)->apply(bad));
  EXPECT_EQ(sys.log.size(), before);
  // Without CAP_BPF the only device control on pure v2 is missing: an error.
  sys.filterError = EPERM;
  EXPECT_FALSE((*cg)->apply(r));
  sys.filterError = 0;
  ASSERT_TRUE((*cg)->apply(r));
  sys.files["/sys/fs/cgroup/t/c4/cgroup.procs"] = "";
  ASSERT_TRUE((*cg)->destroy());
  EXPECT_FALSE(sys.filters.count("/sys/fs/cgroup/t/c4"));
  EXPECT_FALSE(sys.dirs.count("/sys/fs/cgroup/t/c4"));
}

TEST(CgroupDriver, HybridDevicesUseV1AndTheUnifiedProgram) {
  FakeSys sys;
  sys.files["/sys/fs/cgroup/unified/cgroup.controllers"] = "hugetlb";
  auto layout = parseCgroupLayout(std::string(kHybridMountinfo) +
                                      "38 30 0:34 / /sys/fs/cgroup/devices rw - cgroup cgroup "
                                      "rw,devices\n",
                                  sys);
  auto cg = openCgroups(sys, layout, "/t/c5", "c5", "");
  ASSERT_TRUE(cg);
  oci::Resources r;
  r.devices = {{false, "a", std::nullopt, std::nullopt, "rwm"}, {true, "c", 1, 3, "r"}};
  ASSERT_TRUE((*cg)->apply(r));
  EXPECT_EQ(sys.files["/sys/fs/cgroup/devices/t/c5/devices.allow"], "c 1:3 r");
  EXPECT_TRUE(sys.filters.count("/sys/fs/cgroup/unified/t/c5"));
  // A kernel refusing BPF here only costs the second layer: v1 still enforces.
  sys.filters.clear();
  sys.filterError = EPERM;
  EXPECT_TRUE((*cg)->apply(r));
  EXPECT_TRUE(sys.filters.empty());
  sys.filterError = ENOMEM;
  EXPECT_FALSE((*cg)->apply(r));
}

}  // namespace
}  // namespace berth::runtime
