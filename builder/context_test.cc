#include "builder/context.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include "common/fs.h"

namespace berth::build {
namespace {

class ContextTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto d = fs::makeTempDir("/tmp", "berth-build-ctx-");
    ASSERT_TRUE(d);
    dir_ = *d;
    write("app.py", "print(1)\n");
    write("src/a.c", "int a;\n");
    write("src/b.c", "int b;\n");
    write("src/sub/c.h", "#pragma once\n");
    write("debug.log", "noise\n");
    write("docs/keep.md", "keep\n");
    write("docs/drop.md", "drop\n");
    write(".dockerignore", "*.log\ndocs\n!docs/keep.md\n");
  }
  void TearDown() override { (void)fs::removeAll(dir_); }

  void write(const std::string& rel, const std::string& data) {
    std::string p = dir_ + "/" + rel;
    ASSERT_TRUE(fs::mkdirs(p.substr(0, p.rfind('/'))));
    ASSERT_TRUE(fs::writeFileAtomic(p, data, 0644));
  }
  std::unique_ptr<SourceTree> open() {
    auto ig = IgnoreMatcher::parse(*fs::readFile(dir_ + "/.dockerignore"));
    auto t = SourceTree::openContext(dir_, ig);
    EXPECT_TRUE(t) << (t ? "" : t.error().message());
    return t ? std::move(*t) : nullptr;
  }
  std::string sum(const std::string& src) {
    auto t = open();
    auto r = t->resolve(src);
    EXPECT_TRUE(r) << (r ? "" : r.error().message());
    auto c = t->checksum(*r);
    EXPECT_TRUE(c);
    return *c;
  }
  std::string dir_;
};

TEST_F(ContextTest, IgnoreAndExceptions) {
  auto t = open();
  EXPECT_NE(t->find("app.py"), nullptr);
  EXPECT_EQ(t->find("debug.log"), nullptr);
  EXPECT_NE(t->find("docs/keep.md"), nullptr);
  EXPECT_NE(t->find("docs"), nullptr);  // kept because of the exception below it
  EXPECT_EQ(t->find("docs/drop.md"), nullptr);
  EXPECT_FALSE(t->resolve("debug.log"));
}

TEST_F(ContextTest, WildcardsAndDirs) {
  auto t = open();
  auto r = t->resolve("src/*.c");
  ASSERT_TRUE(r);
  ASSERT_EQ(r->size(), 2u);
  EXPECT_EQ((*r)[0]->rel, "src/a.c");
  auto all = t->resolve(".");
  ASSERT_TRUE(all);
  auto sub = t->subtree(*(*all)[0]);
  ASSERT_TRUE(sub);
  EXPECT_GE(sub->size(), 8u);
  auto none = t->resolve("*.java");
  ASSERT_FALSE(none);
  EXPECT_NE(none.error().message().find("no source files"), std::string::npos);
  EXPECT_TRUE(t->resolve("/app.py"));  // absolute sources are relative to the context
}

TEST_F(ContextTest, RefusesEscapes) {
  auto t = open();
  auto up = t->resolve("../etc/passwd");
  ASSERT_FALSE(up);
  EXPECT_NE(up.error().message().find("outside the build context"), std::string::npos);
  ASSERT_EQ(::symlink("/etc/passwd", (dir_ + "/abs").c_str()), 0);
  ASSERT_EQ(::symlink("../../etc", (dir_ + "/src/up").c_str()), 0);
  ASSERT_EQ(::symlink("sub/c.h", (dir_ + "/src/in").c_str()), 0);
  auto t2 = open();
  auto a = t2->resolve("abs");
  ASSERT_FALSE(a);
  EXPECT_NE(a.error().message().find("points outside the build context"), std::string::npos);
  EXPECT_FALSE(t2->resolve("src/up/passwd"));
  auto in = t2->resolve("src/in");  // a link that stays inside is followed
  ASSERT_TRUE(in);
  EXPECT_EQ((*in)[0]->rel, "src/sub/c.h");
}

TEST_F(ContextTest, ChecksumIgnoresMtimeButNotContentOrMode) {
  std::string base = sum("src");
  EXPECT_EQ(base, sum("src"));
  // touch: new mtime, same content -> same checksum
  struct timespec ts[2] = {{1000, 0}, {1000, 0}};
  ASSERT_EQ(::utimensat(AT_FDCWD, (dir_ + "/src/a.c").c_str(), ts, 0), 0);
  EXPECT_EQ(base, sum("src"));
  ASSERT_EQ(::chmod((dir_ + "/src/a.c").c_str(), 0755), 0);
  std::string moded = sum("src");
  EXPECT_NE(base, moded);
  write("src/a.c", "int a = 1;\n");
  ASSERT_EQ(::chmod((dir_ + "/src/a.c").c_str(), 0755), 0);
  EXPECT_NE(moded, sum("src"));
  EXPECT_EQ(sum("app.py"), sum("app.py"));
  // An ignored file changing does not change the checksum of the whole context.
  std::string whole = sum(".");
  write("debug.log", "more noise\n");
  EXPECT_EQ(whole, sum("."));
}

TEST(RootfsTree, AbsoluteLinksStayInRoot) {
  auto d = fs::makeTempDir("/tmp", "berth-build-rootfs-");
  ASSERT_TRUE(d);
  ASSERT_TRUE(fs::mkdirs(*d + "/usr/bin"));
  ASSERT_TRUE(fs::writeFileAtomic(*d + "/usr/bin/tool", "x", 0755));
  ASSERT_EQ(::symlink("/usr/bin/tool", (*d + "/usr/bin/link").c_str()), 0);
  ASSERT_EQ(::symlink("../../../../usr", (*d + "/usr/up").c_str()), 0);
  auto t = SourceTree::openRootfs(*d);
  ASSERT_TRUE(t);
  auto r = (*t)->resolve("/usr/bin/link");
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ((*r)[0]->rel, "usr/bin/tool");
  auto u = (*t)->resolve("/usr/up/bin/tool");  // ".." clamps at the root, like a chroot
  ASSERT_TRUE(u) << u.error().message();
  EXPECT_EQ((*u)[0]->rel, "usr/bin/tool");
  (void)fs::removeAll(*d);
}

}  // namespace
}  // namespace berth::build
