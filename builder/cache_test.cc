#include "builder/cache.h"

#include <gtest/gtest.h>

#include "common/fs.h"

namespace berth::build {
namespace {

TEST(Cache, KeysDependOnEveryPart) {
  auto k = stepKey("p", "RUN x", "A=1\n", "");
  EXPECT_EQ(k, stepKey("p", "RUN x", "A=1\n", ""));
  EXPECT_NE(k, stepKey("q", "RUN x", "A=1\n", ""));
  EXPECT_NE(k, stepKey("p", "RUN y", "A=1\n", ""));
  EXPECT_NE(k, stepKey("p", "RUN x", "A=2\n", ""));
  EXPECT_NE(k, stepKey("p", "RUN x", "A=1\n", "sha256:00"));
  // Parts are length-prefixed: moving text between parts changes the key.
  EXPECT_NE(stepKey("ab", "c", "", ""), stepKey("a", "bc", "", ""));
}

TEST(Cache, PutGetDrop) {
  auto d = fs::makeTempDir("/tmp", "berth-build-cache-");
  ASSERT_TRUE(d);
  auto c = BuildCache::open(*d);
  ASSERT_TRUE(c);
  auto key = stepKey("p", "RUN x", "", "");
  EXPECT_FALSE(c->get(key));
  CacheEntry e{"2026-11-26T10:00:00Z",
               R"({"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","size":3})",
               "sha256:" + std::string(64, 'a')};
  ASSERT_TRUE(c->put(key, e));
  auto g = c->get(key);
  ASSERT_TRUE(g);
  EXPECT_EQ(g->created, e.created);
  EXPECT_EQ(g->diffId, e.diffId);
  EXPECT_NE(g->layerDescriptor.find("\"size\":3"), std::string::npos);
  CacheEntry noLayer{"2026-11-26T10:00:01Z", "", ""};
  auto key2 = stepKey("p", "ENV a=b", "", "");
  ASSERT_TRUE(c->put(key2, noLayer));
  EXPECT_TRUE(c->get(key2)->layerDescriptor.empty());
  c->drop(key);
  EXPECT_FALSE(c->get(key));
  EXPECT_FALSE(c->get("../../etc/passwd"));
  (void)fs::removeAll(*d);
}

}  // namespace
}  // namespace berth::build
