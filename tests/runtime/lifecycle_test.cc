// Lifecycle, process attributes, exec, pause/resume, console, cgroup enforcement.
#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <cstring>
#include <thread>

#include "runtime/process_setup.h"
#include "runtime_fixture.h"

namespace berth::runtime::testing {
namespace {

TEST_F(RuntimeTest, LifecycleFollowsOciStatuses) {
  spec_.process->args = {"sleep", "30"};
  writeSpec();
  std::string c = id();
  ASSERT_TRUE(rt_->create(opts(c)));
  auto st = rt_->state(c);
  ASSERT_TRUE(st);
  EXPECT_EQ(st->status, Status::kCreated);
  ASSERT_GT(st->pid, 0);
  // The init is our direct child, blocked before exec.
  int status;
  EXPECT_EQ(::waitpid(st->pid, &status, WNOHANG), 0);
  EXPECT_FALSE(rt_->create(opts(c)));  // duplicate id
  EXPECT_FALSE(rt_->pause(c));         // not running yet
  ASSERT_TRUE(rt_->start(c));
  EXPECT_EQ(rt_->state(c)->status, Status::kRunning);
  EXPECT_FALSE(rt_->start(c));
  auto del = rt_->remove(c);
  ASSERT_FALSE(del);  // running needs force
  EXPECT_NE(del.error().message().find("not stopped"), std::string::npos);
  ASSERT_TRUE(rt_->pause(c));
  EXPECT_EQ(rt_->state(c)->status, Status::kPaused);
  ASSERT_TRUE(rt_->resume(c));
  EXPECT_EQ(rt_->state(c)->status, Status::kRunning);
  ASSERT_TRUE(rt_->kill(c, SIGKILL));
  ASSERT_EQ(::waitpid(st->pid, &status, 0), st->pid);
  EXPECT_TRUE(WIFSIGNALED(status));
  EXPECT_EQ(rt_->state(c)->status, Status::kStopped);
  EXPECT_FALSE(rt_->kill(c, SIGTERM));
  auto paths = sh("ls -d /sys/fs/cgroup/*/berth/" + c + " 2>/dev/null");
  EXPECT_FALSE(paths.empty());
  ASSERT_TRUE(rt_->remove(c));
  EXPECT_TRUE(sh("ls -d /sys/fs/cgroup/*/berth/" + c + " 2>/dev/null").empty());
  EXPECT_FALSE(fs::exists(stateRoot_ + "/" + c));
  EXPECT_TRUE(rt_->state(c).error().is(ErrorCode::kNotFound));
}

TEST_F(RuntimeTest, ExitCodeStdioHostnameAndPidNamespace) {
  auto r = run({"sh", "-c", "echo out; echo err >&2; echo pid=$$; hostname; exit 3"});
  EXPECT_EQ(r.exitCode, 3) << r.out;
  EXPECT_NE(r.out.find("out\nerr\npid=1\nberth-it\n"), std::string::npos) << r.out;
}

TEST_F(RuntimeTest, ProcessUserEnvCwdRlimitsAndCaps) {
  spec_.process->user = {1000, 1001, 027, {1002}, ""};
  spec_.process->env = {"PATH=/bin", "FOO=bar"};
  spec_.process->cwd = "/tmp";
  spec_.process->rlimits = {{"RLIMIT_NOFILE", 512, 256}};
  auto r = run({"sh", "-c",
                "id -u; id -g; id -G; echo $FOO; pwd; ulimit -n; umask; "
                "grep -E 'CapEff|NoNewPrivs' /proc/self/status"});
  EXPECT_EQ(r.exitCode, 0) << r.out;
  // Non-root with no ambient caps: effective set is empty after exec.
  EXPECT_EQ(r.out,
            "1000\n1001\n1001 1002\nbar\n/tmp\n256\n0027\nCapEff:\t0000000000000000\nNoNewPrivs:\t1\n");
}

TEST_F(RuntimeTest, RootCapabilitiesMatchTheSpec) {
  auto r = run({"sh", "-c", "grep -E 'CapEff|CapBnd' /proc/self/status"});
  // Default spec: AUDIT_WRITE(29) KILL(5) NET_BIND_SERVICE(10).
  EXPECT_EQ(r.out, "CapEff:\t0000000020000420\nCapBnd:\t0000000020000420\n");
}

TEST_F(RuntimeTest, ReadonlyRootMaskedAndReadonlyPaths) {
  spec_.root->readonly = true;
  auto r = run({"sh", "-c",
                "touch /x 2>/dev/null && echo rootrw; "
                "(echo 1 > /proc/sys/kernel/ostype) 2>/dev/null && echo sysrw; "
                "wc -c < /proc/timer_list; ls /proc/acpi 2>/dev/null | wc -l; "
                "touch /dev/shm/ok && echo shm-ok"});
  EXPECT_EQ(r.out, "0\n0\nshm-ok\n");
}

TEST_F(RuntimeTest, DevicesAndDevSymlinks) {
  auto r = run({"sh", "-c",
                "ls -l /dev/null /dev/zero /dev/tty | cut -c1; readlink /dev/fd; readlink /dev/ptmx; "
                "head -c 3 /dev/zero | wc -c; mount | grep -c devpts"});
  EXPECT_EQ(r.out, "c\nc\nc\n/proc/self/fd\npts/ptmx\n3\n1\n");
}

TEST_F(RuntimeTest, BindMountsAndSysctl) {
  std::string host = tmp_ + "/shared";
  ASSERT_TRUE(fs::mkdirs(host));
  ASSERT_TRUE(fs::writeFileAtomic(host + "/hello", "from-host"));
  spec_.mounts.push_back({"/data", "bind", host, {"rbind", "ro"}, {}, {}});
  spec_.mounts.push_back({"/etc/hostfile", "bind", host + "/hello", {"bind"}, {}, {}});
  spec_.linux->sysctl["net.ipv4.ip_forward"] = "1";
  auto r = run({"sh", "-c", "cat /data/hello; echo; cat /etc/hostfile; echo; "
                            "touch /data/x 2>/dev/null || echo ro; cat /proc/sys/net/ipv4/ip_forward"});
  EXPECT_EQ(r.out, "from-host\nfrom-host\nro\n1\n");
}

TEST_F(RuntimeTest, ExecJoinsTheContainer) {
  spec_.process->args = {"sleep", "30"};
  spec_.process->env = {"PATH=/bin", "A=1"};
  writeSpec();
  std::string c = id();
  ASSERT_TRUE(rt_->create(opts(c)));
  ASSERT_TRUE(rt_->start(c));
  int p[2];
  ASSERT_EQ(::pipe2(p, O_CLOEXEC), 0);
  UniqueFd rd(p[0]), wr(p[1]);
  ExecOptions e;
  e.args = {"sh", "-c", "cat /proc/1/cmdline | tr '\\0' ' '; echo; echo $A$B; hostname; pwd; id -u"};
  e.env = {"B=2"};
  e.cwd = "/tmp";
  e.uid = 7;
  e.stdio = {-1, wr.get(), wr.get()};
  auto pid = rt_->exec(c, e);
  ASSERT_TRUE(pid) << pid.error().message();
  wr.reset();
  std::string out;
  char buf[1024];
  ssize_t n;
  while ((n = ::read(rd.get(), buf, sizeof buf)) > 0) out.append(buf, static_cast<size_t>(n));
  int status;
  ASSERT_EQ(::waitpid(*pid, &status, 0), *pid);  // a direct child of ours
  EXPECT_EQ(WEXITSTATUS(status), 0);
  EXPECT_EQ(out, "sleep 30 \n12\nberth-it\n/tmp\n7\n");
  auto pids = rt_->pids(c);
  ASSERT_TRUE(pids);
  EXPECT_EQ(pids->size(), 1u);
  ExecOptions bad;
  bad.args = {"/no/such/binary"};
  auto err = rt_->exec(c, bad);
  ASSERT_FALSE(err);
  EXPECT_NE(err.error().message().find("/no/such/binary"), std::string::npos);
}

TEST_F(RuntimeTest, ConsoleSocketReceivesPtyMaster) {
  std::string sockPath = tmp_ + "/console.sock";
  UniqueFd srv(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::strncpy(addr.sun_path, sockPath.c_str(), sizeof addr.sun_path - 1);
  ASSERT_EQ(::bind(srv.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  ASSERT_EQ(::listen(srv.get(), 1), 0);
  spec_.process->terminal = true;
  spec_.process->args = {"sh", "-c", "tty; echo term-ok"};
  writeSpec();
  std::string c = id();
  CreateOptions o = opts(c);
  o.consoleSocket = sockPath;
  std::thread acceptor;
  int master = -1;
  acceptor = std::thread([&] {
    UniqueFd conn(::accept4(srv.get(), nullptr, nullptr, SOCK_CLOEXEC));
    if (auto fd = recvFd(conn.get())) master = *fd;
  });
  auto cr = rt_->create(o);
  acceptor.join();
  ASSERT_TRUE(cr) << cr.error().message();
  ASSERT_GE(master, 0);
  UniqueFd m(master);
  ASSERT_TRUE(rt_->start(c));
  std::string out;
  char buf[256];
  ssize_t n;
  while ((n = ::read(m.get(), buf, sizeof buf)) > 0) out.append(buf, static_cast<size_t>(n));
  EXPECT_NE(out.find("/dev/pts/0"), std::string::npos) << out;
  EXPECT_NE(out.find("term-ok"), std::string::npos) << out;
}

TEST_F(RuntimeTest, MemoryHogIsOomKilled) {
  spec_.linux->resources->memory = oci::MemoryResources{};
  spec_.linux->resources->memory->limit = 16 << 20;
  spec_.linux->resources->memory->swap = 16 << 20;
  auto r = run({"sh", "-c", "tail /dev/zero; echo rc=$?"});
  EXPECT_EQ(r.exitCode, 0) << r.out;
  EXPECT_NE(r.out.find("rc=137"), std::string::npos) << r.out;  // tail was SIGKILLed by the OOM killer
}

TEST_F(RuntimeTest, ForkBombStopsAtPidsLimit) {
  spec_.linux->resources->pids = oci::PidsResources{8};
  // busybox sh exits when fork fails: bomb from a subshell, then only builtins.
  auto r = run({"sh", "-c",
                "(for i in $(seq 20); do sleep 3 & done) 2>/dev/null; "
                "read m < /sys/fs/cgroup/pids/pids.max; read c < /sys/fs/cgroup/pids/pids.current; "
                "echo $m $c"});
  std::istringstream in(r.out);
  std::string max;
  int current = 0;
  in >> max >> current;
  EXPECT_EQ(max, "8") << r.out;
  EXPECT_LE(current, 8) << r.out;
  EXPECT_GE(current, 2) << r.out;
}

TEST_F(RuntimeTest, UserNamespaceWithMappings) {
  spec_.linux->namespaces.push_back({oci::NamespaceType::kUser, {}});
  spec_.linux->uidMappings = {{0, 200000, 65536}};
  spec_.linux->gidMappings = {{0, 200000, 65536}};
  auto r = run({"sh", "-c", "id -u; cat /proc/self/uid_map | tr -s ' '; ls -l /dev/null | cut -c1"});
  EXPECT_EQ(r.out, "0\n 0 200000 65536\nc\n") << r.out;
}

TEST_F(RuntimeTest, SeccompErrnoRule) {
  oci::Seccomp s;
  s.defaultAction = "SCMP_ACT_ALLOW";
  s.syscalls = {{{"mkdir", "mkdirat"}, "SCMP_ACT_ERRNO", 1, {}}};
  spec_.linux->seccomp = s;
  auto r = run({"sh", "-c", "mkdir /tmp/x 2>&1; echo rc=$?"});
  EXPECT_NE(r.out.find("Operation not permitted"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("rc=1"), std::string::npos) << r.out;
}

TEST_F(RuntimeTest, ConcurrentCreatesFromThreads) {
  spec_.process->args = {"true"};
  writeSpec();
  constexpr int kN = 8;
  std::vector<std::thread> threads;
  std::vector<int> ok(kN, 0);
  std::vector<pid_t> pids(kN, 0);
  for (int i = 0; i < kN; ++i)
    threads.emplace_back([&, i] {
      std::string c = id("t" + std::to_string(i));
      if (!rt_->create(opts(c))) return;
      auto st = rt_->state(c);
      if (!st || !rt_->start(c)) return;
      pids[i] = st->pid;
      ok[i] = 1;
    });
  for (auto& t : threads) t.join();
  for (int i = 0; i < kN; ++i) {
    EXPECT_EQ(ok[i], 1) << i;
    int status;
    if (pids[i] > 0) {
      EXPECT_EQ(::waitpid(pids[i], &status, 0), pids[i]);
      EXPECT_EQ(WEXITSTATUS(status), 0);
    }
    EXPECT_TRUE(rt_->remove(id("t" + std::to_string(i))));
  }
}

TEST_F(RuntimeTest, FiftyConcurrentCliRunsSucceedAndCleanUp) {
  // The concurrency goal, through the binary as engines call it: 50 `run`s at once.
  spec_.process->args = {"true"};
  writeSpec();
  constexpr int kN = 50;
  std::vector<pid_t> kids;
  for (int i = 0; i < kN; ++i) {
    std::string c = id("p" + std::to_string(i));
    pid_t p = ::fork();
    ASSERT_GE(p, 0);
    if (p == 0) {
      int null = ::open("/dev/null", O_WRONLY);
      ::dup2(null, 1);
      ::execl(BERTH_RUNTIME_BIN, "berth-runtime", "--root", stateRoot_.c_str(), "run", "-b",
              bundle_.c_str(), c.c_str(), static_cast<char*>(nullptr));
      _exit(127);
    }
    kids.push_back(p);
  }
  int ok = 0;
  for (pid_t p : kids) {
    int status = 0;
    if (::waitpid(p, &status, 0) == p && WIFEXITED(status) && WEXITSTATUS(status) == 0) ++ok;
  }
  EXPECT_EQ(ok, kN);
  for (int i = 0; i < kN; ++i) {
    std::string c = id("p" + std::to_string(i));
    EXPECT_FALSE(fs::exists(stateRoot_ + "/" + c)) << c;
    EXPECT_TRUE(sh("ls -d /sys/fs/cgroup/*/berth/" + c + " 2>/dev/null").empty()) << c;
  }
}

}  // namespace
}  // namespace berth::runtime::testing
