#include "oci/image_spec.h"

#include <gtest/gtest.h>

namespace berth::oci {
namespace {

TEST(ImageSpec, ConfigRoundTrip) {
  const char* text = R"({"created":"2024-01-02T03:04:05Z","architecture":"amd64","os":"linux",
    "config":{"User":"app","ExposedPorts":{"80/tcp":{},"53/udp":{}},"Env":["A=1"],
    "Entrypoint":["/bin/sh","-c"],"Cmd":["echo hi"],"Volumes":{"/data":{}},"WorkingDir":"/w",
    "Labels":{"k":"v"},"StopSignal":"SIGTERM",
    "Healthcheck":{"Test":["CMD-SHELL","true"],"Interval":1000000000,"Retries":3}},
    "rootfs":{"type":"layers","diff_ids":["sha256:aa"]},
    "history":[{"created_by":"x","empty_layer":true}],"unknown":{"ignored":1}})";
  auto c = parseImageConfig(text);
  ASSERT_TRUE(c) << c.error().message();
  EXPECT_EQ(c->config.user, "app");
  EXPECT_EQ(c->config.exposedPorts, (std::vector<std::string>{"53/udp", "80/tcp"}));
  EXPECT_EQ(c->config.entrypoint.size(), 2u);
  EXPECT_EQ(c->config.volumes, std::vector<std::string>{"/data"});
  ASSERT_TRUE(c->config.healthcheck);
  EXPECT_EQ(c->config.healthcheck->retries, 3);
  EXPECT_EQ(c->config.healthcheck->interval, 1000000000);
  EXPECT_TRUE(c->history[0].emptyLayer);
  auto again = parseImageConfig(toJson(*c));
  ASSERT_TRUE(again);
  EXPECT_EQ(toJson(*again), toJson(*c));
}

TEST(ImageSpec, StrictTypesNameTheField) {
  auto c = parseImageConfig(R"({"config":{"Env":"A=1"}})");
  ASSERT_FALSE(c);
  EXPECT_NE(c.error().message().find("config.Env"), std::string::npos) << c.error().message();
  EXPECT_FALSE(parseImageConfig("not json"));
  EXPECT_FALSE(parseImageConfig("[]"));
}

TEST(ImageSpec, ManifestAndIndex) {
  Manifest m;
  m.mediaType = std::string(media::kDockerManifest);
  m.config = {std::string(media::kDockerConfig), "sha256:" + std::string(64, 'a'), 10, {}, {}, {}, {}};
  Descriptor l;
  l.mediaType = std::string(media::kDockerLayerGzip);
  l.digest = "sha256:" + std::string(64, 'b');
  l.size = 20;
  m.layers.push_back(l);
  auto back = parseManifest(toJson(m));
  ASSERT_TRUE(back) << back.error().message();
  EXPECT_EQ(back->layers[0].size, 20);
  EXPECT_EQ(layerCompression(back->layers[0].mediaType), Compression::kGzip);
  EXPECT_EQ(layerCompression(media::kOciLayerZstd), Compression::kZstd);
  EXPECT_EQ(layerCompression(media::kOciLayer), Compression::kNone);
  EXPECT_FALSE(layerCompression("application/x-foo"));
  auto bad = parseManifest(R"({"schemaVersion":2,"mediaType":"application/x-unknown","config":{}})");
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().message().find("unknown media type"), std::string::npos);
  EXPECT_FALSE(parseManifest(R"({"schemaVersion":1})"));
  Index idx;
  Descriptor d = l;
  d.mediaType = std::string(media::kOciManifest);
  d.platform = Platform{"arm64", "linux", "v8", "", {}};
  idx.manifests.push_back(d);
  d.platform = hostPlatform();
  idx.manifests.push_back(d);
  auto ib = parseIndex(toJson(idx));
  ASSERT_TRUE(ib);
  ASSERT_EQ(ib->manifests.size(), 2u);
  EXPECT_TRUE(platformMatches(*ib->manifests[1].platform, hostPlatform()));
  EXPECT_EQ(sniffMediaType(toJson(idx)), std::string(media::kOciIndex));
}

}  // namespace
}  // namespace berth::oci
