// The store: import, resolve, names, snapshots (unpacked once), commit, leases, gc.
#include "image/store.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>

#include "common/fs.h"
#include "image/reference.h"
#include "image/test_tar.h"

namespace berth::image {
namespace {

using namespace testing;

class StoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto d = fs::makeTempDir("/tmp", "berth-store-test-");
    ASSERT_TRUE(d);
    base_ = *d;
    auto s = Store::open(base_ + "/root");
    ASSERT_TRUE(s) << s.error().message();
    store_.emplace(std::move(*s));
    tar_ = base_ + "/rootfs.tar";
    ASSERT_TRUE(writeTar(tar_, {dir("bin"), file("bin/hello", "#!/bin/sh\necho hi\n", 0755),
                                dir("etc"), file("etc/passwd", "root:x:0:0::/:/bin/sh\n")},
                         true));
  }
  void TearDown() override { (void)fs::removeAll(base_); }
  size_t count(const std::string& sub) { return fs::listDir(store_->dir() + "/" + sub)->size(); }

  std::string base_, tar_;
  std::optional<Store> store_;
};

TEST(ReferenceTest, Normalizes) {
  EXPECT_EQ(*normalizeName("busybox"), "busybox:latest");
  EXPECT_EQ(*normalizeName("my/app:1.0"), "my/app:1.0");
  EXPECT_EQ(*normalizeName("localhost:5000/a/b"), "localhost:5000/a/b:latest");
  auto r = parseReference("127.0.0.1:5000/x/y:t");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->registry, "127.0.0.1:5000");
  EXPECT_EQ(r->repository, "x/y");
  EXPECT_EQ(r->tag, "t");
  EXPECT_FALSE(normalizeName("Upper/case"));
  EXPECT_FALSE(normalizeName("a//b"));
  EXPECT_FALSE(normalizeName("a:bad tag"));
  EXPECT_FALSE(normalizeName(""));
  EXPECT_FALSE(normalizeName("x@sha256:123"));
}

TEST_F(StoreTest, ImportResolveListTag) {
  auto img = store_->importRootfs(tar_, "hello");
  ASSERT_TRUE(img) << img.error().message();
  EXPECT_EQ(img->names, std::vector<std::string>{"hello:latest"});
  ASSERT_EQ(img->layers.size(), 1u);
  EXPECT_EQ(img->layers[0].mediaType, std::string(oci::media::kOciLayerGzip));
  EXPECT_TRUE(store_->resolve("hello"));
  EXPECT_TRUE(store_->resolve("hello:latest"));
  EXPECT_EQ(store_->resolve(img->id)->id, img->id);
  EXPECT_EQ(store_->resolve(img->id.substr(7, 12))->id, img->id);
  EXPECT_EQ(store_->resolve(img->id.substr(0, 15))->id, img->id);
  auto missing = store_->resolve("nope");
  ASSERT_FALSE(missing);
  EXPECT_TRUE(missing.error().is(ErrorCode::kNotFound));
  ASSERT_TRUE(store_->tag("hello", "other/name:v2"));
  auto again = store_->resolve("other/name:v2");
  ASSERT_TRUE(again);
  EXPECT_EQ(again->id, img->id);
  EXPECT_EQ(again->names.size(), 2u);
  auto list = store_->list();
  ASSERT_TRUE(list);
  ASSERT_EQ(list->size(), 1u);
  EXPECT_EQ((*list)[0].names.size(), 2u);
  // index.json is a valid OCI index with ref.name annotations.
  auto idx = oci::parseIndex(*fs::readFile(store_->dir() + "/index.json"));
  ASSERT_TRUE(idx);
  EXPECT_EQ(idx->manifests.size(), 2u);
  EXPECT_TRUE(fs::exists(store_->dir() + "/oci-layout"));
}

TEST_F(StoreTest, BadImportLeavesNothing) {
  std::string junk = base_ + "/junk.tar";
  ASSERT_TRUE(fs::writeFileAtomic(junk, "this is not a tarball at all, not even close........"));
  EXPECT_FALSE(store_->importRootfs(junk, "junk"));
  EXPECT_FALSE(store_->importRootfs(tar_, "Bad Name"));
  EXPECT_EQ(count("blobs/sha256"), 0u);
  EXPECT_EQ(count("snapshots"), 0u);
  EXPECT_EQ(count("tmp"), 0u);
  EXPECT_TRUE(store_->list()->empty());
}

TEST_F(StoreTest, SnapshotsUnpackOnce) {
  auto img = store_->importRootfs(tar_, "hello");
  ASSERT_TRUE(img);
  auto dirs = store_->snapshotDirs(*img);
  ASSERT_TRUE(dirs) << dirs.error().message();
  ASSERT_EQ(dirs->size(), 1u);
  EXPECT_EQ(*fs::readFile((*dirs)[0] + "/etc/passwd"), "root:x:0:0::/:/bin/sh\n");
  struct stat a, b;
  ASSERT_EQ(::stat(((*dirs)[0] + "/bin/hello").c_str(), &a), 0);
  // Remove the snapshot: the next call unpacks it again from the blob, with the same content.
  ASSERT_TRUE(fs::removeAll((*dirs)[0]));
  auto dirs2 = store_->snapshotDirs(*img);
  ASSERT_TRUE(dirs2);
  ASSERT_EQ(::stat(((*dirs2)[0] + "/bin/hello").c_str(), &b), 0);
  EXPECT_EQ(a.st_mode, b.st_mode);
  auto dirs3 = store_->snapshotDirs(*img);
  struct stat c;
  ASSERT_EQ(::stat(((*dirs3)[0] + "/bin/hello").c_str(), &c), 0);
  EXPECT_EQ(b.st_ino, c.st_ino) << "second call must not unpack again";
}

TEST_F(StoreTest, CommitLayerAndWriteImage) {
  auto base = store_->importRootfs(tar_, "base");
  ASSERT_TRUE(base);
  std::string upper = base_ + "/upper";
  ASSERT_TRUE(fs::mkdirs(upper + "/app"));
  ASSERT_TRUE(fs::writeFileAtomic(upper + "/app/main.py", "print(1)\n"));
  ASSERT_TRUE(fs::mkdirs(upper + "/etc"));
  ASSERT_EQ(::mknod((upper + "/etc/passwd").c_str(), S_IFCHR, makedev(0, 0)), 0);
  auto layer = store_->commitLayerFromDir(upper);
  ASSERT_TRUE(layer) << layer.error().message();
  EXPECT_FALSE(fs::exists(upper)) << "the dir moves into the store";
  std::vector<Layer> layers;
  for (size_t i = 0; i < base->layers.size(); ++i)
    layers.push_back({base->layers[i], base->config.rootfs.diffIds[i]});
  layers.push_back(*layer);
  oci::ImageConfig cfg = base->config;
  cfg.rootfs.diffIds.clear();
  cfg.config.cmd = {"python3", "/app/main.py"};
  cfg.config.exposedPorts = {"80/tcp"};
  auto img = store_->writeImage(cfg, layers, {"app:1"});
  ASSERT_TRUE(img) << img.error().message();
  EXPECT_EQ(img->layers.size(), 2u);
  auto dirs = store_->snapshotDirs(*img);
  ASSERT_TRUE(dirs);
  EXPECT_EQ(*fs::readFile((*dirs)[1] + "/app/main.py"), "print(1)\n");
  struct stat st;
  ASSERT_EQ(::lstat(((*dirs)[1] + "/etc/passwd").c_str(), &st), 0);
  EXPECT_TRUE(S_ISCHR(st.st_mode));
  auto back = store_->resolve("app:1");
  ASSERT_TRUE(back);
  EXPECT_EQ(back->config.config.cmd, cfg.config.cmd);
  EXPECT_EQ(back->config.config.exposedPorts, cfg.config.exposedPorts);
}

TEST_F(StoreTest, RemoveLeasesAndGc) {
  auto img = store_->importRootfs(tar_, "hello");
  ASSERT_TRUE(img);
  ASSERT_TRUE(store_->snapshotDirs(*img));
  ASSERT_TRUE(store_->tag("hello", "hello:two"));
  // Two names: removing by id needs force; by name just untags.
  EXPECT_FALSE(store_->remove(img->id, false));
  auto rep = store_->remove("hello:two", false);
  ASSERT_TRUE(rep);
  EXPECT_EQ(rep->untagged, std::vector<std::string>{"hello:two"});
  EXPECT_TRUE(rep->deleted.empty());
  // A lease keeps it.
  ASSERT_TRUE(store_->setLease("container-abc", {img->id}));
  EXPECT_FALSE(store_->remove("hello", false));
  EXPECT_FALSE(store_->setLease("../evil", {img->id}));
  ASSERT_TRUE(store_->releaseLease("container-abc"));
  auto rep2 = store_->remove("hello", false);
  ASSERT_TRUE(rep2) << rep2.error().message();
  EXPECT_EQ(rep2->deleted, std::vector<std::string>{img->id});
  EXPECT_EQ(count("blobs/sha256"), 0u);
  EXPECT_EQ(count("snapshots"), 0u);
  EXPECT_TRUE(store_->list()->empty());
}

TEST_F(StoreTest, ForceRemoveOfLeasedImageOnlyUntags) {
  auto img = store_->importRootfs(tar_, "hello");
  ASSERT_TRUE(img);
  ASSERT_TRUE(store_->setLease("c1", {img->id}));
  auto rep = store_->remove("hello", true);
  ASSERT_TRUE(rep);
  EXPECT_TRUE(rep->deleted.empty());
  auto still = store_->resolve(img->id);
  ASSERT_TRUE(still);
  EXPECT_TRUE(still->names.empty());
  EXPECT_TRUE(store_->prune(true));
  EXPECT_TRUE(store_->resolve(img->id)) << "prune keeps leased images";
  ASSERT_TRUE(store_->releaseLease("c1"));
  auto pr = store_->prune(false);
  ASSERT_TRUE(pr);
  EXPECT_EQ(pr->deleted.size(), 1u);
  EXPECT_EQ(count("blobs/sha256"), 0u);
}

TEST_F(StoreTest, NameMovesBetweenImages) {
  auto a = store_->importRootfs(tar_, "x");
  ASSERT_TRUE(a);
  std::string tar2 = base_ + "/b.tar";
  ASSERT_TRUE(writeTar(tar2, {file("only", "b")}));
  auto b = store_->importRootfs(tar2, "x");
  ASSERT_TRUE(b);
  EXPECT_EQ(store_->resolve("x")->id, b->id);
  auto old = store_->resolve(a->id);
  ASSERT_TRUE(old);
  EXPECT_TRUE(old->names.empty()) << "the old image stays, dangling";
  auto pr = store_->prune(false);
  ASSERT_TRUE(pr);
  EXPECT_EQ(pr->deleted, std::vector<std::string>{a->id});
  EXPECT_TRUE(store_->resolve("x"));
}

TEST_F(StoreTest, GcKeepsLayersTheBuildCacheNames) {
  // builder/cache.cc writes <root>/build-cache/<key>.json = {"created", "layer", "diffId"}.
  auto img = store_->importRootfs(tar_, "cached");
  ASSERT_TRUE(img);
  ASSERT_TRUE(store_->snapshotDirs(*img));
  const auto& layer = img->layers[0];
  std::string diff = img->config.rootfs.diffIds[0];
  std::string cacheDir = base_ + "/root/build-cache";
  ASSERT_TRUE(fs::mkdirs(cacheDir));
  std::string entry = cacheDir + "/" + std::string(64, 'a') + ".json";
  ASSERT_TRUE(fs::writeFileAtomic(
      entry, "{\"created\":\"2026-01-01T00:00:00Z\",\"layer\":" + oci::toJson(layer) +
                 ",\"diffId\":\"" + diff + "\"}"));
  ASSERT_TRUE(fs::writeFileAtomic(cacheDir + "/" + std::string(64, 'b') + ".json", "{broken"));
  auto pr = store_->prune(true);
  ASSERT_TRUE(pr) << pr.error().message();
  EXPECT_EQ(pr->deleted, std::vector<std::string>{img->id});
  EXPECT_TRUE(store_->hasBlob(layer.digest)) << "a cached step's layer blob survives prune -a";
  EXPECT_TRUE(fs::isDir(store_->dir() + "/snapshots/" + diff.substr(7)));
  EXPECT_FALSE(store_->hasBlob(img->id)) << "the image's config is not the cache's";
  ::unlink(entry.c_str());
  ASSERT_TRUE(store_->gc());
  EXPECT_EQ(count("blobs/sha256"), 0u);
  EXPECT_EQ(count("snapshots"), 0u);
}

TEST_F(StoreTest, IntermediateImagesAreListedWithAllAndKeptByPrune) {
  auto base = store_->importRootfs(tar_, "base:1");
  ASSERT_TRUE(base);
  std::string up = base_ + "/upper";
  ASSERT_TRUE(fs::mkdirs(up + "/app"));
  ASSERT_TRUE(fs::writeFileAtomic(up + "/app/x", "x"));
  auto top = store_->commitLayerFromDir(up);
  ASSERT_TRUE(top) << top.error().message();
  Layer bottom{base->layers[0], base->config.rootfs.diffIds[0]};
  oci::ImageConfig cfg = base->config;
  cfg.rootfs.diffIds.clear();
  auto child = store_->writeImage(cfg, {bottom, *top}, {"child:1"});
  ASSERT_TRUE(child) << child.error().message();
  // base:1 moves to another image: the old base is untagged but child:1 sits on it.
  ASSERT_TRUE(writeTar(base_ + "/other.tar", {file("o", "o")}));
  ASSERT_TRUE(store_->importRootfs(base_ + "/other.tar", "base:1"));
  auto list = store_->list();
  ASSERT_TRUE(list);
  ASSERT_EQ(list->size(), 3u);
  int inter = 0;
  for (auto& s : *list)
    if (s.intermediate) {
      ++inter;
      EXPECT_EQ(s.id, base->id);
      EXPECT_TRUE(s.names.empty());
    }
  EXPECT_EQ(inter, 1);
  auto pr = store_->prune(false);
  ASSERT_TRUE(pr);
  EXPECT_TRUE(pr->deleted.empty()) << "prune keeps an intermediate image";
  ASSERT_TRUE(store_->remove("child:1", false));
  for (auto& s : *store_->list()) EXPECT_FALSE(s.intermediate);
  auto pr2 = store_->prune(false);
  ASSERT_TRUE(pr2);
  EXPECT_EQ(pr2->deleted, std::vector<std::string>{base->id}) << "now it is dangling";
}

TEST_F(StoreTest, IndexSummaryIsOnlyACache) {
  ASSERT_TRUE(store_->importRootfs(tar_, "a:1"));
  ASSERT_TRUE(store_->tag("a:1", "a:2"));
  std::string sum = store_->dir() + "/index.summary";
  ASSERT_TRUE(fs::exists(sum));
  ASSERT_EQ(store_->list()->at(0).names.size(), 2u);
  // A torn summary (no end line) is ignored.
  auto text = *fs::readFile(sum);
  ASSERT_TRUE(fs::writeFileAtomic(sum, text.substr(0, text.size() - 8)));
  ASSERT_EQ(store_->list()->at(0).names.size(), 2u);
  // Another tool rewrites index.json: the stale summary no longer matches it.
  ASSERT_TRUE(fs::writeFileAtomic(sum, text));
  auto idx = *fs::readFile(store_->dir() + "/index.json");
  auto pos = idx.find("\"a:2\"");
  ASSERT_NE(pos, std::string::npos);
  idx.replace(pos, 5, "\"a:3\"");
  ASSERT_TRUE(fs::writeFileAtomic(store_->dir() + "/index.json", idx));
  auto names = store_->list()->at(0).names;
  EXPECT_EQ(names, (std::vector<std::string>{"a:1", "a:3"}));
  EXPECT_TRUE(store_->resolve("a:3"));
  EXPECT_FALSE(store_->resolve("a:2"));
}

}  // namespace
}  // namespace berth::image
