#include "builder/rootfs_ops.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include "common/fs.h"

namespace berth::build::rootfs {
namespace {

class RootfsOps : public ::testing::Test {
 protected:
  void SetUp() override {
    auto d = fs::makeTempDir("/tmp", "berth-build-rootfs-ops-");
    ASSERT_TRUE(d);
    dir_ = *d;
    ASSERT_TRUE(fs::mkdirs(dir_ + "/root/etc"));
    ASSERT_TRUE(fs::writeFileAtomic(dir_ + "/root/etc/passwd",
                                    "root:x:0:0::/root:/bin/sh\napp:x:1000:1001::/app:/bin/sh\n"));
    ASSERT_TRUE(fs::writeFileAtomic(dir_ + "/root/etc/group", "root:x:0:\nstaff:x:50:\n"));
    ASSERT_TRUE(fs::writeFileAtomic(dir_ + "/outside", "host secret"));
    root_.reset(::open((dir_ + "/root").c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
    ASSERT_TRUE(root_);
  }
  void TearDown() override { (void)fs::removeAll(dir_); }
  std::string dir_;
  UniqueFd root_;
};

TEST_F(RootfsOps, SymlinksResolveInsideTheRoot) {
  ASSERT_EQ(::symlink("/", (dir_ + "/root/up").c_str()), 0);
  ASSERT_EQ(::symlink("../../..", (dir_ + "/root/etc/dots").c_str()), 0);
  // "/up/outside" and "etc/dots/outside" would be the host file if followed on the host.
  EXPECT_FALSE(readFile(root_.get(), "/up/outside"));
  EXPECT_FALSE(readFile(root_.get(), "etc/dots/outside"));
  auto p = readFile(root_.get(), "/up/etc/passwd");
  ASSERT_TRUE(p);
  EXPECT_NE(p->find("app:x:1000"), std::string::npos);
  // Creating through a planted absolute link lands inside the root.
  ASSERT_EQ(::symlink("/etc", (dir_ + "/root/app").c_str()), 0);
  auto d = openDir(root_.get(), "/app/new/dir", true);
  ASSERT_TRUE(d) << d.error().message();
  EXPECT_TRUE(fs::isDir(dir_ + "/root/etc/new/dir"));
}

TEST_F(RootfsOps, LookupUser) {
  auto a = lookupUser(root_.get(), "app");
  ASSERT_TRUE(a);
  EXPECT_EQ(a->first, 1000u);
  EXPECT_EQ(a->second, 1001u);
  auto b = lookupUser(root_.get(), "app:staff");
  ASSERT_TRUE(b);
  EXPECT_EQ(b->second, 50u);
  auto c = lookupUser(root_.get(), "4242:7");
  ASSERT_TRUE(c);
  EXPECT_EQ(c->first, 4242u);
  EXPECT_EQ(c->second, 7u);
  auto n = lookupUser(root_.get(), "4242");
  ASSERT_TRUE(n);
  EXPECT_EQ(n->second, 4242u);  // unknown numeric user: gid = uid, like Docker
  EXPECT_FALSE(lookupUser(root_.get(), "nobody-here"));
  EXPECT_FALSE(lookupUser(root_.get(), "app:nogroup"));
}

TEST_F(RootfsOps, CopyNodeReplacesLinksAndKeepsMode) {
  ASSERT_TRUE(fs::writeFileAtomic(dir_ + "/src.sh", "#!/bin/sh\n", 0750));
  auto d = openDir(root_.get(), "/bin", true);
  ASSERT_TRUE(d);
  ASSERT_EQ(::symlink("/etc/passwd", (dir_ + "/root/bin/tool").c_str()), 0);
  Ownership own;
  ASSERT_TRUE(copyNode(dir_ + "/src.sh", d->get(), "tool", own));
  struct stat st;
  ASSERT_EQ(::lstat((dir_ + "/root/bin/tool").c_str(), &st), 0);
  EXPECT_TRUE(S_ISREG(st.st_mode));
  EXPECT_EQ(st.st_mode & 07777, 0750u);
  EXPECT_EQ(fs::readFile(dir_ + "/root/etc/passwd")->substr(0, 4), "root");
  own.mode = 0600;
  own.uid = 12;
  own.gid = 34;
  ASSERT_TRUE(copyNode(dir_ + "/src.sh", d->get(), "tool2", own));
  ASSERT_EQ(::lstat((dir_ + "/root/bin/tool2").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0600u);
  EXPECT_EQ(st.st_uid, 12u);
  EXPECT_EQ(st.st_gid, 34u);
}

TEST_F(RootfsOps, ExtractArchiveRefusesEscapes) {
  // A tar with "../evil" must not write outside the destination.
  std::string src = dir_ + "/t";
  ASSERT_TRUE(fs::mkdirs(src + "/a"));
  ASSERT_TRUE(fs::writeFileAtomic(src + "/a/f.txt", "hello"));
  std::string good = dir_ + "/good.tar.gz";
  ASSERT_EQ(std::system(("tar -C " + src + " -czf " + good + " a").c_str()), 0);
  auto r = extractArchive(good, root_.get(), "/opt", Ownership{});
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_TRUE(*r);
  EXPECT_EQ(*fs::readFile(dir_ + "/root/opt/a/f.txt"), "hello");
  std::string evil = dir_ + "/evil.tar";
  ASSERT_EQ(std::system(("tar -C " + src + " -cf " + evil + " --transform 's,^a,../../x,' a/f.txt 2>/dev/null").c_str()), 0);
  auto e = extractArchive(evil, root_.get(), "/opt", Ownership{});
  EXPECT_FALSE(e);
  EXPECT_FALSE(fs::exists(dir_ + "/x"));
  auto plain = extractArchive(dir_ + "/outside", root_.get(), "/opt", Ownership{});
  ASSERT_TRUE(plain);
  EXPECT_FALSE(*plain);  // not an archive: the caller copies it as a file
}

}  // namespace
}  // namespace berth::build::rootfs
