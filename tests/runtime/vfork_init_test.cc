// The init started in the caller's memory (CreateOptions::vforkInit, CLONE_VM|CLONE_VFORK):
// it joins its cgroups itself, its exec stub waits on the exec fifo, and nothing of the
// runtime reaches the container's process.
#include <signal.h>
#include <sys/wait.h>

#include <fstream>

#include "common/strings.h"
#include "runtime_fixture.h"

namespace berth::runtime::testing {
namespace {

class VforkInitTest : public RuntimeTest {
 protected:
  void SetUp() override {
    RuntimeTest::SetUp();
    vforkInit_ = true;
  }
};

std::string readLink(const std::string& p) {
  char buf[4096];
  ssize_t n = ::readlink(p.c_str(), buf, sizeof buf);
  return n < 0 ? "" : std::string(buf, static_cast<size_t>(n));
}

TEST_F(VforkInitTest, CreatedInitWaitsInTheStubInsideItsCgroupsUntilStart) {
  spec_.process->args = {"sh", "-c", "echo started > /ran; exec sleep 30"};
  spec_.process->oomScoreAdj = 321;
  writeSpec();
  std::string c = id();
  auto cr = rt_->create(opts(c));
  ASSERT_TRUE(cr) << cr.error().message();
  auto st = rt_->state(c);
  ASSERT_TRUE(st);
  EXPECT_EQ(st->status, Status::kCreated);
  std::string proc = "/proc/" + std::to_string(st->pid);
  // Blocked in the sealed stub (not in a copy of this test binary), nothing run yet.
  EXPECT_NE(readLink(proc + "/exe").find("memfd:berth-exec"), std::string::npos)
      << readLink(proc + "/exe");
  int status;
  EXPECT_EQ(::waitpid(st->pid, &status, WNOHANG), 0);
  EXPECT_FALSE(fs::exists(bundle_ + "/rootfs/ran"));
  // It joined every cgroup of the container on its own, and set its OOM score.
  auto cg = fs::readFile(proc + "/cgroup");
  ASSERT_TRUE(cg);
  size_t ours = 0;
  for (const auto& l : str::split(*cg, '\n')) {
    bool named = l.find(":memory:") != std::string::npos || l.find(":pids:") != std::string::npos;
    bool in = l.find("/berth/" + c) != std::string::npos;
    if (named) {
      EXPECT_TRUE(in) << l;
    }
    if (in) ++ours;
  }
  EXPECT_GE(ours, 2u) << *cg;
  EXPECT_EQ(sh("cat " + proc + "/oom_score_adj"), "321\n");
  // Only the runtime's fds: stdio and the exec fifo's O_PATH fd that the stub closes.
  std::string fds = sh("ls " + proc + "/fd | sort -n | tr '\\n' ' '");
  EXPECT_EQ(fds.substr(0, 6), "0 1 2 ") << fds;
  ASSERT_TRUE(rt_->start(c));
  EXPECT_EQ(rt_->state(c)->status, Status::kRunning);
  for (int i = 0; i < 100 && !fs::exists(bundle_ + "/rootfs/ran"); ++i) ::usleep(20000);
  EXPECT_TRUE(fs::exists(bundle_ + "/rootfs/ran"));
  // The program itself holds no fd beyond stdio (the fifo fd is closed before its exec).
  for (int i = 0; i < 100 && readLink(proc + "/exe").find("sleep") == std::string::npos &&
                  readLink(proc + "/exe").find("busybox") == std::string::npos;
       ++i)
    ::usleep(20000);
  EXPECT_EQ(sh("ls " + proc + "/fd | sort -n | tr '\\n' ' '"), "0 1 2 ");
  ASSERT_TRUE(rt_->kill(c, SIGKILL));
  ASSERT_EQ(::waitpid(st->pid, &status, 0), st->pid);
  ASSERT_TRUE(rt_->remove(c));
  EXPECT_TRUE(sh("ls -d /sys/fs/cgroup/*/berth/" + c + " 2>/dev/null").empty());
}

TEST_F(VforkInitTest, NonRootUserCapsAndSeccompStillPassTheFifo) {
  // After the user switch and the cap drop, the stub must still open the fifo (0622).
  spec_.process->user = {1000, 1001, 027, {1002}, ""};
  spec_.process->env = {"PATH=/bin"};
  spec_.process->cwd = "/tmp";
  oci::Seccomp sc;
  sc.defaultAction = "SCMP_ACT_ALLOW";
  sc.syscalls.push_back({{"mkdir", "mkdirat"}, "SCMP_ACT_ERRNO", 1, {}});
  spec_.linux->seccomp = sc;
  auto r = run({"sh", "-c", "id -u; pwd; mkdir /tmp/x 2>/dev/null || echo denied; "
                            "grep -E 'CapEff|NoNewPrivs' /proc/self/status"});
  EXPECT_EQ(r.exitCode, 0) << r.out;
  EXPECT_EQ(r.out, "1000\n/tmp\ndenied\nCapEff:\t0000000000000000\nNoNewPrivs:\t1\n");
}

TEST_F(VforkInitTest, FailedSetupReportsTheErrorAndLeavesNothing) {
  spec_.process->args = {"true"};
  spec_.process->cwd = "/no/such/dir";
  writeSpec();
  std::string c = id();
  auto r = rt_->create(opts(c));
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message().find("/no/such/dir"), std::string::npos) << r.error().message();
  EXPECT_FALSE(fs::exists(stateRoot_ + "/" + c));
  EXPECT_TRUE(sh("ls -d /sys/fs/cgroup/*/berth/" + c + " 2>/dev/null").empty());
  spec_.process->cwd = "/";
  spec_.process->args = {"/no/such/program"};
  writeSpec();
  auto r2 = rt_->create(opts(c));
  ASSERT_FALSE(r2);
  EXPECT_NE(r2.error().message().find("/no/such/program"), std::string::npos)
      << r2.error().message();
  EXPECT_FALSE(fs::exists(stateRoot_ + "/" + c));
}

TEST_F(VforkInitTest, ExitCodesStdioAndHooksFallBack) {
  auto r = run({"sh", "-c", "echo out; echo err >&2; echo pid=$$; hostname; exit 3"});
  EXPECT_EQ(r.exitCode, 3) << r.out;
  EXPECT_EQ(r.out, "out\nerr\npid=1\nberth-it\n");
  // With a hook the init takes the usual way (the parent runs it between clone and "go").
  spec_.hooks.createRuntime.push_back({"/bin/true", {"true"}, {}, std::nullopt});
  auto r2 = run({"sh", "-c", "echo hooked"});
  EXPECT_EQ(r2.exitCode, 0) << r2.out;
  EXPECT_EQ(r2.out, "hooked\n");
}

TEST_F(VforkInitTest, NoHostFdReachesTheProcessAndTheStubIsNoInterpreter) {
  UniqueFd hostDir(::open("/sys/fs/cgroup", O_RDONLY | O_DIRECTORY));  // no CLOEXEC on purpose
  ASSERT_TRUE(hostDir);
  auto r = run({"sh", "-c", "ls /proc/self/fd | wc -l"});
  EXPECT_EQ(r.out, "4\n") << r.out;  // 0 1 2 + ls's own dir fd
  // "#!/proc/self/exe" reaches the sealed stub, which refuses to be an interpreter.
  std::ofstream(bundle_ + "/rootfs/evil.sh") << "#!/proc/self/exe\n";
  ::chmod((bundle_ + "/rootfs/evil.sh").c_str(), 0755);
  auto r2 = run({"/evil.sh"}, id("run2"));
  EXPECT_EQ(r2.exitCode, 127) << r2.out;
}

}  // namespace
}  // namespace berth::runtime::testing
