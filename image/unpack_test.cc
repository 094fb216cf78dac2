// Safe unpacking against hand-made hostile layers, whiteouts, and the dir -> layer round trip.
// Needs root (chown, mknod, trusted.* xattrs), as the store itself does.
#include "image/unpack.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "common/digest.h"
#include "common/fs.h"
#include "common/unique_fd.h"
#include "image/layer_writer.h"
#include "image/test_tar.h"

namespace berth::image {
namespace {

using namespace testing;

class UnpackTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto d = fs::makeTempDir("/tmp", "berth-unpack-test-");
    ASSERT_TRUE(d);
    base_ = *d;
    root_ = base_ + "/root";
    outside_ = base_ + "/outside";
    ASSERT_EQ(::mkdir(root_.c_str(), 0755), 0);
    ASSERT_EQ(::mkdir(outside_.c_str(), 0755), 0);
    ASSERT_TRUE(fs::writeFileAtomic(outside_ + "/secret", "keep"));
  }
  void TearDown() override { (void)fs::removeAll(base_); }

  Result<UnpackResult> unpack(const std::vector<TarEntry>& entries, bool gzip = false) {
    std::string tar = base_ + "/layer.tar";
    EXPECT_TRUE(writeTar(tar, entries, gzip));
    UniqueFd fd(::open(tar.c_str(), O_RDONLY | O_CLOEXEC));
    return unpackLayer(fd.get(), root_);
  }
  /// Nothing in `outside_` but the untouched secret.
  void expectOutsideUntouched() {
    auto names = fs::listDir(outside_);
    ASSERT_TRUE(names);
    EXPECT_EQ(names->size(), 1u);
    EXPECT_EQ(*fs::readFile(outside_ + "/secret"), "keep");
    struct stat st;
    ASSERT_EQ(::stat((outside_ + "/secret").c_str(), &st), 0);
    EXPECT_EQ(st.st_nlink, 1u);
    auto top = fs::listDir(base_);
    ASSERT_TRUE(top);
    for (auto& n : *top) EXPECT_TRUE(n == "root" || n == "outside" || n == "layer.tar") << n;
  }
  std::string rel(const std::string& abs) { return abs.substr(1); }

  std::string base_, root_, outside_;
};

TEST_F(UnpackTest, DotDotPathIsRejected) {
  auto r = unpack({file("../outside/pwned", "x"), file("../../pwned2", "x")});
  EXPECT_FALSE(r);
  expectOutsideUntouched();
}

TEST_F(UnpackTest, AbsolutePathLandsInsideRoot) {
  auto r = unpack({file(outside_ + "/pwned", "x")});
  ASSERT_TRUE(r) << r.error().message();
  expectOutsideUntouched();
  EXPECT_TRUE(fs::exists(root_ + outside_ + "/pwned"));
}

TEST_F(UnpackTest, AbsoluteSymlinkParentStaysInside) {
  auto r = unpack({symlink("evil", outside_), file("evil/pwned", "x")});
  // Either the write lands under root/<outside> or fails; never outside.
  (void)r;
  expectOutsideUntouched();
}

TEST_F(UnpackTest, RelativeSymlinkParentStaysInside) {
  auto r = unpack({symlink("evil", "../../../../../../.." + outside_), file("evil/pwned", "x")});
  (void)r;
  expectOutsideUntouched();
}

TEST_F(UnpackTest, DirectorySwappedForSymlinkMidway) {
  auto r = unpack({dir("d"), file("d/a", "1"), symlink("d", outside_), file("d/pwned", "x"),
                   dir("d/sub"), file("d/sub/pwned", "y")});
  (void)r;
  expectOutsideUntouched();
}

TEST_F(UnpackTest, HardlinkOutsideIsRejected) {
  auto r = unpack({hardlink("h", "../outside/secret")});
  EXPECT_FALSE(r);
  auto r2 = unpack({hardlink("h2", outside_ + "/secret")});
  EXPECT_FALSE(r2);  // resolves inside root, where it does not exist
  expectOutsideUntouched();
}

TEST_F(UnpackTest, HardlinkThroughSymlinkDoesNotFollow) {
  auto r = unpack({symlink("s", outside_ + "/secret"), hardlink("h", "s"),
                   symlink("sd", outside_), hardlink("h2", "sd/secret")});
  (void)r;
  expectOutsideUntouched();
  struct stat st;
  if (::lstat((root_ + "/h").c_str(), &st) == 0) {
    EXPECT_TRUE(S_ISLNK(st.st_mode));
  }
}

TEST_F(UnpackTest, SymlinkReplacedFileDoesNotWriteThrough) {
  // A file entry over an existing symlink replaces the link, never writes to its target.
  auto r = unpack({symlink("f", outside_ + "/secret"), file("f", "overwritten")});
  ASSERT_TRUE(r) << r.error().message();
  expectOutsideUntouched();
  EXPECT_EQ(*fs::readFile(root_ + "/f"), "overwritten");
}

TEST_F(UnpackTest, WhiteoutsBecomeOverlayForm) {
  auto r = unpack({dir("etc"), file("etc/.wh.passwd", ""), dir("opt"), file("opt/.wh..wh..opq", ""),
                   file("opt/kept", "k")});
  ASSERT_TRUE(r) << r.error().message();
  struct stat st;
  ASSERT_EQ(::lstat((root_ + "/etc/passwd").c_str(), &st), 0);
  EXPECT_TRUE(S_ISCHR(st.st_mode));
  EXPECT_EQ(st.st_rdev, makedev(0, 0));
  EXPECT_FALSE(fs::exists(root_ + "/etc/.wh.passwd"));
  char v[4] = {};
  EXPECT_EQ(::getxattr((root_ + "/opt").c_str(), "trusted.overlay.opaque", v, sizeof v), 1);
  EXPECT_EQ(v[0], 'y');
  EXPECT_FALSE(fs::exists(root_ + "/opt/.wh..wh..opq"));
  EXPECT_TRUE(fs::exists(root_ + "/opt/kept"));
}

TEST_F(UnpackTest, ModesOwnersDevicesAndXattrs) {
  TarEntry suid = file("bin/su", "su", 04755);
  TarEntry sgid = file("bin/wall", "w", 02755);
  sgid.uid = 1000;
  sgid.gid = 5;
  TarEntry null;
  null.path = "dev/null";
  null.type = AE_IFCHR;
  null.perm = 0666;
  null.devMajor = 1;
  null.devMinor = 3;
  TarEntry x = file("x", "x");
  x.xattrs = {{"user.note", "hi"}, {"trusted.overlay.redirect", "/etc"}, {"security.selinux", "z"}};
  auto r = unpack({dir("bin"), suid, sgid, dir("dev"), null, dir("tmp", 01777), x});
  ASSERT_TRUE(r) << r.error().message();
  struct stat st;
  ASSERT_EQ(::stat((root_ + "/bin/su").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 04755u);
  ASSERT_EQ(::stat((root_ + "/bin/wall").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 02755u);
  EXPECT_EQ(st.st_uid, 1000u);
  EXPECT_EQ(st.st_gid, 5u);
  ASSERT_EQ(::lstat((root_ + "/dev/null").c_str(), &st), 0);
  EXPECT_TRUE(S_ISCHR(st.st_mode));
  EXPECT_EQ(st.st_rdev, makedev(1, 3));
  ASSERT_EQ(::stat((root_ + "/tmp").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 01777u);
  char v[16] = {};
  EXPECT_EQ(::getxattr((root_ + "/x").c_str(), "user.note", v, sizeof v), 2);
  EXPECT_LT(::getxattr((root_ + "/x").c_str(), "trusted.overlay.redirect", v, sizeof v), 0);
  EXPECT_LT(::getxattr((root_ + "/x").c_str(), "security.selinux", v, sizeof v), 0)
      << "only user.* and security.capability may be set by a layer";
}

TEST_F(UnpackTest, DigestsOfPlainAndGzip) {
  std::vector<TarEntry> es = {dir("a"), file("a/b", "hello")};
  std::string tar = base_ + "/layer.tar";
  ASSERT_TRUE(writeTar(tar, es, false));
  auto plain = *sha256File(tar);
  auto r = unpack(es, false);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->diffId, plain);
  EXPECT_EQ(r->rawDigest, plain);
  EXPECT_EQ(r->compression, oci::Compression::kNone);
  (void)fs::removeAll(root_);
  ::mkdir(root_.c_str(), 0755);
  auto g = unpack(es, true);
  ASSERT_TRUE(g);
  EXPECT_EQ(g->diffId, plain);
  EXPECT_EQ(g->rawDigest, *sha256File(tar));
  EXPECT_EQ(g->compression, oci::Compression::kGzip);
  (void)fs::removeAll(root_);
  ::mkdir(root_.c_str(), 0755);
  ASSERT_TRUE(writeTar(tar, es, false, true));
  UniqueFd zfd(::open(tar.c_str(), O_RDONLY | O_CLOEXEC));
  auto z = unpackLayer(zfd.get(), root_);
  ASSERT_TRUE(z) << z.error().message();
  EXPECT_EQ(z->diffId, plain);
  EXPECT_EQ(z->compression, oci::Compression::kZstd);
  EXPECT_EQ(*fs::readFile(root_ + "/a/b"), "hello");
}

TEST_F(UnpackTest, GarbageAndTruncatedAreErrors) {
  std::string junk = base_ + "/layer.tar";
  ASSERT_TRUE(fs::writeFileAtomic(junk, std::string(3000, 'z')));
  UniqueFd fd(::open(junk.c_str(), O_RDONLY));
  auto r = unpackLayer(fd.get(), root_);
  EXPECT_FALSE(r);
  ASSERT_TRUE(writeTar(junk, {file("big", std::string(100000, 'a'))}, true));
  auto text = *fs::readFile(junk);
  ASSERT_TRUE(fs::writeFileAtomic(junk, text.substr(0, text.size() / 2)));
  UniqueFd fd2(::open(junk.c_str(), O_RDONLY));
  EXPECT_FALSE(unpackLayer(fd2.get(), root_));
}

TEST_F(UnpackTest, DirToLayerRoundTrip) {
  // An overlay-style upper dir: a whiteout, an opaque dir, a hardlink pair, a symlink.
  std::string up = base_ + "/upper";
  ASSERT_TRUE(fs::mkdirs(up + "/etc"));
  ASSERT_TRUE(fs::mkdirs(up + "/opt"));
  ASSERT_EQ(::mknod((up + "/etc/gone").c_str(), S_IFCHR, makedev(0, 0)), 0);
  ASSERT_EQ(::setxattr((up + "/opt").c_str(), "trusted.overlay.opaque", "y", 1, 0), 0);
  ASSERT_TRUE(fs::writeFileAtomic(up + "/opt/a", "A", 04755));
  ASSERT_EQ(::link((up + "/opt/a").c_str(), (up + "/opt/b").c_str()), 0);
  ASSERT_EQ(::symlink("a", (up + "/opt/l").c_str()), 0);
  std::string blob = base_ + "/blob.tgz";
  UniqueFd out(::open(blob.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644));
  auto lb = writeLayerFromDir(up, out.get());
  ASSERT_TRUE(lb) << lb.error().message();
  out.reset();
  EXPECT_EQ(lb->digest, *sha256File(blob));
  UniqueFd in(::open(blob.c_str(), O_RDONLY));
  auto r = unpackLayer(in.get(), root_);
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(r->diffId, lb->diffId);
  struct stat st, st2;
  ASSERT_EQ(::lstat((root_ + "/etc/gone").c_str(), &st), 0);
  EXPECT_TRUE(S_ISCHR(st.st_mode));
  char v[2] = {};
  EXPECT_EQ(::getxattr((root_ + "/opt").c_str(), "trusted.overlay.opaque", v, sizeof v), 1);
  ASSERT_EQ(::stat((root_ + "/opt/a").c_str(), &st), 0);
  ASSERT_EQ(::stat((root_ + "/opt/b").c_str(), &st2), 0);
  EXPECT_EQ(st.st_ino, st2.st_ino);
  EXPECT_EQ(st.st_mode & 07777, 04755u);
  ASSERT_EQ(::lstat((root_ + "/opt/l").c_str(), &st), 0);
  EXPECT_TRUE(S_ISLNK(st.st_mode));
}

}  // namespace
}  // namespace berth::image
