#include "build_test_util.h"

#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>

#include "common/fs.h"
#include "common/strings.h"

namespace berth::buildtest {

CmdResult sh(const std::string& cmd) {
  CmdResult r;
  FILE* p = ::popen(("(" + cmd + ") 2>&1").c_str(), "r");
  if (!p) return r;
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) r.output.append(buf, n);
  int st = ::pclose(p);
  r.code = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
  return r;
}

void BuildTest::SetUp() {
  std::string busybox = std::string(BERTH_SOURCE_DIR) + "/build/fixtures/busybox.tar";
  if (!fs::exists(busybox)) GTEST_SKIP() << "fixture " << busybox << " missing: run tests/fixtures/make-all.sh";
  if (::geteuid() != 0) GTEST_SKIP() << "needs root (overlayfs, namespaces)";
  auto d = fs::makeTempDir("/tmp", "berth-buildtest-");
  ASSERT_TRUE(d);
  tmp_ = *d;
  root_ = tmp_ + "/root";
  runroot_ = tmp_ + "/run";
  auto r = berth("import " + busybox + " busybox:latest");
  ASSERT_EQ(r.code, 0) << r.output;
}

void BuildTest::TearDown() {
  if (tmp_.empty()) return;
  // Unmount anything still mounted below the temp dir (a failing test must not leak mounts).
  auto mi = fs::readFile("/proc/self/mountinfo");
  if (mi) {
    std::vector<std::string> targets;
    for (auto& line : str::split(*mi, '\n')) {
      auto f = str::split(line, ' ');
      if (f.size() > 4 && str::startsWith(f[4], tmp_)) targets.push_back(f[4]);
    }
    for (auto it = targets.rbegin(); it != targets.rend(); ++it) sh("umount -l '" + *it + "'");
  }
  (void)fs::removeAll(tmp_);
}

CmdResult BuildTest::berth(const std::string& args) {
  return sh(std::string(BERTH_BIN) + " --root " + root_ + " --runroot " + runroot_ + " " + args);
}

void BuildTest::write(const std::string& path, const std::string& content) {
  ASSERT_TRUE(fs::mkdirs(path.substr(0, path.rfind('/'))));
  ASSERT_TRUE(fs::writeFileAtomic(path, content, 0644));
}

std::string BuildTest::context(const std::map<std::string, std::string>& files) {
  std::string dir = tmp_ + "/ctx" + std::to_string(++ctxCount_);
  EXPECT_TRUE(fs::mkdirs(dir));
  for (auto& [p, c] : files) write(dir + "/" + p, c);
  return dir;
}

Result<image::Image> BuildTest::resolve(const std::string& name) {
  BERTH_ASSIGN(auto store, image::Store::open(root_));
  return store.resolve(name);
}

std::optional<std::string> BuildTest::imageFile(const std::string& name, const std::string& path) {
  auto store = image::Store::open(root_);
  if (!store) return std::nullopt;
  auto img = store->resolve(name);
  if (!img) return std::nullopt;
  auto dirs = store->snapshotDirs(*img);
  if (!dirs) return std::nullopt;
  for (auto it = dirs->rbegin(); it != dirs->rend(); ++it) {
    std::string p = *it + "/" + path;
    struct stat st;
    if (::lstat(p.c_str(), &st) != 0) continue;
    if (S_ISCHR(st.st_mode) && st.st_rdev == 0) return std::nullopt;  // whiteout
    auto c = fs::readFile(p);
    return c ? std::optional<std::string>(*c) : std::nullopt;
  }
  return std::nullopt;
}

size_t BuildTest::imageCount() {
  auto store = image::Store::open(root_);
  if (!store) return 0;
  auto l = store->list();
  return l ? l->size() : 0;
}

void BuildTest::expectNothingLeftBehind() {
  auto mi = fs::readFile("/proc/self/mountinfo");
  ASSERT_TRUE(mi);
  EXPECT_EQ(mi->find(tmp_), std::string::npos) << "a mount under " << tmp_ << " was left behind";
  auto states = fs::listDir(runroot_ + "/runtime");
  if (states) EXPECT_TRUE(states->empty()) << "runtime state left: " << (*states)[0];
  // Temp dirs of the build (overlay upper/work/merged) live in the store as build-*.
  auto r = sh("find " + root_ + " -maxdepth 3 -name 'build-*' ! -name build-cache -type d");
  EXPECT_EQ(r.output, "") << "temp dirs left behind";
  // ctest runs other build tests at the same time, and their RUN steps have berth-build-*
  // cgroups of their own for a moment. So: every build cgroup that exists now must be gone
  // within a bounded wait. One this test leaked never goes; a neighbour's goes when its step
  // ends (RUN steps in these tests take well under a second).
  const std::string list = "find /sys/fs/cgroup -maxdepth 3 -name 'berth-build-*' 2>/dev/null";
  auto now = str::split(sh(list).output, '\n');
  std::string left;
  for (int i = 0; i < 100; ++i) {  // at most 10 s
    left.clear();
    for (auto& p : now) {
      struct stat st;
      if (!p.empty() && ::lstat(p.c_str(), &st) == 0) left += p + "\n";
    }
    if (left.empty()) break;
    ::usleep(100 * 1000);
  }
  EXPECT_EQ(left, "") << "cgroups left behind";
}

int countLines(const std::string& out, const std::string& needle) {
  int n = 0;
  for (auto& l : str::split(out, '\n'))
    if (l.find(needle) != std::string::npos) ++n;
  return n;
}

}  // namespace berth::buildtest
