// h2c through berth-proxy: nghttp / h2load (Debian's nghttp2-client) against the proxy's
// listener, nghttpd --no-tls (nghttp2-server) as an HTTP/2 backend that sends trailers, and
// mesh-test-backend as an HTTP/1.1 backend. Every process is on loopback and killed in
// TearDown.

#include <gtest/gtest.h>

#include "tests/mesh/harness.h"

namespace berth::meshtest {
namespace {

bool haveTool(const char* path) { return access(path, X_OK) == 0; }

// Run a command, capture stdout+stderr (bounded by `timeout` seconds via coreutils timeout).
std::string runCapture(const std::string& cmd) {
  std::string out;
  FILE* f = popen((cmd + " 2>&1").c_str(), "r");
  if (!f) return out;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, f)) > 0) out.append(buf, n);
  pclose(f);
  return out;
}

class MeshH2c : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!haveTool("/usr/bin/nghttp") || !haveTool("/usr/sbin/nghttpd") || !haveTool("/usr/bin/h2load"))
      GTEST_SKIP() << "nghttp2-client / nghttp2-server not installed (scripts/deps/mesh.txt)";
    auto d = fs::makeTempDir("/tmp", "berth-mesh-h2c-");
    ASSERT_TRUE(d);
    dir_ = *d;
    ASSERT_TRUE(fs::mkdirs(dir_ + "/www"));
    ASSERT_TRUE(fs::writeFileAtomic(dir_ + "/www/index.html", "hello from nghttpd\n"));
    h2Port_ = freePort();
    h2_ = spawn({"/usr/sbin/nghttpd", "--no-tls", "-d", dir_ + "/www", "--trailer=grpc-status: 0",
                 "--trailer=grpc-message: all good", std::to_string(h2Port_)},
                dir_ + "/nghttpd.log");
    ASSERT_TRUE(waitPort(h2Port_)) << "nghttpd did not start";
    h1Port_ = freePort();
    h1_ = spawn({MESH_BACKEND_BIN, std::to_string(h1Port_), "ok", "h1backend", "0"}, dir_ + "/backend.log");
    ASSERT_TRUE(waitPort(h1Port_));
    listener_ = freePort();
    admin_ = freePort();
    std::string yaml =
        "admin: 127.0.0.1:" + std::to_string(admin_) + "\n"
        "clusters:\n"
        "  - name: grpc\n"
        "    protocol: h2c\n"
        "    endpoints: [127.0.0.1:" + std::to_string(h2Port_) + "]\n"
        "    health_check: {path: /index.html, interval: 200ms, timeout: 500ms}\n"
        "  - name: web\n"
        "    endpoints: [127.0.0.1:" + std::to_string(h1Port_) + "]\n"
        "listeners:\n"
        "  - address: 127.0.0.1:" + std::to_string(listener_) + "\n"
        "    routes:\n"
        "      - {match: {path_prefix: /web}, cluster: web}\n"
        "      - cluster: grpc\n";
    ASSERT_TRUE(fs::writeFileAtomic(dir_ + "/mesh.yaml", yaml));
    proxy_ = spawn({BERTH_PROXY_BIN, "--config", dir_ + "/mesh.yaml", "--log-level", "warn"},
                   dir_ + "/proxy.log");
    ASSERT_TRUE(eventually([&] { return call(admin_, "GET", "/ready", {}, {}, 500ms).status == 200; }, 5000ms));
    // The h2c backend passes its first active check.
    ASSERT_TRUE(eventually([&] { return call(listener_, "GET", "/index.html").status == 200; }, 5000ms));
  }
  void TearDown() override {
    proxy_.killAndReap();
    h2_.killAndReap();
    h1_.killAndReap();
    if (HasFailure()) {
      auto log = fs::readFile(dir_ + "/proxy.log");
      if (log) std::fprintf(stderr, "--- proxy.log ---\n%s\n", log->substr(0, 4000).c_str());
    }
    if (!dir_.empty()) (void)fs::removeAll(dir_);
  }
  std::string url(const std::string& path) {
    return "http://127.0.0.1:" + std::to_string(listener_) + path;
  }

  std::string dir_;
  uint16_t h2Port_ = 0, h1Port_ = 0, listener_ = 0, admin_ = 0;
  ScopedPid h2_, h1_, proxy_;
};

// HTTP/2 both sides: the body and the trailers (grpc-status) arrive through the proxy, the
// trailers in a HEADERS frame that ends the stream.
TEST_F(MeshH2c, NghttpThroughProxyToH2cBackendGetsTrailers) {
  std::string out = runCapture("timeout 10 /usr/bin/nghttp -v " + url("/index.html"));
  EXPECT_NE(out.find("hello from nghttpd"), std::string::npos) << out;
  EXPECT_NE(out.find("recv (stream_id=13) :status: 200"), std::string::npos) << out;
  auto trailer = out.find("recv (stream_id=13) grpc-status: 0");
  ASSERT_NE(trailer, std::string::npos) << out;
  EXPECT_NE(out.find("grpc-message: all good"), std::string::npos) << out;
  // The trailer block comes after the DATA frame and carries END_STREAM.
  auto data = out.find("recv DATA frame");
  ASSERT_NE(data, std::string::npos) << out;
  EXPECT_LT(data, trailer) << out;
  EXPECT_NE(out.find("END_STREAM | END_HEADERS", trailer), std::string::npos) << out;
  EXPECT_EQ(out.find("[ERROR]"), std::string::npos) << out;
}

// HTTP/2 downstream, HTTP/1.1 upstream (POST with a body), and HTTP/1.1 downstream to the
// HTTP/2 upstream, on the same listener port.
TEST_F(MeshH2c, TranslatesBetweenHttp1AndHttp2) {
  ASSERT_TRUE(fs::writeFileAtomic(dir_ + "/post.txt", std::string(100000, 'p')));
  std::string out = runCapture("timeout 10 /usr/bin/nghttp -v -d " + dir_ + "/post.txt " + url("/web/echo"));
  EXPECT_NE(out.find(":status: 200"), std::string::npos) << out.substr(0, 3000);
  EXPECT_NE(out.find("x-backend: h1backend"), std::string::npos) << out.substr(0, 3000);
  auto r = call(listener_, "GET", "/index.html");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "hello from nghttpd\n");
  auto head = runCapture("timeout 10 /usr/bin/nghttp -v -H ':method: HEAD' " + url("/index.html"));
  EXPECT_NE(head.find("content-length: 19"), std::string::npos) << head;
}

// A long HTTP/2 download passes piece by piece (HTTP/2 and HTTP/1.1 clients alike): whole,
// and without the proxy holding it (it used to be cut at the h2 client's 64 MiB limit).
TEST_F(MeshH2c, LargeDownloadsStreamWithoutBeingHeld) {
  std::string big(80u << 20, '\0');
  for (size_t i = 0; i < big.size(); i += 4096) big[i] = char('a' + (i / 4096) % 26);
  ASSERT_TRUE(fs::writeFileAtomic(dir_ + "/www/big.bin", big));
  std::string want = runCapture("sha256sum < " + dir_ + "/www/big.bin");
  EXPECT_EQ(runCapture("timeout 30 curl -sS --http2-prior-knowledge " + url("/big.bin") + " | sha256sum"), want);
  EXPECT_EQ(runCapture("timeout 30 curl -sS " + url("/big.bin") + " | sha256sum"), want);
  long peak = statusKiB(proxy_.get(), "VmHWM");
  EXPECT_GT(peak, 0);
  EXPECT_LT(peak, 32 * 1024) << "the proxy held the body (peak RSS " << peak << " KiB)";
}

// Many concurrent streams on few connections: flow control and stream bookkeeping hold.
TEST_F(MeshH2c, H2loadManyStreamsAllSucceed) {
  std::string out = runCapture("timeout 30 /usr/bin/h2load -n 3000 -c 4 -m 20 " + url("/index.html"));
  EXPECT_NE(out.find("3000 succeeded, 0 failed, 0 errored"), std::string::npos) << out;
  EXPECT_NE(out.find("status codes: 3000 2xx"), std::string::npos) << out;
}

// A protocol violation gets GOAWAY(PROTOCOL_ERROR); a bad HPACK block COMPRESSION_ERROR.
TEST_F(MeshH2c, ProtocolErrorsEndWithGoaway) {
  const std::string preface("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n");
  const std::string settings("\x00\x00\x00\x04\x00\x00\x00\x00\x00", 9);
  auto goawayCode = [](const std::string& out) -> int {
    for (size_t i = 0; i + 9 <= out.size();) {
      uint32_t len = (uint8_t(out[i]) << 16) | (uint8_t(out[i + 1]) << 8) | uint8_t(out[i + 2]);
      if (out[i + 3] == 7 && i + 17 <= out.size())
        return (uint8_t(out[i + 13]) << 24) | (uint8_t(out[i + 14]) << 16) |
               (uint8_t(out[i + 15]) << 8) | uint8_t(out[i + 16]);
      i += 9 + len;
    }
    return -1;
  };
  std::string dataOn0("\x00\x00\x01\x00\x00\x00\x00\x00\x00x", 10);
  EXPECT_EQ(goawayCode(rawExchange(listener_, preface + settings + dataOn0)), 1);
  std::string badHpack("\x00\x00\x01\x01\x05\x00\x00\x00\x01\x80", 10);  // index 0
  EXPECT_EQ(goawayCode(rawExchange(listener_, preface + settings + badHpack)), 9);
  // The proxy still serves afterwards.
  EXPECT_EQ(call(listener_, "GET", "/web/x").status, 200);
}

}  // namespace
}  // namespace berth::meshtest
