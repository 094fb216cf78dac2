#include <gtest/gtest.h>

#include <sys/stat.h>

#include "common/digest.h"
#include "common/error.h"
#include "common/fs.h"
#include "common/scoped_pid.h"
#include "common/strings.h"

namespace berth {
namespace {

Result<int> half(int x) {
  if (x % 2) return fail(ErrorCode::kInvalidArgument, "odd");
  return x / 2;
}

Result<int> quarter(int x) {
  BERTH_ASSIGN(int h, half(x));
  BERTH_ASSIGN(int q, half(h).map_error([](Error e) { return e.context("second half"); }));
  return q;
}

TEST(Error, ContextChainsOutermostFirst) {
  auto r = quarter(6);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message(), "second half: odd");
  EXPECT_TRUE(r.error().is(ErrorCode::kInvalidArgument));
  EXPECT_EQ(*quarter(8), 2);
}

TEST(Error, FromErrnoKeepsCode) {
  auto e = Error::fromErrno("open x", ENOENT);
  EXPECT_TRUE(e.isErrno());
  EXPECT_EQ(e.code(), ENOENT);
  EXPECT_NE(e.message().find("No such file"), std::string::npos);
}

TEST(Fs, CleanAndStaysInside) {
  EXPECT_EQ(fs::clean("/a/./b//../c"), "/a/c");
  EXPECT_EQ(fs::clean("/../../etc"), "/etc");
  EXPECT_EQ(fs::clean("a/../../b"), "../b");
  EXPECT_TRUE(fs::staysInside("a/b/../c"));
  EXPECT_FALSE(fs::staysInside("a/../../b"));
  EXPECT_FALSE(fs::staysInside("/etc/passwd"));
  EXPECT_FALSE(fs::staysInside(".."));
}

TEST(Fs, AtomicWriteReadRemove) {
  auto dir = fs::makeTempDir("/tmp", "berth-common-test-");
  ASSERT_TRUE(dir) << dir.error().message();
  auto f = fs::join(*dir, "x/y/file");
  ASSERT_TRUE(fs::mkdirs(fs::join(*dir, "x/y")));
  ASSERT_TRUE(fs::writeFileAtomic(f, "hello", 0600));
  EXPECT_EQ(*fs::readFile(f), "hello");
  struct stat st;
  ASSERT_EQ(::stat(f.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  auto names = fs::listDir(fs::join(*dir, "x/y"));
  ASSERT_TRUE(names);
  EXPECT_EQ(names->size(), 1u);  // no temp file left beside it
  ASSERT_TRUE(fs::removeAll(*dir));
  EXPECT_FALSE(fs::exists(*dir));
  EXPECT_FALSE(fs::readFile(f));
}

TEST(Strings, ParseBytes) {
  EXPECT_EQ(*str::parseBytes("512m"), 512LL << 20);
  EXPECT_EQ(*str::parseBytes("1g"), 1LL << 30);
  EXPECT_EQ(*str::parseBytes("1GB"), 1LL << 30);
  EXPECT_EQ(*str::parseBytes("100"), 100);
  EXPECT_FALSE(str::parseBytes("12x"));
  EXPECT_FALSE(str::parseBytes("-5m"));
  EXPECT_FALSE(str::parseBytes(""));
}

TEST(Strings, ParseIntsRejectJunk) {
  EXPECT_EQ(*str::parseU64("42"), 42u);
  EXPECT_FALSE(str::parseU64("42a"));
  EXPECT_FALSE(str::parseU64("-1"));
  EXPECT_FALSE(str::parseU64("99999999999999999999999"));
  EXPECT_EQ(*str::parseI64("-7"), -7);
}

TEST(Digest, KnownVector) {
  EXPECT_EQ(sha256Digest("abc"),
            "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_TRUE(isValidDigest(sha256Digest("")));
  EXPECT_FALSE(isValidDigest("sha256:../../etc/passwd"));
  EXPECT_FALSE(isValidDigest("sha256:ABC"));
}

TEST(ScopedPid, KillsAndReapsOnScopeExit) {
  pid_t pid;
  {
    pid = ::fork();
    if (pid == 0) {
      ::pause();
      ::_exit(0);
    }
    ScopedPid p(pid);
  }
  // Reaped: the pid is no longer our child.
  EXPECT_EQ(::waitpid(pid, nullptr, WNOHANG), -1);
  EXPECT_EQ(errno, ECHILD);
}

TEST(ScopedPid, WaitReturnsExitCode) {
  pid_t pid = ::fork();
  if (pid == 0) ::_exit(7);
  ScopedPid p(pid);
  auto st = p.wait();
  ASSERT_TRUE(st);
  EXPECT_EQ(exitCodeFromStatus(*st), 7);
  EXPECT_FALSE(p.valid());
}

}  // namespace
}  // namespace berth
