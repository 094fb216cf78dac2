#include <gtest/gtest.h>

#include <unistd.h>

#include "common/fs.h"
#include "engine/bundle.h"
#include "engine/logs.h"
#include "engine/procs.h"
#include "engine/record_store.h"
#include "engine/run_flags.h"
#include "engine/seccomp_profile.h"
#include "engine/state.h"
#include "runtime/seccomp.h"

namespace berth::engine {
namespace {

class TempDir : public ::testing::Test {
 protected:
  void SetUp() override { dir_ = *fs::makeTempDir("/tmp", "berth-engine-test-"); }
  void TearDown() override { (void)fs::removeAll(dir_); }
  std::string dir_;
};

TEST(Lifecycle, Predicates) {
  EXPECT_TRUE(Lifecycle{State::kCreated}.canStart());
  EXPECT_TRUE(Lifecycle{State::kExited}.canStart());
  EXPECT_FALSE(Lifecycle{State::kRunning}.canStart());
  EXPECT_TRUE(Lifecycle{State::kRunning}.canStop());
  EXPECT_FALSE(Lifecycle{State::kExited}.canKill());
  EXPECT_FALSE(Lifecycle{State::kRunning}.canRemove(false));
  EXPECT_TRUE(Lifecycle{State::kRunning}.canRemove(true));
  EXPECT_TRUE(Lifecycle{State::kDead}.canRemove(false));
  EXPECT_FALSE(Lifecycle{State::kRemoving}.canRemove(true));
  EXPECT_TRUE(Lifecycle{State::kRunning}.canExec());
  EXPECT_FALSE(Lifecycle{State::kPaused}.canExec());
  for (auto s : {State::kCreating, State::kCreated, State::kRunning, State::kPaused,
                 State::kRestarting, State::kExited, State::kRemoving, State::kDead})
    EXPECT_EQ(parseState(stateName(s)), s);
}

RunFlags base() {
  RunFlags f;
  f.image = "busybox";
  return f;
}

TEST(RunFlags, GoodValues) {
  RunFlags f = base();
  f.publish = {"127.0.0.1:8080:80", "9000-9001:90-91/udp"};
  f.memory = "64m";
  f.cpus = "0.5";
  f.pidsLimit = "100";
  f.capAdd = {"net_admin"};
  f.capDrop = {"ALL"};
  f.restart = "on-failure:3";
  f.healthCmd = "true";
  f.healthInterval = "1m30s";
  f.ulimits = {"nofile=1024:2048"};
  f.tmpfs = {"/run:size=64m,mode=1777"};
  f.volumes = {"/tmp:/host-tmp:ro", "data:/data"};
  f.env = {"A=1"};
  f.labels = {"x=y"};
  f.logOpts = {"max-size=1k", "max-file=2"};
  f.stopSignal = "SIGINT";
  f.securityOpt = {"no-new-privileges"};
  auto c = parseRunFlags(f);
  ASSERT_TRUE(c) << c.error().message();
  EXPECT_EQ(c->ports.size(), 3u);
  EXPECT_EQ(c->memory, 64 << 20);
  EXPECT_EQ(c->nanoCpus, 500000000);
  EXPECT_EQ(c->pidsLimit, 100);
  EXPECT_EQ(c->capAdd[0], "CAP_NET_ADMIN");
  EXPECT_EQ(c->restart.name, "on-failure");
  EXPECT_EQ(c->restart.maxRetries, 3);
  EXPECT_EQ(c->health->intervalMs, 90000);
  EXPECT_EQ(c->ulimits[0].soft, 1024u);
  EXPECT_EQ(c->ulimits[0].hard, 2048u);
  EXPECT_EQ(c->mounts.size(), 3u);
  EXPECT_EQ(c->mounts[0].type, "bind");
  EXPECT_TRUE(c->mounts[0].readOnly);
  EXPECT_EQ(c->mounts[1].type, "volume");
  EXPECT_EQ(c->mounts[2].type, "tmpfs");
  EXPECT_EQ(c->logMaxSize, 1024);
  EXPECT_EQ(c->stopSignal, 2);
  EXPECT_TRUE(c->noNewPrivileges);
  auto back = configFromJson(configToJson(*c));
  ASSERT_TRUE(back);
  EXPECT_EQ(back->ports, c->ports);
  EXPECT_EQ(back->mounts.size(), 3u);
  EXPECT_EQ(back->health->intervalMs, 90000);
}

TEST(RunFlags, BadValuesGiveOneLine) {
  struct Case {
    std::function<void(RunFlags&)> set;
    std::string expect;
  };
  std::vector<Case> cases = {
      {[](RunFlags& f) { f.memory = "12q"; }, "--memory"},
      {[](RunFlags& f) { f.memory = "1k"; }, "minimum"},
      {[](RunFlags& f) { f.cpus = "-1"; }, "--cpus"},
      {[](RunFlags& f) { f.cpus = "999"; }, "CPUs available"},
      {[](RunFlags& f) { f.publish = {"80:80:80:80"}; }, "-p"},
      {[](RunFlags& f) { f.volumes = {"/does/not/exist/xyz:/a"}; }, "does not exist"},
      {[](RunFlags& f) { f.volumes = {"/tmp:relative"}; }, "absolute"},
      {[](RunFlags& f) { f.volumes = {"/tmp:/a:bogus"}; }, "unknown option"},
      {[](RunFlags& f) { f.restart = "sometimes"; }, "--restart"},
      {[](RunFlags& f) { f.restart = "always:3"; }, "--restart"},
      {[](RunFlags& f) { f.capAdd = {"FLY"}; }, "--cap-add"},
      {[](RunFlags& f) { f.ulimits = {"nofile=10:5"}; }, "soft"},
      {[](RunFlags& f) { f.ulimits = {"bogus=1"}; }, "--ulimit"},
      {[](RunFlags& f) { f.healthInterval = "ten"; }, "--health-interval"},
      {[](RunFlags& f) { f.securityOpt = {"seccomp=/nonexistent.json"}; }, "seccomp"},
      {[](RunFlags& f) { f.securityOpt = {"foo"}; }, "--security-opt"},
      {[](RunFlags& f) { f.name = "bad/name"; }, "--name"},
      {[](RunFlags& f) { f.stopSignal = "SIGNOPE"; }, "--stop-signal"},
      {[](RunFlags& f) { f.tmpfs = {"rel"}; }, "--tmpfs"},
      {[](RunFlags& f) { f.rm = true; f.restart = "always"; }, "conflicting"},
      {[](RunFlags& f) { f.logOpts = {"max-size=x"}; }, "--log-opt"},
      {[](RunFlags& f) { f.workdir = "rel"; }, "-w"},
  };
  for (auto& c : cases) {
    RunFlags f = base();
    c.set(f);
    auto r = parseRunFlags(f);
    ASSERT_FALSE(r) << c.expect;
    EXPECT_TRUE(r.error().is(ErrorCode::kInvalidArgument)) << r.error().message();
    EXPECT_NE(r.error().message().find(c.expect), std::string::npos) << r.error().message();
    EXPECT_EQ(r.error().message().find('\n'), std::string::npos);
  }
}

TEST(RunFlags, Durations) {
  EXPECT_EQ(*parseDurationMs("500ms"), 500);
  EXPECT_EQ(*parseDurationMs("1m30s"), 90000);
  EXPECT_EQ(*parseDurationMs("2h"), 7200000);
  EXPECT_FALSE(parseDurationMs("5"));
  EXPECT_FALSE(parseDurationMs("5x"));
  EXPECT_EQ(*parseSignal("TERM"), 15);
  EXPECT_EQ(*parseSignal("sigkill"), 9);
  EXPECT_EQ(*parseSignal("10"), 10);
}

TEST(MergeImage, DockerRules) {
  oci::ImageConfig img;
  img.config.entrypoint = {"/entry"};
  img.config.cmd = {"default"};
  img.config.env = {"A=image", "B=image"};
  img.config.workingDir = "/app";
  img.config.exposedPorts = {"80/tcp"};
  img.config.volumes = {"/data"};
  img.config.stopSignal = "SIGQUIT";
  ContainerConfig c;
  c.env = {"B=flag"};
  c.publishAll = true;
  ASSERT_TRUE(mergeImageConfig(c, img));
  EXPECT_EQ(c.args, (std::vector<std::string>{"/entry", "default"}));
  EXPECT_EQ(c.workdir, "/app");
  EXPECT_EQ(c.stopSignal, 3);
  ASSERT_EQ(c.ports.size(), 1u);
  EXPECT_EQ(c.ports[0].containerPort, 80);
  ASSERT_EQ(c.mounts.size(), 1u);
  EXPECT_EQ(c.mounts[0].destination, "/data");
  bool sawB = false;
  for (auto& e : c.env) sawB = sawB || e == "B=flag";
  EXPECT_TRUE(sawB);

  ContainerConfig c2;
  c2.entrypoint = std::vector<std::string>{"/bin/sh"};
  ASSERT_TRUE(mergeImageConfig(c2, img));
  EXPECT_EQ(c2.args, std::vector<std::string>{"/bin/sh"});  // image CMD dropped

  ContainerConfig c3;
  c3.entrypoint = std::vector<std::string>{};
  oci::ImageConfig empty;
  EXPECT_FALSE(mergeImageConfig(c3, empty));
}

TEST(MergeImage, TermDefaultsToXtermOnlyWhenUnset) {
  oci::ImageConfig img;
  img.config.cmd = {"sh"};
  auto term = [](const ContainerConfig& c) {
    std::string t;
    int n = 0;
    for (auto& e : c.env)
      if (e.rfind("TERM=", 0) == 0) t = e, ++n;
    return n == 1 ? t : "count=" + std::to_string(n);
  };
  ContainerConfig c;
  c.tty = true;
  ASSERT_TRUE(mergeImageConfig(c, img));
  EXPECT_EQ(term(c), "TERM=xterm");
  ContainerConfig user;
  user.tty = true;
  user.env = {"TERM=vt100"};
  ASSERT_TRUE(mergeImageConfig(user, img));
  EXPECT_EQ(term(user), "TERM=vt100");
  oci::ImageConfig withTerm = img;
  withTerm.config.env = {"TERM=linux"};
  ContainerConfig fromImage;
  fromImage.tty = true;
  ASSERT_TRUE(mergeImageConfig(fromImage, withTerm));
  EXPECT_EQ(term(fromImage), "TERM=linux");
  ContainerConfig noTty;
  ASSERT_TRUE(mergeImageConfig(noTty, img));
  EXPECT_EQ(term(noTty), "count=0");
}

TEST(SeccompProfile, DefaultCompilesAndDeniesWhatItShould) {
  const auto& p = defaultSeccompProfile();
  EXPECT_EQ(p.defaultAction, "SCMP_ACT_ALLOW");
  EXPECT_FALSE(p.architectures.empty());
  auto action = [&](const std::string& name) {
    for (auto& r : p.syscalls)
      for (auto& n : r.names)
        if (n == name) return r.action + "/" + std::to_string(r.errnoRet.value_or(0)) +
                              (r.args.empty() ? "" : "/args");
    return std::string("allow");
  };
  for (const char* n : {"mount", "umount2", "pivot_root", "kexec_load", "init_module", "bpf",
                        "keyctl", "open_by_handle_at", "setns", "reboot", "swapon"})
    EXPECT_EQ(action(n), "SCMP_ACT_ERRNO/1") << n;
  EXPECT_EQ(action("clone3"), "SCMP_ACT_ERRNO/38");
  EXPECT_EQ(action("unshare"), "SCMP_ACT_ERRNO/1/args");
  EXPECT_EQ(action("clone"), "SCMP_ACT_ERRNO/1/args");
  for (const char* n : {"read", "ptrace", "personality", "execve"}) EXPECT_EQ(action(n), "allow");
  // The runtime accepts it (every name resolves or is skipped, every rule is valid).
  auto f = runtime::compileSeccomp(p);
  EXPECT_TRUE(f) << (f ? "" : f.error().message());
}

TEST_F(TempDir, ResolveUser) {
  ASSERT_TRUE(fs::mkdirs(dir_ + "/etc"));
  ASSERT_TRUE(fs::writeFileAtomic(dir_ + "/etc/passwd", "root:x:0:0::/root:/bin/sh\napp:x:1000:1001::/:/bin/sh\n"));
  ASSERT_TRUE(fs::writeFileAtomic(dir_ + "/etc/group", "root:x:0:\napp:x:1001:\nextra:x:2000:app\n"));
  auto u = resolveUser(dir_, "app");
  ASSERT_TRUE(u);
  EXPECT_EQ(u->uid, 1000u);
  EXPECT_EQ(u->gid, 1001u);
  EXPECT_EQ(u->additionalGids, std::vector<uint32_t>{2000});
  EXPECT_EQ(resolveUser(dir_, "1000:extra")->gid, 2000u);
  EXPECT_FALSE(resolveUser(dir_, "nobody"));
  // A symlink planted in the rootfs must not make us read the host's file.
  ASSERT_EQ(::unlink((dir_ + "/etc/passwd").c_str()), 0);
  ASSERT_EQ(::symlink("/etc/passwd", (dir_ + "/etc/passwd").c_str()), 0);
  auto r = resolveUser(dir_, "root");  // root exists on the host but not in-root
  EXPECT_FALSE(r);
}

TEST_F(TempDir, RecordStoreCrud) {
  auto s = RecordStore::open(dir_);
  ASSERT_TRUE(s) << s.error().message();
  Record r;
  r.id = std::string(64, 'a');
  r.name = "web";
  r.state = State::kCreated;
  r.config.image = "busybox";
  ASSERT_TRUE((*s)->insert(r));
  Record r2 = r;
  r2.id = std::string(63, 'a') + "b";
  auto dup = (*s)->insert(r2);
  ASSERT_FALSE(dup);
  EXPECT_TRUE(dup.error().is(ErrorCode::kAlreadyExists));
  EXPECT_NE(dup.error().message().find("already in use"), std::string::npos);
  r2.name = "db";
  ASSERT_TRUE((*s)->insert(r2));
  EXPECT_EQ((*s)->get("web")->id, r.id);
  EXPECT_FALSE((*s)->get("aaaa"));  // ambiguous prefix
  EXPECT_EQ((*s)->get(std::string(63, 'a') + "b")->name, "db");
  EXPECT_TRUE((*s)->get("nope").error().is(ErrorCode::kNotFound));
  auto m = (*s)->modify(r.id, [](Record& x) -> Result<void> {
    if (!x.lifecycle().canStart()) return fail(ErrorCode::kFailedPrecondition, "no");
    x.state = State::kRunning;
    x.pid = 42;
    return {};
  });
  ASSERT_TRUE(m);
  EXPECT_EQ((*s)->get("web")->state, State::kRunning);
  auto m2 = (*s)->modify(r.id, [](Record& x) -> Result<void> {
    if (!x.lifecycle().canStart()) return fail(ErrorCode::kFailedPrecondition, "no");
    return {};
  });
  EXPECT_FALSE(m2);
  EXPECT_EQ((*s)->get("web")->pid, 42);
  EXPECT_FALSE((*s)->rename(r.id, "db"));
  ASSERT_TRUE((*s)->rename(r.id, "web2"));
  ASSERT_TRUE((*s)->remove(r.id));
  EXPECT_EQ((*s)->list()->size(), 1u);
  VolumeRecord v{"vol1", "local", 1, {{"a", "b"}}, false};
  ASSERT_TRUE((*s)->insertVolume(v));
  EXPECT_FALSE((*s)->insertVolume(v));
  EXPECT_EQ((*s)->getVolume("vol1")->labels.at("a"), "b");
  ASSERT_TRUE((*s)->removeVolume("vol1"));
}

TEST_F(TempDir, LogsRotateAndRead) {
  std::string path = dir_ + "/c-json.log";
  LogWriter w(path, 300, 3);
  ASSERT_TRUE(w.open());
  for (int i = 0; i < 20; ++i) w.write(i % 2, "line " + std::to_string(i) + "\n");
  w.write(0, "partial");
  w.flush();
  EXPECT_TRUE(fs::exists(path + ".1"));
  EXPECT_TRUE(fs::exists(path + ".2"));
  EXPECT_FALSE(fs::exists(path + ".3"));
  auto lines = readAllLogs(path, 3);
  ASSERT_FALSE(lines.empty());
  EXPECT_EQ(lines.back().text, "partial");
  EXPECT_EQ(lines[lines.size() - 2].text, "line 19\n");
  EXPECT_EQ(lines[lines.size() - 2].stream, "stderr");
  EXPECT_LT(lines.size(), 21u);  // the oldest were rotated away
  EXPECT_GT(lines.back().timeNs, 0);
}

TEST(LogWriter, JsonAndTime) {
  std::string out;
  appendJsonEscaped(out, "a\"b\\\n\x01 \xc3\xa9 \xff");
  EXPECT_EQ(out, "a\\\"b\\\\\\n\\u0001 \xc3\xa9 \xef\xbf\xbd");
  EXPECT_EQ(rfc3339Utc(1700000000123456789), "2023-11-14T22:13:20.123456789Z");
  EXPECT_EQ(rfc3339Utc(951782400000000000), "2000-02-29T00:00:00.000000000Z");
  EXPECT_EQ(rfc3339Utc(1700000000123456789), rfc3339(1700000000123456789));
}

TEST(Procs, SelfIsAlive) {
  auto st = pidStartTime(::getpid());
  ASSERT_TRUE(st);
  EXPECT_TRUE(pidAlive(::getpid(), *st));
  EXPECT_FALSE(pidAlive(::getpid(), *st + 1));
  EXPECT_FALSE(pidAlive(999999999, 0));
}

}  // namespace
}  // namespace berth::engine
