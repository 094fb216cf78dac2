// Integration tests of berth-proxy relaying bodies as they come (HTTP/1.1 both ways): events,
// 100 MiB downloads and uploads, and bodies cut mid-way. Backends are RawBackend threads.

#include <gtest/gtest.h>

#include <atomic>
#include <string>

#include "tests/mesh/mesh_it.h"

namespace berth::meshtest {
namespace {

// Server-sent events through the proxy: an event reaches the client when the backend sends
// it (the backend sends the second only once the client has the first), not when the body ends.
TEST_F(MeshIT, StreamedResponsesRelayPiecesAsTheyCome) {
  std::atomic<bool> clientHasOne{false}, backendWaitedOut{false};
  RawBackend be([&](int fd, const std::string& afterHead) {
    RawBackend::writeAll(fd,
                         "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
                         "Transfer-Encoding: chunked\r\n\r\nb\r\ndata: one\n\n\r\n");
    auto until = Clock::now() + 5s;
    while (!clientHasOne && Clock::now() < until) std::this_thread::sleep_for(5ms);
    backendWaitedOut = !clientHasOne;
    RawBackend::writeAll(fd, "b\r\ndata: two\n\n\r\n0\r\n\r\n");
  });
  UniqueFd fd = proxyConnectionTo(be.port());
  ASSERT_TRUE(fd);
  ASSERT_TRUE(RawBackend::writeAll(fd.get(), "GET /events HTTP/1.1\r\nHost: a\r\n\r\n"));
  std::string out;
  ASSERT_TRUE(readUntil(fd.get(), out, "data: one")) << "first event held back: " << out;
  EXPECT_EQ(out.find("data: two"), std::string::npos) << out;
  clientHasOne = true;
  ASSERT_TRUE(readUntil(fd.get(), out, "data: two\n\n\r\n0\r\n\r\n")) << out;
  EXPECT_FALSE(backendWaitedOut);
  EXPECT_NE(out.find("\r\nContent-Type: text/event-stream\r\n"), std::string::npos) << out;
  EXPECT_NE(out.find("\r\nTransfer-Encoding: chunked\r\n"), std::string::npos) << out;
  // The downstream connection carries the next request.
  ASSERT_TRUE(RawBackend::writeAll(fd.get(), "GET /again HTTP/1.1\r\nHost: a\r\n\r\n"));
  out.clear();
  EXPECT_TRUE(readUntil(fd.get(), out, "data: two")) << out;
}

// A client that hangs up while the event stream is quiet: the proxy lets the upstream go at
// once (not at the next event, which may be minutes away).
TEST_F(MeshIT, ClientHangingUpEndsAQuietUpstreamStream) {
  std::atomic<bool> upstreamClosed{false};
  RawBackend be([&](int fd, const std::string&) {
    RawBackend::writeAll(fd,
                         "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
                         "Transfer-Encoding: chunked\r\n\r\nb\r\ndata: one\n\n\r\n");
    auto until = Clock::now() + 6s;  // then quiet: no event for a long while
    char c;
    while (Clock::now() < until) {
      pollfd p{fd, POLLIN, 0};
      if (poll(&p, 1, 50) > 0 && recv(fd, &c, 1, MSG_DONTWAIT) == 0) {
        upstreamClosed = true;
        break;
      }
    }
  });
  UniqueFd fd = proxyConnectionTo(be.port());
  ASSERT_TRUE(fd);
  ASSERT_TRUE(RawBackend::writeAll(fd.get(), "GET /events HTTP/1.1\r\nHost: a\r\n\r\n"));
  std::string out;
  ASSERT_TRUE(readUntil(fd.get(), out, "data: one")) << out;
  fd.reset();  // the client goes
  EXPECT_TRUE(eventually([&] { return upstreamClosed.load(); }, 3000ms))
      << "the proxy kept the upstream stream after its client left";
}

// A body far larger than any buffer (100 MiB, past the client's 64 MiB whole-body limit) goes
// through intact, and the proxy's peak memory stays small.
TEST_F(MeshIT, LargeBodiesAreRelayedWithoutBeingHeld) {
  constexpr uint64_t kSize = 100ull << 20;
  auto byteAt = [](uint64_t off) { return static_cast<char>(off % 251); };
  RawBackend be([&](int fd, const std::string& afterHead) {
    if (!RawBackend::writeAll(
            fd, "HTTP/1.1 200 OK\r\nContent-Length: " + std::to_string(kSize) + "\r\n\r\n"))
      return;
    std::string block(64 * 1024, '\0');
    for (uint64_t off = 0; off < kSize; off += block.size()) {
      for (size_t i = 0; i < block.size(); ++i) block[i] = byteAt(off + i);
      if (!RawBackend::writeAll(fd, block)) return;
    }
  });
  UniqueFd fd = proxyConnectionTo(be.port());
  ASSERT_TRUE(fd);
  ASSERT_TRUE(RawBackend::writeAll(fd.get(), "GET /big HTTP/1.1\r\nHost: a\r\n\r\n"));
  std::string head;
  ASSERT_TRUE(readUntil(fd.get(), head, "\r\n\r\n")) << head;
  size_t bodyAt = head.find("\r\n\r\n") + 4;
  EXPECT_EQ(head.substr(0, 12), "HTTP/1.1 200") << head.substr(0, bodyAt);
  EXPECT_NE(head.find("\r\nContent-Length: " + std::to_string(kSize) + "\r\n"), std::string::npos)
      << head.substr(0, bodyAt);
  uint64_t got = 0, wrong = 0;
  auto check = [&](std::string_view piece) {
    for (char ch : piece) wrong += ch != byteAt(got++);
  };
  check(std::string_view(head).substr(bodyAt));
  auto end = Clock::now() + 60s;
  std::string buf(256 * 1024, '\0');
  while (got < kSize && Clock::now() < end) {
    pollfd p{fd.get(), POLLIN, 0};
    if (poll(&p, 1, 5000) <= 0) break;
    ssize_t n = recv(fd.get(), buf.data(), buf.size(), 0);
    if (n <= 0) break;
    check(std::string_view(buf.data(), static_cast<size_t>(n)));
  }
  EXPECT_EQ(got, kSize);
  EXPECT_EQ(wrong, 0u);
  long peak = statusKiB(proxy_.get(), "VmHWM");
  EXPECT_GT(peak, 0);
  EXPECT_LT(peak, 32 * 1024) << "the proxy's peak RSS suggests it held the body";
  std::printf("[ info ] %llu of %llu bytes relayed, proxy peak RSS %ld KiB\n",
              static_cast<unsigned long long>(got), static_cast<unsigned long long>(kSize), peak);
}

// A client whose streamed (chunked) body turns malformed half-way gets 400
// downstream-body-failed: its own fault, answered by the proxy, not blamed on the upstream.
TEST_F(MeshIT, FailedClientBodyIsTheClientsFault) {
  std::atomic<bool> upstreamGotStart{false};
  RawBackend be([&](int fd, const std::string& afterHead) {
    std::string body = afterHead;
    char buf[4096];
    auto end = Clock::now() + 5s;
    while (Clock::now() < end) {  // until the proxy gives up on the request
      if (body.find("hello") != std::string::npos) upstreamGotStart = true;
      pollfd p{fd, POLLIN, 0};
      if (poll(&p, 1, 100) <= 0) continue;
      ssize_t r = recv(fd, buf, sizeof buf, 0);
      if (r <= 0) break;
      body.append(buf, static_cast<size_t>(r));
    }
  });
  UniqueFd fd = proxyConnectionTo(be.port());
  ASSERT_TRUE(fd);
  ASSERT_TRUE(
      RawBackend::writeAll(fd.get(),
                           "POST /up HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
                           "5\r\nhello\r\n"));
  ASSERT_TRUE(eventually([&] { return upstreamGotStart.load(); }, 5000ms))
      << "the body did not stream";
  ASSERT_TRUE(RawBackend::writeAll(fd.get(), "zz\r\n"));  // not a chunk size
  std::string out;
  ASSERT_TRUE(readUntil(fd.get(), out, "\r\n\r\n")) << out;
  EXPECT_EQ(out.substr(0, 12), "HTTP/1.1 400") << out;
  EXPECT_NE(out.find("x-berth-reason: downstream-body-failed"), std::string::npos) << out;
}

// A 100 MiB upload (past the 8 MiB whole-body limit) streams through to the backend intact,
// with the proxy's peak memory small.
TEST_F(MeshIT, LargeUploadsStreamThrough) {
  constexpr uint64_t kSize = 100ull << 20;
  auto byteAt = [](uint64_t off) { return static_cast<char>((off * 7) % 251); };
  std::atomic<uint64_t> got{0}, wrong{0};
  RawBackend be([&](int fd, const std::string& afterHead) {
    char buf[65536];
    uint64_t n = 0, bad = 0;
    for (char ch : afterHead) bad += ch != byteAt(n++);
    auto end = Clock::now() + 30s;
    while (n < kSize && Clock::now() < end) {
      pollfd p{fd, POLLIN, 0};
      if (poll(&p, 1, 5000) <= 0) break;
      ssize_t r = recv(fd, buf, sizeof buf, 0);
      if (r <= 0) break;
      for (ssize_t i = 0; i < r; ++i) bad += buf[i] != byteAt(n + static_cast<uint64_t>(i));
      n += static_cast<uint64_t>(r);
    }
    got = n;
    wrong = bad;
    RawBackend::writeAll(fd, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
  });
  UniqueFd fd = proxyConnectionTo(be.port());
  ASSERT_TRUE(fd);
  // Expect: 100-continue is answered by the proxy once the upstream has the head.
  ASSERT_TRUE(RawBackend::writeAll(fd.get(),
                                   "POST /up HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\n"
                                   "Content-Length: " +
                                       std::to_string(kSize) + "\r\n\r\n"));
  std::string cont;
  ASSERT_TRUE(readUntil(fd.get(), cont, "\r\n\r\n")) << cont;
  EXPECT_EQ(cont.substr(0, 12), "HTTP/1.1 100") << cont;
  std::string block(64 * 1024, '\0');
  for (uint64_t off = 0; off < kSize; off += block.size()) {
    for (size_t i = 0; i < block.size(); ++i) block[i] = byteAt(off + i);
    ASSERT_TRUE(RawBackend::writeAll(fd.get(), block)) << "proxy stopped reading at " << off;
  }
  std::string out;
  EXPECT_TRUE(readUntil(fd.get(), out, "\r\n\r\nok", 30000ms)) << out;
  EXPECT_EQ(out.substr(0, 12), "HTTP/1.1 200") << out;
  EXPECT_EQ(got.load(), kSize);
  EXPECT_EQ(wrong.load(), 0u);
  long peak = statusKiB(proxy_.get(), "VmHWM");
  EXPECT_GT(peak, 0);
  EXPECT_LT(peak, 32 * 1024) << "the proxy's peak RSS suggests it held the body";
  std::printf("[ info ] %llu-byte upload relayed, proxy peak RSS %ld KiB\n",
              static_cast<unsigned long long>(got.load()), peak);
}

// An upstream that dies mid-body: the client's connection is closed without the rest, so it
// cannot take the cut body for a whole one.
TEST_F(MeshIT, UpstreamCutMidBodyIsCutDownstream) {
  RawBackend be([&](int fd, const std::string& afterHead) {
    RawBackend::writeAll(
        fd, "HTTP/1.1 200 OK\r\nContent-Length: 1000000\r\n\r\n" + std::string(1000, 'x'));
  });  // returns: the connection closes after 1000 of 1000000 bytes
  UniqueFd fd = proxyConnectionTo(be.port());
  ASSERT_TRUE(fd);
  ASSERT_TRUE(RawBackend::writeAll(fd.get(), "GET /cut HTTP/1.1\r\nHost: a\r\n\r\n"));
  std::string out;
  bool closed = false;
  readUntil(fd.get(), out, "never-sent", 10000ms, &closed);
  EXPECT_TRUE(closed) << "connection left open";
  size_t bodyAt = out.find("\r\n\r\n");
  ASSERT_NE(bodyAt, std::string::npos) << out;
  EXPECT_NE(out.find("\r\nContent-Length: 1000000\r\n"), std::string::npos)
      << out.substr(0, bodyAt);
  EXPECT_EQ(out.size() - bodyAt - 4, 1000u);
}

}  // namespace
}  // namespace berth::meshtest
