#pragma once
// The MeshIT fixture of the mesh integration tests: a temp dir, backends (mesh-test-backend
// processes) and one berth-proxy per test, all killed and removed in TearDown.

#include <gtest/gtest.h>

#include <map>
#include <memory>
#include <string>

#include "tests/mesh/harness.h"

namespace berth::meshtest {

class MeshIT : public ::testing::Test {
 protected:
  void SetUp() override {
    auto d = fs::makeTempDir("/tmp", "berth-mesh-it-");
    ASSERT_TRUE(d);
    dir_ = *d;
  }
  void TearDown() override {
    proxy_.killAndReap();
    backends_.clear();
    if (HasFailure()) {
      auto log = fs::readFile(dir_ + "/proxy.log");
      if (log) std::fprintf(stderr, "--- proxy.log ---\n%s\n", log->substr(0, 4000).c_str());
    }
    (void)fs::removeAll(dir_);
  }

  uint16_t startBackend(const std::string& mode, int delayMs = 100, uint16_t port = 0) {
    if (!port) port = freePort();
    std::string id = "b" + std::to_string(port);
    backends_[port] = std::make_unique<ScopedPid>(
        spawn({MESH_BACKEND_BIN, std::to_string(port), mode, id, std::to_string(delayMs)},
              dir_ + "/backend-" + std::to_string(port) + ".log"));
    EXPECT_TRUE(waitPort(port)) << "backend " << port << " did not start";
    return port;
  }
  void killBackend(uint16_t port) { backends_.erase(port); }

  /// Write the config (with {L} = listener port, {A} = admin port) and start the proxy
  /// (where io_uring is refused, with `noIoUring`).
  uint16_t startProxy(std::string yaml, bool noIoUring = false) {
    listener_ = freePort();
    admin_ = freePort();
    yaml = subst(yaml);
    configPath_ = dir_ + "/mesh.yaml";
    EXPECT_TRUE(fs::writeFileAtomic(configPath_, yaml));
    proxy_ = spawn({BERTH_PROXY_BIN, "--config", configPath_, "--watch-ms", "100", "--log-level", "warn"},
                   dir_ + "/proxy.log", noIoUring);
    EXPECT_TRUE(eventually([&] { return call(admin_, "GET", "/ready", {}, {}, 500ms).status == 200; }, 5000ms))
        << "proxy did not become ready";
    return listener_;
  }

  void rewriteConfig(std::string yaml) {
    ASSERT_TRUE(fs::writeFileAtomic(configPath_, subst(std::move(yaml))));
  }

  std::string subst(std::string yaml) {
    for (auto [k, v] : {std::pair<std::string, uint16_t>{"{L}", listener_}, {"{A}", admin_}}) {
      for (size_t p; (p = yaml.find(k)) != std::string::npos;) yaml.replace(p, k.size(), std::to_string(v));
    }
    return yaml;
  }

  static std::string ep(uint16_t port) { return "127.0.0.1:" + std::to_string(port); }

  /// A proxy with one route to one backend, and a client connection to its listener.
  UniqueFd proxyConnectionTo(uint16_t backend) {
    uint16_t port = startProxy(
        "admin: 127.0.0.1:{A}\n"
        "clusters: [{name: be, endpoints: [" + ep(backend) + "]}]\n"
        "listeners: [{address: 127.0.0.1:{L}, routes: [{cluster: be}]}]\n");
    return connectTo(port);
  }

  std::string dir_, configPath_;
  uint16_t listener_ = 0, admin_ = 0;
  ScopedPid proxy_;
  std::map<uint16_t, std::unique_ptr<ScopedPid>> backends_;
};

}  // namespace berth::meshtest
