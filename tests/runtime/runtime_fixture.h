#pragma once
// Shared fixture for the runtime integration tests: a busybox bundle per test, a private
// state root, unique ids/cgroups, and a TearDown that removes everything even on failure.

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <string>

#include "common/fs.h"
#include "common/unique_fd.h"
#include "oci/runtime_spec.h"
#include "runtime/runtime.h"

namespace berth::runtime::testing {

inline std::string sourceDir() { return BERTH_SOURCE_DIR; }
inline std::string fixtureTar() { return sourceDir() + "/build/fixtures/busybox.tar"; }

inline std::string sh(const std::string& cmd) {
  std::string out;
  FILE* f = ::popen(cmd.c_str(), "r");
  if (!f) return out;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, f)) > 0) out.append(buf, n);
  ::pclose(f);
  return out;
}

/// Output captured from a container's stdout+stderr through a pipe.
struct Captured {
  int exitCode = -1;
  int signal = 0;
  std::string out;
};

class RuntimeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "needs root";
    if (!fs::exists(fixtureTar())) GTEST_SKIP() << "run tests/fixtures/make-all.sh first";
    auto t = fs::makeTempDir("/tmp", "berth-rt-it-");
    ASSERT_TRUE(t);
    tmp_ = *t;
    bundle_ = tmp_ + "/bundle";
    stateRoot_ = tmp_ + "/state";
    ASSERT_TRUE(fs::mkdirs(bundle_ + "/rootfs"));
    ASSERT_EQ(std::system(("tar -xf " + fixtureTar() + " -C " + bundle_ + "/rootfs").c_str()), 0);
    for (const auto& d : {tmp_, bundle_, bundle_ + "/rootfs"}) ::chmod(d.c_str(), 0755);
    rt_ = std::make_unique<Runtime>(stateRoot_);
    prefix_ = "it" + std::to_string(::getpid()) + "-" +
              ::testing::UnitTest::GetInstance()->current_test_info()->name();
    spec_ = oci::defaultSpec();
    spec_.process->terminal = false;
    spec_.root->readonly = false;
    spec_.hostname = "berth-it";
  }

  void TearDown() override {
    if (!rt_) return;
    if (auto l = rt_->list())
      for (const auto& s : *l) (void)rt_->remove(s.id, true);
    while (::waitpid(-1, nullptr, WNOHANG) > 0) {
    }
    if (!tmp_.empty()) {
      std::system(("umount -R " + tmp_ + "/mnt 2>/dev/null").c_str());
      (void)fs::removeAll(tmp_);
    }
  }

  std::string id(const std::string& suffix = "c") const { return prefix_ + "-" + suffix; }

  void writeSpec() {
    ASSERT_TRUE(fs::writeFileAtomic(bundle_ + "/config.json", oci::toJson(spec_)));
  }

  CreateOptions opts(const std::string& cid, int outFd = -1) {
    CreateOptions o;
    o.id = cid;
    o.bundle = bundle_;
    o.stdio = {-1, outFd, outFd};
    o.vforkInit = vforkInit_;
    return o;
  }

  /// Create+start+wait with stdout/stderr captured; the container is deleted afterwards.
  Captured run(const std::vector<std::string>& args, const std::string& cid = "") {
    Captured c;
    std::string name = cid.empty() ? id("run") : cid;
    spec_.process->args = args;
    writeSpec();
    int p[2];
    EXPECT_EQ(::pipe2(p, O_CLOEXEC), 0);
    UniqueFd rd(p[0]), wr(p[1]);
    auto r = rt_->create(opts(name, wr.get()));
    wr.reset();
    if (!r) {
      c.out = "CREATE ERROR: " + r.error().message();
      return c;
    }
    auto st = rt_->state(name);
    EXPECT_TRUE(st);
    auto s = rt_->start(name);
    EXPECT_TRUE(s) << (s ? "" : s.error().message());
    char buf[4096];
    ssize_t n;
    while ((n = ::read(rd.get(), buf, sizeof buf)) > 0) c.out.append(buf, static_cast<size_t>(n));
    int status = 0;
    EXPECT_EQ(::waitpid(st->pid, &status, 0), st->pid);
    if (WIFEXITED(status)) c.exitCode = WEXITSTATUS(status);
    if (WIFSIGNALED(status)) c.signal = WTERMSIG(status);
    auto d = rt_->remove(name);
    EXPECT_TRUE(d) << (d ? "" : d.error().message());
    return c;
  }

  std::string tmp_, bundle_, stateRoot_, prefix_;
  std::unique_ptr<Runtime> rt_;
  oci::Spec spec_;
  bool vforkInit_ = false;  ///< CreateOptions::vforkInit for opts() and run()
};

}  // namespace berth::runtime::testing
