// cgroup v2 device control through the eBPF program (root, real kernel): a process in a
// cgroup2 dir of our own, and containers (hybrid hosts: the program sits in the unified dir).
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>

#include <cstring>

#include "runtime/cgroup.h"
#include "runtime/device_filter.h"
#include "runtime_fixture.h"

namespace berth::runtime::testing {
namespace {

std::string unifiedMount() {
  auto l = detectCgroupLayout(realSys());
  return l ? l->unified : "";
}

oci::DeviceCgroupRule rule(bool allow, std::string type, std::optional<int64_t> maj,
                           std::optional<int64_t> min, std::string access) {
  return {allow, std::move(type), maj, min, std::move(access)};
}

/// A cgroup2 dir of this test; the destructor kills its processes, detaches and removes it.
struct TestCgroup {
  std::string dir;
  std::vector<pid_t> kids;
  ~TestCgroup() {
    for (pid_t k : kids) {
      ::kill(k, SIGKILL);
      ::waitpid(k, nullptr, 0);
    }
    (void)detachDeviceFilters(dir);
    for (int i = 0; i < 200 && ::rmdir(dir.c_str()) < 0 && errno == EBUSY; ++i) ::usleep(10000);
  }
};

/// errno of open(path, flags) in a child moved into `cg` first (0 = opened).
int openInCgroup(TestCgroup& cg, const char* path, int flags) {
  int go[2], res[2];
  if (::pipe2(go, O_CLOEXEC) < 0 || ::pipe2(res, O_CLOEXEC) < 0) return -1;
  pid_t pid = ::fork();
  if (pid == 0) {
    char c;
    ::close(go[1]);
    if (::read(go[0], &c, 1) != 1) _exit(1);
    int fd = ::open(path, flags);
    int e = fd < 0 ? errno : 0;
    if (fd >= 0 && (flags & O_ACCMODE) != O_WRONLY && ::read(fd, &c, 1) < 0) e = errno;
    (void)!::write(res[1], &e, sizeof e);
    _exit(0);
  }
  cg.kids.push_back(pid);
  ::close(go[0]);
  ::close(res[1]);
  int e = -1;
  auto w = realSys().writeFile(cg.dir + "/cgroup.procs", std::to_string(pid));
  EXPECT_TRUE(w) << (w ? "" : w.error().message());
  (void)!::write(go[1], "g", 1);
  if (::read(res[0], &e, sizeof e) != sizeof e) e = -1;
  ::close(go[1]);
  ::close(res[0]);
  ::waitpid(pid, nullptr, 0);
  cg.kids.pop_back();
  return e;
}

TEST(DeviceFilterKernel, ProgramOnACgroup2DirDeniesAndIsReplacedAndDetached) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root";
  std::string mount = unifiedMount();
  if (mount.empty()) GTEST_SKIP() << "no cgroup2 mounted";
  TestCgroup cg;
  cg.dir = mount + "/berth-it-" + std::to_string(::getpid()) + "-devfilter";
  ASSERT_EQ(::mkdir(cg.dir.c_str(), 0755), 0) << std::strerror(errno);

  // /dev/null (c 1:3) denied, /dev/zero (c 1:5) allowed.
  auto p1 = buildDeviceFilter({rule(false, "a", {}, {}, "rwm"), rule(true, "c", 1, 5, "rwm")});
  ASSERT_TRUE(p1);
  auto a = attachDeviceFilter(cg.dir, *p1);
  ASSERT_TRUE(a) << a.error().message();
  auto ids = attachedDeviceFilters(cg.dir);
  ASSERT_TRUE(ids);
  ASSERT_EQ(ids->size(), 1u);
  EXPECT_EQ(openInCgroup(cg, "/dev/null", O_RDONLY), EPERM);
  EXPECT_EQ(openInCgroup(cg, "/dev/zero", O_RDONLY), 0);
  // Outside the cgroup nothing changed.
  EXPECT_TRUE(UniqueFd(::open("/dev/null", O_RDONLY | O_CLOEXEC)));

  // Replace: read-only /dev/null, nothing else. Still one program, a new one.
  auto p2 = buildDeviceFilter({rule(false, "a", {}, {}, "rwm"), rule(true, "c", 1, 3, "r")});
  ASSERT_TRUE(p2);
  ASSERT_TRUE(attachDeviceFilter(cg.dir, *p2));
  auto ids2 = attachedDeviceFilters(cg.dir);
  ASSERT_TRUE(ids2);
  ASSERT_EQ(ids2->size(), 1u);
  EXPECT_NE((*ids2)[0], (*ids)[0]);
  EXPECT_EQ(openInCgroup(cg, "/dev/null", O_RDONLY), 0);
  EXPECT_EQ(openInCgroup(cg, "/dev/null", O_WRONLY), EPERM);
  EXPECT_EQ(openInCgroup(cg, "/dev/zero", O_RDONLY), EPERM);

  // Detach: everything allowed again.
  ASSERT_TRUE(detachDeviceFilters(cg.dir));
  EXPECT_TRUE(attachedDeviceFilters(cg.dir)->empty());
  EXPECT_EQ(openInCgroup(cg, "/dev/zero", O_RDONLY), 0);
  EXPECT_EQ(openInCgroup(cg, "/dev/null", O_WRONLY), 0);
}

class DevicesTest : public RuntimeTest {
 protected:
  std::string unifiedDir(const std::string& c) {
    std::string m = unifiedMount();
    return m.empty() ? "" : m + "/berth/" + c;
  }
};

TEST_F(DevicesTest, ContainerDeviceRulesAreEnforcedByTheProgram) {
  std::string mount = unifiedMount();
  if (mount.empty()) GTEST_SKIP() << "no cgroup2 mounted";
  if (!fs::exists("/dev/kmsg")) GTEST_SKIP() << "no /dev/kmsg";
  // /dev/kmsg (c 1:11) is not a default device: bound in, it is denied by the rules, while
  // the default devices stay allowed.
  spec_.mounts.push_back({"/dev/kmsg", "bind", "/dev/kmsg", {"bind"}, {}, {}});
  spec_.linux->resources = oci::Resources{};
  spec_.linux->resources->devices = {rule(false, "a", {}, {}, "rwm")};
  spec_.process->args = {"sh", "-c",
                         "while [ ! -e /go ]; do sleep 0.02; done; "
                         "(exec 3</dev/kmsg) 2>&1 | grep -o 'Operation not permitted'; "
                         "head -c 2 /dev/zero | wc -c; echo x > /dev/null && echo null-ok"};
  writeSpec();
  std::string c = id();
  int p[2];
  ASSERT_EQ(::pipe2(p, O_CLOEXEC), 0);
  UniqueFd rd(p[0]), wr(p[1]);
  auto cr = rt_->create(opts(c, wr.get()));
  wr.reset();
  ASSERT_TRUE(cr) << cr.error().message();
  auto ids = attachedDeviceFilters(unifiedDir(c));
  ASSERT_TRUE(ids) << ids.error().message();
  EXPECT_EQ(ids->size(), 1u);
  // On v1/hybrid hosts the v1 devices controller enforces the same rules: open it up for
  // this container so that only the eBPF program stands between it and /dev/kmsg.
  auto layout = detectCgroupLayout(realSys());
  ASSERT_TRUE(layout);
  if (layout->v1.count("devices")) {
    ASSERT_TRUE(realSys().writeFile(layout->v1.at("devices") + "/berth/" + c + "/devices.allow", "a"));
  }
  ASSERT_TRUE(fs::writeFileAtomic(bundle_ + "/rootfs/go", ""));
  ASSERT_TRUE(rt_->start(c));
  std::string out;
  char buf[512];
  ssize_t n;
  while ((n = ::read(rd.get(), buf, sizeof buf)) > 0) out.append(buf, static_cast<size_t>(n));
  EXPECT_EQ(out, "Operation not permitted\n2\nnull-ok\n");
  auto st = rt_->state(c);
  ASSERT_TRUE(st);
  ::waitpid(st->pid, nullptr, 0);
  ASSERT_TRUE(rt_->remove(c));
  EXPECT_FALSE(fs::exists(unifiedDir(c)));
}

TEST_F(DevicesTest, PureV2ViewTheProgramIsTheOnlyDeviceControl) {
  // berth-runtime in a private mount namespace with every v1 hierarchy unmounted sees a pure
  // cgroup v2 host (cgroup2 at the unified mount): the device rules must still hold.
  std::string mount = unifiedMount();
  if (mount.empty()) GTEST_SKIP() << "no cgroup2 mounted";
  if (!fs::exists("/dev/kmsg")) GTEST_SKIP() << "no /dev/kmsg";
  spec_.mounts.push_back({"/dev/kmsg", "bind", "/dev/kmsg", {"bind"}, {}, {}});
  spec_.linux->resources = oci::Resources{};
  spec_.linux->resources->devices = {rule(false, "a", {}, {}, "rwm")};
  spec_.process->args = {"sh", "-c",
                         "(exec 3</dev/kmsg) 2>&1 | grep -o 'Operation not permitted'; "
                         "head -c 2 /dev/zero | wc -c; grep -c '^0::/berth/' /proc/self/cgroup"};
  writeSpec();
  std::string c = id();
  std::string out = sh("unshare -m --propagation private sh -c 'for m in $(findmnt -rn -t cgroup "
                       "-o TARGET); do umount $m || exit 9; done; " +
                       std::string(BERTH_RUNTIME_BIN) + " --root " + stateRoot_ + " run -b " +
                       bundle_ + " " + c + "' 2>&1; echo rc=$?");
  EXPECT_EQ(out, "Operation not permitted\n2\n1\nrc=0\n");
  EXPECT_FALSE(fs::exists(unifiedDir(c)));
  EXPECT_FALSE(fs::exists(stateRoot_ + "/" + c));
}

TEST_F(DevicesTest, UpdateReplacesTheProgram) {
  if (unifiedMount().empty()) GTEST_SKIP() << "no cgroup2 mounted";
  spec_.linux->resources = oci::Resources{};
  spec_.linux->resources->devices = {rule(false, "a", {}, {}, "rwm")};
  spec_.process->args = {"sleep", "30"};
  writeSpec();
  std::string c = id();
  ASSERT_TRUE(rt_->create(opts(c)));
  auto before = attachedDeviceFilters(unifiedDir(c));
  ASSERT_TRUE(before);
  ASSERT_EQ(before->size(), 1u);
  oci::Resources r;
  r.devices = {rule(false, "a", {}, {}, "rwm"), rule(true, "c", 1, 3, "rwm")};
  auto u = rt_->update(c, r);
  ASSERT_TRUE(u) << u.error().message();
  auto after = attachedDeviceFilters(unifiedDir(c));
  ASSERT_TRUE(after);
  ASSERT_EQ(after->size(), 1u);
  EXPECT_NE((*after)[0], (*before)[0]);
  r.devices = {rule(true, "q", 1, 3, "rwm")};
  auto bad = rt_->update(c, r);
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().message().find("devices[0].type"), std::string::npos) << bad.error().message();
  EXPECT_EQ(*attachedDeviceFilters(unifiedDir(c)), *after);
  ASSERT_TRUE(rt_->remove(c, true));
  EXPECT_FALSE(fs::exists(unifiedDir(c)));
}

}  // namespace
}  // namespace berth::runtime::testing
