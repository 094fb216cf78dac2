// Integration test of berth-proxy's I/O backends: io_uring where usable, the epoll twin where
// io_uring is refused (http/io_backend.h).

#include <gtest/gtest.h>

#include <atomic>
#include <string>

#include "tests/mesh/mesh_it.h"

namespace berth::meshtest {
namespace {

// berth-proxy runs on io_uring where it can; where io_uring_setup is refused (as under
// Docker's default seccomp profile) it hands over to berth-proxy-epoll, which serves the same.
TEST_F(MeshIT, IoUringWhereUsableEpollTwinWhereRefused) {
#if !BERTH_IO_URING_BUILD
  GTEST_SKIP() << "built without liburing: berth-proxy is on epoll only";
#else
  uint16_t b = startBackend("ok");
  const std::string yaml =
      "admin: 127.0.0.1:{A}\n"
      "clusters: [{name: be, endpoints: [" + ep(b) + "]}]\n"
      "listeners: [{address: 127.0.0.1:{L}, routes: [{cluster: be}]}]\n";
  auto exeOf = [](pid_t pid) {
    char buf[4096];
    ssize_t n = readlink(("/proc/" + std::to_string(pid) + "/exe").c_str(), buf, sizeof buf - 1);
    return n > 0 ? std::string(buf, static_cast<size_t>(n)) : std::string();
  };
  auto ringsOf = [](pid_t pid) {
    int rings = 0;
    auto fds = fs::listDir("/proc/" + std::to_string(pid) + "/fd");
    if (!fds) return -1;
    for (auto& name : *fds) {
      char buf[256];
      ssize_t n = readlink(("/proc/" + std::to_string(pid) + "/fd/" + name).c_str(), buf, sizeof buf - 1);
      if (n > 0 && std::string_view(buf, static_cast<size_t>(n)) == "anon_inode:[io_uring]") ++rings;
    }
    return rings;
  };
  for (bool refused : {false, true}) {
    SCOPED_TRACE(refused ? "io_uring refused" : "io_uring allowed");
    uint16_t port = startProxy(yaml, refused);
    auto r = call(port, "GET", "/x");
    EXPECT_EQ(r.status, 200) << r.error;
    std::string exe = exeOf(proxy_.get());
    std::string want = refused ? "/berth-proxy-epoll" : "/berth-proxy";
    EXPECT_TRUE(exe.size() >= want.size() && exe.compare(exe.size() - want.size(), want.size(), want) == 0) << exe;
    int rings = ringsOf(proxy_.get());
    auto disabled = fs::readFile("/proc/sys/kernel/io_uring_disabled");
    bool allowed = !disabled || disabled->empty() || (*disabled)[0] == '0';
    if (refused) {
      EXPECT_EQ(rings, 0);
    } else if (allowed) {
      EXPECT_GT(rings, 0) << "berth-proxy made no io_uring";
    }
    proxy_.killAndReap();
  }
#endif
}

}  // namespace
}  // namespace berth::meshtest
