// mesh-test-backend: a small HTTP backend for the mesh integration tests and benchmarks.
//   mesh-test-backend PORT MODE [ID] [DELAY_MS]
// MODE: ok (200), slow (200 after DELAY_MS), flaky (503 every other request), fail (always
// 503), reset (accept, read the request, reset the connection), h2echo (HTTP/2 cleartext:
// a streamed request body is echoed piece by piece as it arrives, "echo:<piece>", then
// trailers grpc-status 0 and x-pieces N; see http/stream_testing.h; POST /sink reads the
// whole body, then answers its length; GET /open -> echo and sink streams open now).
// Every mode but reset also serves:
//   GET  /count         -> number of requests seen (not counting /count and /mode)
//   GET  /maxactive     -> most requests in progress at once so far
//   POST /mode/<MODE>   -> switch mode (ok, slow, flaky, fail)
//   GET  /healthz       -> 200, or 503 in fail mode
// Responses carry x-backend: ID and x-seen-traceparent: the traceparent it received.

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <algorithm>
#include <atomic>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "http/body_source.h"
#include "http/h2_server.h"
#include "http/server.h"
#include "http/stream_testing.h"

namespace asio = boost::asio;
using berth::http::Request;
using berth::http::Response;

namespace {

std::atomic<int> gMode{0};  // 0 ok, 1 slow, 2 flaky, 3 fail
std::atomic<uint64_t> gCount{0};
int gActive = 0, gMaxActive = 0;  // one worker thread
std::string gId;
int gDelayMs = 100;

int modeOf(const std::string& m) {
  if (m == "ok") return 0;
  if (m == "slow") return 1;
  if (m == "flaky") return 2;
  if (m == "fail") return 3;
  return -1;
}

asio::awaitable<Response> handle(Request& req) {
  std::string_view path = req.path();
  if (path == "/count") co_return Response(200, std::to_string(gCount.load()) + "\n");
  if (path == "/maxactive") co_return Response(200, std::to_string(gMaxActive) + "\n");
  if (req.method == "POST" && path.substr(0, 6) == "/mode/") {
    int m = modeOf(std::string(path.substr(6)));
    if (m < 0) co_return Response(400, "bad mode\n");
    gMode.store(m);
    co_return Response(200, "ok\n");
  }
  int mode = gMode.load();
  if (path == "/healthz") co_return Response(mode == 3 ? 503 : 200, "health\n");
  uint64_t n = gCount.fetch_add(1);
  Response r;
  gMaxActive = std::max(gMaxActive, ++gActive);
  if (mode == 1) {
    asio::steady_timer t(co_await asio::this_coro::executor, std::chrono::milliseconds(gDelayMs));
    co_await t.async_wait(asio::as_tuple(asio::use_awaitable));
  }
  --gActive;
  if (mode == 3 || (mode == 2 && n % 2 == 1)) {
    r = Response(503, "unavailable from " + gId + "\n");
  } else {
    r = Response(200, gId + " " + req.method + " " + req.target + " body=" + req.body + "\n");
  }
  r.headers.set("x-backend", gId);
  r.headers.set("x-seen-traceparent", req.headers.get("traceparent"));
  co_return r;
}

// Reset mode: read a request, then close with SO_LINGER 0 so the peer sees a reset.
int runReset(int port) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 || listen(fd, 128) != 0) {
    std::perror("bind");
    return 1;
  }
  for (;;) {
    int c = accept(fd, nullptr, nullptr);
    if (c < 0) continue;
    char buf[4096];
    ssize_t n = read(c, buf, sizeof buf);
    (void)n;
    gCount.fetch_add(1);
    linger l{1, 0};
    setsockopt(c, SOL_SOCKET, SO_LINGER, &l, sizeof l);
    close(c);
  }
}

// h2echo: echo streams open now (a cancelled call must close its stream here too).
std::atomic<int> gOpenStreams{0};
class Counted : public berth::http::BodySource {
 public:
  explicit Counted(std::shared_ptr<BodySource> in) : in_(std::move(in)) { ++gOpenStreams; }
  ~Counted() override { --gOpenStreams; }
  asio::awaitable<berth::Result<std::string_view>> next() override { return in_->next(); }
  std::optional<uint64_t> length() const override { return in_->length(); }
  const berth::http::Headers* trailers() const override { return in_->trailers(); }

 private:
  std::shared_ptr<BodySource> in_;
};

// /sink reads the whole request body before it answers (its length), counted as open meanwhile.
asio::awaitable<Response> sink(Request& req) {
  struct Open {
    Open() { ++gOpenStreams; }
    ~Open() { --gOpenStreams; }
  } open;
  std::string body;
  berth::Result<void> r;
  if (req.bodySource) r = co_await berth::http::drainBody(*req.bodySource, body, 64u << 20);
  co_return Response(r ? 200 : 400, std::to_string(req.body.size() + body.size()));
}

asio::awaitable<Response> h2echo(Request& req) {
  if (req.target == "/open") co_return Response(200, std::to_string(gOpenStreams.load()));
  if (req.target == "/sink") co_return co_await sink(req);
  Response r = co_await berth::http::testing::echoStream(req);
  if (r.bodySource) r.bodySource = std::make_shared<Counted>(std::move(r.bodySource));
  co_return r;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: mesh-test-backend PORT MODE [ID] [DELAY_MS]\n");
    return 2;
  }
  int port = std::atoi(argv[1]);
  std::string mode = argv[2];
  gId = argc > 3 ? argv[3] : ("b" + std::to_string(port));
  if (argc > 4) gDelayMs = std::atoi(argv[4]);
  std::signal(SIGPIPE, SIG_IGN);
  if (mode == "reset") return runReset(port);
  if (mode == "h2echo") {
    berth::http::H2ServerOptions ho;
    ho.streamRequestBodiesAbove = 0;
    berth::http::H2Server h2(h2echo, ho);
    berth::http::ServerOptions so;
    so.host = "127.0.0.1";
    so.port = static_cast<uint16_t>(port);
    so.workers = 1;
    so.h2cHandoff = h2.handoff();
    berth::http::Server server(so);
    server.setAsyncHandler(h2echo);
    auto r = server.run();
    if (!r) std::fprintf(stderr, "Error: %s\n", r.error().message().c_str());
    return r ? 0 : 1;
  }
  int m = modeOf(mode);
  if (m < 0) {
    std::fprintf(stderr, "unknown mode %s\n", mode.c_str());
    return 2;
  }
  gMode.store(m);
  berth::http::ServerOptions so;
  so.host = "127.0.0.1";
  so.port = static_cast<uint16_t>(port);
  so.workers = 1;
  berth::http::Server server(so);
  server.setAsyncHandler(handle);
  auto r = server.run();
  if (!r) {
    std::fprintf(stderr, "Error: %s\n", r.error().message().c_str());
    return 1;
  }
  return 0;
}
