// Security regressions, hooks, and "bad input leaves nothing behind".
#include <sys/mount.h>

#include <fstream>

#include "runtime/lsm.h"
#include "runtime_fixture.h"

namespace berth::runtime::testing {
namespace {

class SecurityTest : public RuntimeTest {
 protected:
  /// Nothing of container `c` remains: state dir, cgroups, processes.
  void expectNothingLeft(const std::string& c) {
    EXPECT_FALSE(fs::exists(stateRoot_ + "/" + c)) << c;
    EXPECT_TRUE(sh("ls -d /sys/fs/cgroup/*/berth/" + c + " 2>/dev/null").empty()) << c;
    errno = 0;
    EXPECT_EQ(::waitpid(-1, nullptr, WNOHANG), -1) << "a child process was left behind";
  }
};

TEST_F(SecurityTest, BadInputLeavesNothingBehind) {
  struct Case {
    const char* json;
    const char* error;
  };
  std::string c = id();
  const Case cases[] = {
      {R"({"ociVersion":"1.0.2","process":{"args":["sh"]},"root":{"path":"rootfs"},)", "invalid JSON"},
      {R"({"ociVersion":"1.0.2","process":{"args":"sh"},"root":{"path":"rootfs"}})",
       "process.args: expected array of strings"},
      {R"({"ociVersion":"1.0.2","process":{"args":["sh"]},"root":{"path":"rootfs"},"linux":{"namespaces":[{"type":"mount"},{"type":"weird"}]}})",
       "unknown namespace type \"weird\""},
      {R"({"ociVersion":"1.0.2","process":{"args":["sh"]},"root":{"path":"nope"},"linux":{"namespaces":[{"type":"mount"}]}})",
       "rootfs"},
      {R"({"ociVersion":"1.0.2","process":{"args":["sh"],"capabilities":{"bounding":["CAP_NOPE"]}},"root":{"path":"rootfs"},"linux":{"namespaces":[{"type":"mount"}]}})",
       "unknown capability"},
      {R"({"ociVersion":"1.0.2","process":{"args":["/no/such/program"]},"root":{"path":"rootfs"},"linux":{"namespaces":[{"type":"mount"}]}})",
       "/no/such/program"},
      {R"({"ociVersion":"1.0.2","process":{"args":["sh"]},"root":{"path":"rootfs"},"mounts":[{"destination":"/x","type":"nosuchfs","source":"x"}],"linux":{"namespaces":[{"type":"mount"}]}})",
       "mount nosuchfs on /x"},
      {R"({"ociVersion":"1.0.2","process":{"args":["sh"],"apparmorProfile":"p"},"root":{"path":"rootfs"},"linux":{"namespaces":[{"type":"mount"}]}})",
       "process.apparmorProfile: "},
      {R"({"ociVersion":"1.0.2","process":{"args":["sh"],"selinuxLabel":"system_u:system_r:x"},"root":{"path":"rootfs"},"linux":{"namespaces":[{"type":"mount"}]}})",
       "process.selinuxLabel: "},
      {R"({"ociVersion":"1.0.2","process":{"args":["sh"]},"root":{"path":"rootfs"},"linux":{"namespaces":[{"type":"mount"}],"resources":{"devices":[{"allow":true,"type":"z","access":"r"}]}}})",
       "linux.resources.devices[0].type"},
      {R"({"ociVersion":"1.0.2","process":{"args":["sh"],"cwd":"/no/such/dir"},"root":{"path":"rootfs"},"linux":{"namespaces":[{"type":"mount"}]}})",
       "process.cwd /no/such/dir"},
  };
  for (const auto& k : cases) {
    ASSERT_TRUE(fs::writeFileAtomic(bundle_ + "/config.json", k.json));
    auto r = rt_->create(opts(c));
    if (k.error) {
      ASSERT_FALSE(r) << k.json;
      EXPECT_NE(r.error().message().find(k.error), std::string::npos) << r.error().message();
      EXPECT_EQ(r.error().message().find('\n'), std::string::npos);
      expectNothingLeft(c);
    } else if (r) {
      // A bad cwd is only detected when the process starts (after the fifo): it must exit.
      auto st = rt_->state(c);
      ASSERT_TRUE(rt_->start(c));
      int status;
      ::waitpid(st->pid, &status, 0);
      EXPECT_NE(WEXITSTATUS(status), 0);
      ASSERT_TRUE(rt_->remove(c));
    }
  }
  for (const char* bad : {"../x", "a/b", "", ".."}) {
    writeSpec();
    auto r = rt_->create(opts(bad));
    ASSERT_FALSE(r);
    EXPECT_NE(r.error().message().find("invalid container id"), std::string::npos);
  }
  EXPECT_FALSE(fs::exists(tmp_ + "/x"));
}

TEST_F(SecurityTest, HangingHookTimesOutAndCleansUp) {
  spec_.process->args = {"true"};
  spec_.hooks.createRuntime = {{"/bin/sleep", {"sleep", "30"}, {}, 1}};
  writeSpec();
  std::string c = id();
  auto r = rt_->create(opts(c));
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message().find("timed out"), std::string::npos) << r.error().message();
  expectNothingLeft(c);
}

TEST_F(SecurityTest, HooksGetStateOnStdin) {
  std::string out = tmp_ + "/hooks";
  ASSERT_TRUE(fs::mkdirs(out));
  auto hook = [&](const char* kind) {
    return oci::Hook{"/bin/sh", {"sh", "-c", std::string("cat > ") + out + "/" + kind}, {}, 5};
  };
  spec_.hooks.prestart = {hook("prestart")};
  spec_.hooks.createRuntime = {hook("createRuntime")};
  spec_.hooks.createContainer = {hook("createContainer")};
  spec_.hooks.poststart = {hook("poststart")};
  spec_.hooks.poststop = {hook("poststop")};
  // startContainer runs inside the container: write where the test can see it.
  spec_.mounts.push_back({"/hooks", "bind", out, {"rbind"}, {}, {}});
  spec_.hooks.startContainer = {{"/bin/sh", {"sh", "-c", "cat > /hooks/startContainer"}, {}, 5}};
  auto r = run({"true"});
  EXPECT_EQ(r.exitCode, 0) << r.out;
  for (const char* k : {"prestart", "createRuntime", "createContainer", "startContainer",
                        "poststart", "poststop"}) {
    auto text = fs::readFile(out + "/" + k);
    ASSERT_TRUE(text) << k;
    EXPECT_NE(text->find("\"id\":\"" + id("run") + "\""), std::string::npos) << k << ": " << *text;
  }
  EXPECT_NE(fs::readFile(out + "/createRuntime")->find("\"status\":\"creating\""), std::string::npos);
  EXPECT_NE(fs::readFile(out + "/poststart")->find("\"status\":\"running\""), std::string::npos);
  EXPECT_NE(fs::readFile(out + "/poststop")->find("\"status\":\"stopped\""), std::string::npos);
}

// CVE-2021-30465: a symlink in the image must not redirect a mount onto the host.
TEST_F(SecurityTest, MountTargetSymlinkStaysInsideRootfs) {
  std::string victim = tmp_ + "/victim";
  ASSERT_TRUE(fs::mkdirs(victim));
  ASSERT_EQ(::symlink(victim.c_str(), (bundle_ + "/rootfs/evil").c_str()), 0);
  ASSERT_EQ(::symlink("../../../../../../../../tmp", (bundle_ + "/rootfs/evil2").c_str()), 0);
  spec_.mounts.push_back({"/evil/sub", "tmpfs", "tmpfs", {}, {}, {}});
  spec_.mounts.push_back({"/evil2/sub2", "tmpfs", "tmpfs", {}, {}, {}});
  auto r = run({"sh", "-c", "mount | grep -c ' /.*sub'"});
  EXPECT_EQ(r.exitCode, 0) << r.out;
  // Both targets were created inside the rootfs, none on the host.
  EXPECT_FALSE(fs::exists(victim + "/sub"));
  EXPECT_FALSE(fs::exists("/tmp/sub2"));
  EXPECT_TRUE(fs::isDir(bundle_ + "/rootfs" + victim + "/sub"));
  EXPECT_TRUE(fs::isDir(bundle_ + "/rootfs/tmp/sub2"));
}

// CVE-2019-5736: the container must never be able to run (and then overwrite) the runtime
// binary through /proc/self/exe.
TEST_F(SecurityTest, ProcSelfExeIsTheSealedStub) {
  ASSERT_EQ(::symlink("/proc/self/exe", (bundle_ + "/rootfs/evil").c_str()), 0);
  std::ofstream(bundle_ + "/rootfs/evil.sh") << "#!/proc/self/exe\n";
  ::chmod((bundle_ + "/rootfs/evil.sh").c_str(), 0755);
  auto r = run({"/evil"});
  EXPECT_EQ(r.exitCode, 127) << r.out;  // the stub refused; the runtime never ran inside
  auto r2 = run({"/evil.sh"}, id("run2"));
  EXPECT_EQ(r2.exitCode, 127) << r2.out;
  // A running container process's exe link must not be writable, even as root.
  auto r3 = run({"sh", "-c", "readlink /proc/1/exe; echo x 2>/dev/null >> /proc/1/exe || echo denied"},
                id("run3"));
  EXPECT_NE(r3.out.find("denied"), std::string::npos) << r3.out;
}

// CVE-2024-21626 and fd leaks: no host fd reaches the container, and a cwd through one fails.
TEST_F(SecurityTest, NoFdLeaksAndCwdMustBeInside) {
  UniqueFd hostDir(::open("/sys/fs/cgroup", O_RDONLY | O_DIRECTORY));  // no CLOEXEC on purpose
  ASSERT_TRUE(hostDir);
  auto r = run({"sh", "-c", "ls /proc/self/fd | wc -l"});
  EXPECT_EQ(r.out, "4\n") << r.out;  // 0 1 2 + ls's own dir fd
  spec_.process->cwd = "/proc/self/fd/" + std::to_string(hostDir.get());
  auto r2 = run({"sh", "-c", "pwd; ls .."}, id("run2"));
  EXPECT_NE(r2.exitCode, 0) << r2.out;
  EXPECT_EQ(r2.out.find("cpu"), std::string::npos) << r2.out;
}

TEST_F(SecurityTest, CliMatchesRunc) {
  std::string bin = BERTH_RUNTIME_BIN;
  spec_.process->args = {"sh", "-c", "exit 7"};
  writeSpec();
  std::string base = bin + " --root " + stateRoot_ + " ";
  EXPECT_EQ(WEXITSTATUS(std::system((base + "run -b " + bundle_ + " " + id() + " >/dev/null").c_str())), 7);
  EXPECT_FALSE(fs::exists(stateRoot_ + "/" + id()));
  std::string out = sh(base + "state nope 2>&1; echo rc=$?");
  EXPECT_EQ(out, "berth-runtime: container \"nope\" does not exist\nrc=1\n");
  out = sh(base + "--log-format xml list 2>&1; echo rc=$?");
  EXPECT_NE(out.find("--log-format"), std::string::npos);
  EXPECT_NE(out.find("rc=1"), std::string::npos);
  out = sh(base + "--systemd-cgroup create -b " + bundle_ + " x 2>&1; echo rc=$?");
  EXPECT_NE(out.find("not supported"), std::string::npos) << out;
  out = sh(base + "features");
  EXPECT_NE(out.find("\"ociVersionMax\""), std::string::npos);
  // Profiles and labels: enabled exactly where the host has the LSM; device rules on
  // cgroup2: eBPF.
  auto said = [&](const char* lsm, bool on) {
    return out.find("\"" + std::string(lsm) + "\": {\n      \"enabled\": " + (on ? "true" : "false")) !=
           std::string::npos;
  };
  EXPECT_TRUE(said("apparmor", lsm::apparmorEnabled())) << out;
  EXPECT_TRUE(said("selinux", lsm::selinuxEnabled())) << out;
  EXPECT_NE(out.find("\"io.github.berth.runtime.cgroups.devices\": \"v1,ebpf\""), std::string::npos);
  // terminal: true without --console-socket: run holds the pty itself.
  spec_.process->terminal = true;
  spec_.process->args = {"sh"};
  writeSpec();
  out = sh("echo 'echo tty=$(tty); exit 5' | " + base + "run -b " + bundle_ + " " + id("tty") +
           " | tr -d '\\r'");
  EXPECT_NE(out.find("tty=/dev/pts/0"), std::string::npos) << out;
  std::string sb = tmp_ + "/specdir";
  ASSERT_TRUE(fs::mkdirs(sb));
  EXPECT_EQ(std::system((base + "spec -b " + sb).c_str()), 0);
  EXPECT_TRUE(oci::parseSpec(*fs::readFile(sb + "/config.json")));
}

}  // namespace
}  // namespace berth::runtime::testing
