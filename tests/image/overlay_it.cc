// Overlay snapshots on the real kernel: whiteouts from a 3-layer image hide lower files, an
// upper dir commits back into a layer, and more lowers than fit one mount option string mount.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/mount.h>
#include <sys/stat.h>

#include "common/fs.h"
#include "common/strings.h"
#include "image/archive.h"
#include "image/overlay.h"
#include "image/store.h"

namespace berth::image {
namespace {

class OverlayIt : public ::testing::Test {
 protected:
  void SetUp() override {
    auto d = fs::makeTempDir("/tmp", "berth-overlay-it-");
    ASSERT_TRUE(d);
    base_ = *d;
  }
  void TearDown() override {
    for (auto it = mounts_.rbegin(); it != mounts_.rend(); ++it) ::umount2(it->c_str(), MNT_DETACH);
    (void)fs::removeAll(base_);
  }
  std::string mkdir(const std::string& name) {
    std::string p = base_ + "/" + name;
    EXPECT_TRUE(fs::mkdirs(p));
    return p;
  }
  std::string base_;
  std::vector<std::string> mounts_;
};

TEST_F(OverlayIt, LayeredImageWhiteoutsAndCommit) {
  std::string fixture = "build/fixtures/layered-oci.tar";
  if (!fs::exists(fixture)) GTEST_SKIP() << "fixture " << fixture << " missing";
  auto store = Store::open(base_ + "/root");
  ASSERT_TRUE(store);
  auto imgs = loadImages(*store, fixture);
  ASSERT_TRUE(imgs) << imgs.error().message();
  ASSERT_EQ(imgs->size(), 1u);
  auto dirs = store->snapshotDirs((*imgs)[0]);
  ASSERT_TRUE(dirs) << dirs.error().message();
  ASSERT_EQ(dirs->size(), 3u);
  std::string upper = mkdir("upper"), work = mkdir("work"), merged = mkdir("merged");
  ASSERT_TRUE(mountOverlay(*dirs, upper, work, merged));
  mounts_.push_back(merged);
  EXPECT_FALSE(fs::exists(merged + "/data/a")) << "whiteout must hide /data/a";
  EXPECT_TRUE(fs::exists(merged + "/data/b"));
  EXPECT_TRUE(fs::exists(merged + "/data/c"));
  EXPECT_FALSE(fs::exists(merged + "/opt/keep/x")) << "opaque dir must hide lower entries";
  EXPECT_TRUE(fs::exists(merged + "/opt/keep/y"));
  EXPECT_TRUE(fs::exists(merged + "/bin/busybox"));
  // Change things in the container, then commit the upper dir as a new layer.
  ASSERT_TRUE(fs::writeFileAtomic(merged + "/data/new", "n"));
  ASSERT_EQ(::unlink((merged + "/data/b").c_str()), 0);
  ASSERT_TRUE(unmount(merged));
  mounts_.clear();
  auto layer = store->commitLayerFromDir(upper);
  ASSERT_TRUE(layer) << layer.error().message();
  std::vector<Layer> layers;
  const Image& img = (*imgs)[0];
  for (size_t i = 0; i < img.layers.size(); ++i)
    layers.push_back({img.layers[i], img.config.rootfs.diffIds[i]});
  layers.push_back(*layer);
  oci::ImageConfig cfg = img.config;
  cfg.rootfs.diffIds.clear();
  auto committed = store->writeImage(cfg, layers, {"committed:1"});
  ASSERT_TRUE(committed) << committed.error().message();
  // Save and load through an archive into a fresh store: the whiteout survives as .wh.
  std::string arch = base_ + "/c.tar";
  ASSERT_TRUE(saveImages(*store, {"committed:1"}, arch, ArchiveFormat::kOci));
  auto store2 = Store::open(base_ + "/root2");
  ASSERT_TRUE(store2);
  auto loaded = loadImages(*store2, arch);
  ASSERT_TRUE(loaded) << loaded.error().message();
  auto dirs2 = store2->snapshotDirs((*loaded)[0]);
  ASSERT_TRUE(dirs2) << dirs2.error().message();
  std::string m2 = mkdir("m2");
  ASSERT_TRUE(mountOverlay(*dirs2, "", "", m2));
  mounts_.push_back(m2);
  EXPECT_FALSE(fs::exists(m2 + "/data/b"));
  EXPECT_FALSE(fs::exists(m2 + "/data/a"));
  EXPECT_EQ(*fs::readFile(m2 + "/data/new"), "n");
  EXPECT_TRUE(fs::exists(m2 + "/data/c"));
}

TEST_F(OverlayIt, MoreLowersThanOneOptionStringHolds) {
  // 90 lowers with 64-char names under a long parent: ~8 KB of lowerdir, twice a page.
  std::string parent = mkdir("snapshots-with-a-rather-long-parent-directory-name/snapshots");
  std::vector<std::string> lowers;
  for (int i = 0; i < 90; ++i) {
    std::string d = parent + "/" + str::randomHex(32);
    ASSERT_TRUE(fs::mkdirs(d));
    ASSERT_TRUE(fs::writeFileAtomic(d + "/f" + std::to_string(i), std::to_string(i)));
    lowers.push_back(d);
  }
  ASSERT_TRUE(fs::writeFileAtomic(lowers[0] + "/shadowed", "bottom"));
  ASSERT_TRUE(fs::writeFileAtomic(lowers[89] + "/shadowed", "top"));
  std::string upper = mkdir("u"), work = mkdir("w"), merged = mkdir("m");
  auto r = mountOverlay(lowers, upper, work, merged);
  ASSERT_TRUE(r) << r.error().message();
  mounts_.push_back(merged);
  EXPECT_TRUE(fs::exists(merged + "/f0"));
  EXPECT_TRUE(fs::exists(merged + "/f89"));
  EXPECT_EQ(*fs::readFile(merged + "/shadowed"), "top") << "last lower is the top layer";
}

TEST_F(OverlayIt, ZeroLowersAndReadOnlySingleLower) {
  std::string upper = mkdir("u"), work = mkdir("w"), merged = mkdir("m");
  ASSERT_TRUE(fs::writeFileAtomic(upper + "/x", "x"));
  ASSERT_TRUE(mountOverlay({}, upper, work, merged));
  mounts_.push_back(merged);
  EXPECT_TRUE(fs::exists(merged + "/x"));
  std::string ro = mkdir("ro");
  ASSERT_TRUE(mountOverlay({upper}, "", "", ro));
  mounts_.push_back(ro);
  EXPECT_FALSE(fs::writeFileAtomic(ro + "/y", "y")) << "read-only";
}

}  // namespace
}  // namespace berth::image
