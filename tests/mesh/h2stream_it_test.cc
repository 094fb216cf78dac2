// HTTP/2 streams through berth-proxy as streams: a gRPC-style bidirectional call (an h2c
// client in this process, mesh-test-backend h2echo behind the proxy) gets each piece echoed
// back before it sends the next, so neither side of the proxy holds a body until its end.
// Every process is on loopback and killed in TearDown.

#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>

#include "http/h2_client.h"
#include "http/stream_testing.h"
#include "tests/mesh/harness.h"

namespace berth::meshtest {
namespace {

namespace asio = boost::asio;

class MeshH2Stream : public ::testing::Test {
 protected:
  void SetUp() override {
    auto d = fs::makeTempDir("/tmp", "berth-mesh-h2s-");
    ASSERT_TRUE(d);
    dir_ = *d;
    backendPort_ = freePort();
    backend_ =
        spawn({MESH_BACKEND_BIN, std::to_string(backendPort_), "h2echo"}, dir_ + "/backend.log");
    ASSERT_TRUE(waitPort(backendPort_));
    listener_ = freePort();
    admin_ = freePort();
    std::string yaml = "admin: 127.0.0.1:" + std::to_string(admin_) +
                       "\n"
                       "drain_timeout: 1s\n"
                       "clusters:\n"
                       "  - name: echo\n"
                       "    protocol: h2c\n"
                       "    endpoints: [127.0.0.1:" +
                       std::to_string(backendPort_) +
                       "]\n"
                       "listeners:\n"
                       "  - address: 127.0.0.1:" +
                       std::to_string(listener_) +
                       "\n"
                       "    routes: [{cluster: echo}]\n";
    ASSERT_TRUE(fs::writeFileAtomic(dir_ + "/mesh.yaml", yaml));
    proxy_ = spawn({BERTH_PROXY_BIN, "--config", dir_ + "/mesh.yaml", "--log-level", "warn"},
                   dir_ + "/proxy.log");
    ASSERT_TRUE(eventually(
        [&] { return call(admin_, "GET", "/ready", {}, {}, 500ms).status == 200; }, 5000ms));
  }
  void TearDown() override {
    proxy_.killAndReap();
    backend_.killAndReap();
    if (HasFailure()) {
      auto log = fs::readFile(dir_ + "/proxy.log");
      if (log) std::fprintf(stderr, "--- proxy.log ---\n%s\n", log->substr(0, 4000).c_str());
    }
    if (!dir_.empty()) (void)fs::removeAll(dir_);
  }

  // Echo streams the backend has open now.
  std::string openAtBackend() { return call(backendPort_, "GET", "/open").body; }

  // Start a call through the proxy that says "one" and has its echo back, and leave it open
  // (the channel has more to say): the answer is returned, to be kept (dropping it would
  // cancel the stream from this end). Runs `io` until then.
  std::optional<http::Response> openCall(asio::io_context& io, http::H2Client& client) {
    std::optional<http::Response> open;
    auto run = [&]() -> asio::awaitable<void> {
      auto chan = std::make_shared<http::testing::Channel>(io.get_executor(), 20000ms);
      chan->push("one");
      http::Endpoint ep{"127.0.0.1", listener_};  // named: GCC 12 and temporaries in co_await
      std::optional<std::chrono::milliseconds> timeout = 5000ms;
      auto req = http::testing::bidiRequest(chan);  // named: GCC 12 and temporaries in co_await
      auto r = co_await client.request(ep, std::move(req), timeout, &kAlways);
      if (r && r->bodySource) {
        auto p = co_await r->bodySource->next();
        if (p && *p == "echo:one") open = std::move(*r);
      }
      io.stop();
    };
    asio::co_spawn(io, run(), asio::detached);
    io.run_for(10s);
    return open;
  }

  static constexpr http::StreamIf kAlways{
      [](const void*, const http::Response&, std::optional<uint64_t>) { return true; }, nullptr};
  std::string dir_;
  uint16_t backendPort_ = 0, listener_ = 0, admin_ = 0;
  ScopedPid backend_, proxy_;
};

TEST_F(MeshH2Stream, BidirectionalCallInterleavesThroughTheProxy) {
  asio::io_context io;
  http::H2Client client(io.get_executor());
  std::vector<std::string> got;
  auto run = [&]() -> asio::awaitable<void> {
    auto chan = std::make_shared<http::testing::Channel>(io.get_executor(), 3000ms);
    chan->push("one");
    std::vector<std::string> then{"two", "three"};
    http::Endpoint ep{"127.0.0.1", listener_};  // named: GCC 12 and temporaries in co_await
    std::optional<std::chrono::milliseconds> timeout = 5000ms;
    auto req = http::testing::bidiRequest(chan);  // named: GCC 12 and temporaries in co_await
    auto r = co_await client.request(ep, std::move(req), timeout, &kAlways);
    EXPECT_TRUE(r) << (r ? "" : r.error().message());
    if (!r) co_return;
    EXPECT_EQ(r->status, 200);
    EXPECT_TRUE(r->bodySource) << "the proxy answered whole: " << r->body;
    // Each piece is sent only once the echo of the last one is back.
    if (r->bodySource) got = co_await http::testing::converse(*r->bodySource, *chan, then);
    client.close();
  };
  auto f = asio::co_spawn(io, run(), asio::use_future);
  io.run_for(15s);
  ASSERT_EQ(f.wait_for(0s), std::future_status::ready) << "the call stalled in the proxy";
  f.get();
  // grpc-status came through after the streamed body.
  EXPECT_EQ(got, (std::vector<std::string>{"echo:one", "echo:two", "echo:three", "trailers:0/3"}));
}

// A client that goes away mid-call: the proxy cancels its upstream stream (nothing is left
// open toward the backend).
TEST_F(MeshH2Stream, ClientGoingAwayCancelsTheUpstreamStream) {
  asio::io_context io;
  http::H2Client client(io.get_executor());
  auto kept = openCall(io, client);
  ASSERT_TRUE(kept) << "the call did not start";
  EXPECT_EQ(openAtBackend(), "1");  // the call is still open end to end
  client.close();                   // the connection goes, without a word about the stream
  EXPECT_TRUE(eventually([&] { return openAtBackend() == "0"; }, 5000ms)) << openAtBackend();
}

// An HTTP/2 client whose upload fails before the answer (it goes away mid-body) is the
// client's fault: the proxy resets the upstream stream, answers 400 downstream-body-failed (to
// nobody) and counts no upstream reset; six such in a row (past outlier detection's five
// consecutive failures) leave the backend in rotation.
TEST_F(MeshH2Stream, UploadCutByTheClientIsNotTheBackendsFault) {
  for (int i = 0; i < 6; ++i) {
    asio::io_context io;
    http::H2Client client(io.get_executor());
    auto chan = std::make_shared<http::testing::Channel>(io.get_executor(), 20000ms);
    chan->push("part");
    auto run = [&]() -> asio::awaitable<void> {
      http::Endpoint ep{"127.0.0.1", listener_};  // named: GCC 12 and temporaries in co_await
      http::Request req = http::testing::bidiRequest(chan);
      req.target = "/sink";
      std::optional<std::chrono::milliseconds> timeout = 10000ms;
      (void)co_await client.request(ep, std::move(req), timeout);
    };
    asio::co_spawn(io, run(), asio::detached);
    for (int n = 0; n < 100 && openAtBackend() != "1"; ++n) io.run_for(50ms);
    ASSERT_EQ(openAtBackend(), "1") << "the upload did not reach the backend";
    client.close();
    io.run_for(100ms);
    ASSERT_TRUE(eventually([&] { return openAtBackend() == "0"; }, 5000ms)) << openAtBackend();
  }
  std::string m;
  ASSERT_TRUE(eventually(
      [&] {
        m = call(admin_, "GET", "/metrics").body;
        return m.find("berth_proxy_cluster_responses_total{cluster=\"echo\",code=\"400\"} 6") !=
               std::string::npos;
      },
      5000ms))
      << m;
  EXPECT_NE(m.find("berth_proxy_cluster_resets_total{cluster=\"echo\"} 0"), std::string::npos) << m;
  EXPECT_NE(m.find("berth_proxy_cluster_ejections_total{cluster=\"echo\"} 0"), std::string::npos) << m;
  EXPECT_EQ(m.find("code=\"50"), std::string::npos) << m;
}

// An HTTP/1.1 client's chunked upload (20 MiB, past what the proxy would hold) goes to an
// h2c upstream as a stream: the backend reads all of it before it answers.
TEST_F(MeshH2Stream, Http1UploadStreamsToAnH2cUpstream) {
  constexpr size_t kPiece = 64 << 10, kPieces = 320;  // 20 MiB
  UniqueFd fd = connectTo(listener_);
  ASSERT_TRUE(fd);
  ASSERT_TRUE(RawBackend::writeAll(
      fd.get(), "POST /sink HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"));
  char size[16];
  std::snprintf(size, sizeof size, "%zx\r\n", kPiece);
  std::string chunk = size + std::string(kPiece, 'u') + "\r\n";
  for (size_t i = 0; i < kPieces; ++i) ASSERT_TRUE(RawBackend::writeAll(fd.get(), chunk)) << i;
  ASSERT_TRUE(RawBackend::writeAll(fd.get(), "0\r\n\r\n"));
  std::string out;
  ASSERT_TRUE(readUntil(fd.get(), out, "\r\n\r\n", 10000ms)) << out;
  EXPECT_TRUE(out.starts_with("HTTP/1.1 200")) << out;
  readUntil(fd.get(), out, std::to_string(kPiece * kPieces), 5000ms);
  EXPECT_NE(out.find("\r\n\r\n" + std::to_string(kPiece * kPieces)), std::string::npos) << out;
  long peak = statusKiB(proxy_.get(), "VmHWM");
  EXPECT_LT(peak, 16 * 1024) << "the proxy held the upload: peak RSS " << peak << " KiB";
}

// The h2c upstream answers while an HTTP/1.1 client's upload is still coming (the echo
// streams back at once): the proxy sends the answer's head, stops reading the upload (the
// read it had in flight for the upstream call is cancelled), resets the upstream stream and
// closes the client connection, and serves the next client as before.
TEST_F(MeshH2Stream, Http1UploadAnsweredMidwayLeavesNothingOpen) {
  UniqueFd fd = connectTo(listener_);
  ASSERT_TRUE(fd);
  ASSERT_TRUE(RawBackend::writeAll(
      fd.get(), "POST /echo HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
                "5\r\nhello\r\n"));
  std::string out;
  ASSERT_TRUE(readUntil(fd.get(), out, "\r\n\r\n", 5000ms)) << out;
  EXPECT_TRUE(out.starts_with("HTTP/1.1 200")) << out;
  bool closed = false;
  readUntil(fd.get(), out, "never sent", 5000ms, &closed);
  EXPECT_TRUE(closed) << "the client connection stayed open: " << out;
  EXPECT_TRUE(eventually([&] { return openAtBackend() == "0"; }, 5000ms)) << openAtBackend();
  auto r = call(listener_, "POST", "/sink", "abc");
  EXPECT_EQ(r.status, 200) << r.error;
  EXPECT_EQ(r.body, "3");
}

// SIGTERM with a call still streaming: the proxy drains, cuts what is left after
// drain_timeout (1 s here) and exits; the backend's stream is closed too.
TEST_F(MeshH2Stream, DrainCutsStreamsLeftAfterTheDrainTimeout) {
  asio::io_context io;
  http::H2Client client(io.get_executor());
  auto kept = openCall(io, client);
  ASSERT_TRUE(kept) << "the call did not start";
  ASSERT_EQ(openAtBackend(), "1");
  auto t0 = std::chrono::steady_clock::now();
  ASSERT_EQ(kill(proxy_.get(), SIGTERM), 0);
  auto st = proxy_.waitFor(8000ms);
  ASSERT_TRUE(st);
  ASSERT_TRUE(st->has_value()) << "the proxy did not exit with a stream open";
  EXPECT_TRUE(WIFEXITED(**st) && WEXITSTATUS(**st) == 0);
  EXPECT_GE(std::chrono::steady_clock::now() - t0, 900ms);  // the stream had its drain time
  EXPECT_TRUE(eventually([&] { return openAtBackend() == "0"; }, 5000ms)) << openAtBackend();
}

}  // namespace
}  // namespace berth::meshtest
