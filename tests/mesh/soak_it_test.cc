// The soak: two minutes of steady load through berth-proxy (new connections and
// keep-alive ones, two workers, two backends): zero errors, and memory flat after warm-up.
// MESH_SOAK_SECONDS shortens it for a local run (at least 20). Runs alone (RUN_SERIAL): it
// keeps both cores busy.

#include <thread>
#include <vector>

#include "tests/mesh/mesh_it.h"

namespace berth::meshtest {
namespace {

int soakSeconds() {
  const char* v = std::getenv("MESH_SOAK_SECONDS");
  int s = v ? std::atoi(v) : 120;
  return s < 20 ? 20 : s;
}

/// One keep-alive request on `fd`: true for a whole 200 answer.
bool keepAliveGet(int fd) {
  if (!RawBackend::writeAll(fd, "GET /soak HTTP/1.1\r\nHost: soak\r\n\r\n")) return false;
  std::string in;
  if (!readUntil(fd, in, "\r\n\r\n")) return false;
  size_t headEnd = in.find("\r\n\r\n") + 4;
  std::string lower = in.substr(0, headEnd);
  for (char& ch : lower) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  size_t cl = lower.find("content-length:");
  if (cl == std::string::npos || !in.starts_with("HTTP/1.1 200")) return false;
  size_t want = headEnd + std::strtoul(lower.c_str() + cl + 15, nullptr, 10);
  while (in.size() < want) {
    pollfd p{fd, POLLIN, 0};
    if (poll(&p, 1, 5000) <= 0) return false;
    char buf[4096];
    ssize_t n = recv(fd, buf, sizeof buf, 0);
    if (n <= 0) return false;
    in.append(buf, static_cast<size_t>(n));
  }
  return in.size() == want;
}

TEST_F(MeshIT, SoakTwoMinutesZeroErrorsFlatMemory) {
  const auto total = std::chrono::seconds(soakSeconds());
  const auto warmUp = total / 6;
  uint16_t a = startBackend("ok"), b = startBackend("ok");
  uint16_t port = startProxy(
      "admin: 127.0.0.1:{A}\n"
      "workers: 2\n"
      "clusters: [{name: s, endpoints: [" + ep(a) + ", " + ep(b) + "]}]\n"
      "listeners: [{address: 127.0.0.1:{L}, routes: [{cluster: s}]}]\n");
  std::atomic<long> ok{0}, bad{0};
  auto end = Clock::now() + total;
  std::vector<std::thread> load;
  for (int t = 0; t < 2; ++t)  // a connection per request
    load.emplace_back([&] {
      while (Clock::now() < end) (call(port, "GET", "/soak").status == 200 ? ok : bad)++;
    });
  load.emplace_back([&] {  // keep-alive, reconnecting only if the proxy closes
    UniqueFd fd;
    while (Clock::now() < end) {
      if (!fd) fd = connectTo(port);
      if (fd && keepAliveGet(fd.get())) {
        ++ok;
      } else {
        ++bad;
        fd = UniqueFd();
      }
    }
  });
  std::this_thread::sleep_for(warmUp);
  long rssWarm = rssKiB(proxy_.get()), rssMax = rssWarm;
  while (Clock::now() + 1s < end) {
    std::this_thread::sleep_for(std::min<Clock::duration>(5s, end - Clock::now() - 500ms));
    rssMax = std::max(rssMax, rssKiB(proxy_.get()));
  }
  for (auto& t : load) t.join();
  long rssEnd = rssKiB(proxy_.get());
  EXPECT_EQ(bad.load(), 0);
  EXPECT_GT(ok.load(), 1000 * total.count() / 60);
  EXPECT_GT(rssWarm, 0);
  EXPECT_LT(rssMax - rssWarm, 2048) << "RSS grew from " << rssWarm << " to " << rssMax << " KiB";
  std::printf("[ info ] soak %llds: %ld requests, RSS %ld KiB after warm-up, at most %ld, %ld at the end\n",
              static_cast<long long>(total.count()), ok.load(), rssWarm, rssMax, rssEnd);
}

}  // namespace
}  // namespace berth::meshtest
