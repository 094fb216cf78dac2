#include "http/server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <mutex>
#include <thread>
#include <vector>

#include "common/unique_fd.h"
#include "http/body_source.h"
#include "http/client.h"
#include "http/server_test_util.h"

namespace berth::http {
namespace {

using namespace std::chrono_literals;
using namespace servertest;

class ServerTest : public ::testing::Test {
 protected:
  void startWith(Handler h, ServerOptions o = {}) {
    o.host = "127.0.0.1";
    o.port = 0;
    server_ = std::make_unique<Server>(o);
    server_->setHandler(std::move(h));
    ASSERT_TRUE(server_->start());
  }
  std::string url(std::string_view path) {
    return "http://127.0.0.1:" + std::to_string(server_->port()) + std::string(path);
  }
  void TearDown() override {
    if (server_) {
      server_->stop();
      server_->wait();
    }
  }
  std::unique_ptr<Server> server_;
};

Response echo(Request& r) {
  Response resp(200, r.method + " " + r.target + " " + r.body);
  resp.headers.add("X-Len", std::to_string(r.body.size()));
  return resp;
}

TEST_F(ServerTest, GetAndPostWithClient) {
  startWith(echo);
  Request get;
  auto r = fetch(url("/hello?x=1"), get);
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body, "GET /hello?x=1 ");
  Request post;
  post.method = "POST";
  post.body = "payload";
  r = fetch(url("/p"), post);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->body, "POST /p payload");
  EXPECT_EQ(r->headers.get("x-len"), "7");
  EXPECT_FALSE(r->headers.get("date").empty());
}

TEST_F(ServerTest, KeepAliveAndPipelining) {
  startWith(echo);
  std::string two = "GET /1 HTTP/1.1\r\nHost: a\r\n\r\nGET /2 HTTP/1.1\r\nHost: a\r\n\r\n"
                    "POST /3 HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\nConnection: close\r\n\r\nhi";
  bool closed = false;
  std::string out = rawExchange(server_->port(), two, 1000, &closed);
  EXPECT_EQ(countOf(out, "HTTP/1.1 200 OK"), 3u) << out;
  EXPECT_LT(out.find("GET /1"), out.find("GET /2"));
  EXPECT_NE(out.find("POST /3 hi"), std::string::npos);
  EXPECT_NE(out.find("Connection: close"), std::string::npos);
  EXPECT_TRUE(closed);
}

TEST_F(ServerTest, ChunkedRequestBody) {
  startWith(echo);
  std::string out = rawExchange(server_->port(),
                                "POST /c HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
                                "3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n");
  EXPECT_NE(out.find("POST /c abcde"), std::string::npos) << out;
}

TEST_F(ServerTest, SmugglingGets400AndClose) {
  startWith(echo);
  for (std::string bad : {"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
                          "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nContent-Length: 3\r\n\r\nabc",
                          "GET / HTTP/1.1\r\nHost: a\r\nX: a\r\n b\r\n\r\n",
                          "GET / HTTP/1.1\r\nHost: a\nX: b\r\n\r\n",
                          "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n"}) {
    bool closed = false;
    std::string out = rawExchange(server_->port(), bad + "GET /next HTTP/1.1\r\nHost: a\r\n\r\n", 2000, &closed);
    EXPECT_EQ(out.rfind("HTTP/1.1 400 ", 0), 0u) << bad << "\n---\n" << out;
    EXPECT_EQ(out.find("/next"), std::string::npos) << "smuggled request was served";
    EXPECT_TRUE(closed);
  }
}

TEST_F(ServerTest, BodyTooLargeIs413) {
  ServerOptions o;
  o.limits.maxBodyBytes = 10;
  startWith(echo, o);
  std::string out = rawExchange(server_->port(),
                                "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 11\r\n\r\n01234567890");
  EXPECT_EQ(out.rfind("HTTP/1.1 413 ", 0), 0u) << out;
  out = rawExchange(server_->port(),
                    "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n8\r\n01234567\r\n8\r\n01234567\r\n0\r\n\r\n");
  EXPECT_EQ(out.rfind("HTTP/1.1 413 ", 0), 0u) << out;
}

TEST_F(ServerTest, ExpectContinue) {
  startWith(echo);
  UniqueFd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(server_->port());
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::connect(fd.get(), reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
  std::string head = "POST /e HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nContent-Length: 4\r\n\r\n";
  ::send(fd.get(), head.data(), head.size(), 0);
  char buf[512];
  pollfd p{fd.get(), POLLIN, 0};
  ASSERT_EQ(::poll(&p, 1, 2000), 1);
  ssize_t n = ::recv(fd.get(), buf, sizeof buf, 0);
  ASSERT_GT(n, 0);
  EXPECT_EQ(std::string(buf, n), "HTTP/1.1 100 Continue\r\n\r\n");
  ::send(fd.get(), "body", 4, 0);
  ASSERT_EQ(::poll(&p, 1, 2000), 1);
  n = ::recv(fd.get(), buf, sizeof buf, 0);
  ASSERT_GT(n, 0);
  EXPECT_NE(std::string(buf, n).find("POST /e body"), std::string::npos);
}

TEST_F(ServerTest, SlowlorisIsCut) {
  ServerOptions o;
  o.headerTimeout = 300ms;
  startWith(echo, o);
  bool closed = false;
  auto start = std::chrono::steady_clock::now();
  std::string out = rawExchange(server_->port(), "GET / HTTP/1.1\r\nHost: a\r\nX-Slow: ", 3000, &closed);
  EXPECT_TRUE(closed);
  EXPECT_LT(std::chrono::steady_clock::now() - start, 2500ms);
}

TEST_F(ServerTest, RequestTimeoutGets408AndIsReported) {
  ServerOptions o;
  o.headerTimeout = 300ms;
  o.bodyTimeout = 300ms;
  o.idleTimeout = 400ms;
  std::mutex mu;
  std::vector<std::string> seen;
  o.onRejected = [&](int status, std::string_view detail, const Request& r) {
    std::lock_guard<std::mutex> lock(mu);
    seen.push_back(std::to_string(status) + " " + r.method + " " + r.target + " " +
                   std::string(detail) + (r.remoteAddr.empty() ? " no-remote" : ""));
  };
  startWith(echo, o);
  // Part of a head: 408, then close.
  bool closed = false;
  std::string out = rawExchange(server_->port(), "GET / HTTP/1.1\r\nHost: a\r\nX-Slow: ", 3000, &closed);
  EXPECT_EQ(out.rfind("HTTP/1.1 408 ", 0), 0u) << out;
  EXPECT_NE(out.find("Connection: close"), std::string::npos);
  EXPECT_TRUE(closed);
  // A head, then part of the body: 408 too.
  out = rawExchange(server_->port(), "POST /b HTTP/1.1\r\nHost: a\r\nContent-Length: 10\r\n\r\n0123", 3000,
                    &closed);
  EXPECT_EQ(out.rfind("HTTP/1.1 408 ", 0), 0u) << out;
  EXPECT_TRUE(closed);
  // An idle keep-alive connection is closed without a response.
  out = rawExchange(server_->port(), "GET /a HTTP/1.1\r\nHost: a\r\n\r\n", 3000, &closed);
  EXPECT_EQ(countOf(out, "HTTP/1.1 "), 1u) << out;
  EXPECT_EQ(out.find("408"), std::string::npos) << out;
  EXPECT_TRUE(closed);
  std::lock_guard<std::mutex> lock(mu);
  ASSERT_EQ(seen.size(), 2u);
  EXPECT_EQ(seen[0].rfind("408 GET / ", 0), 0u) << seen[0];  // the request line had arrived
  EXPECT_EQ(seen[1].rfind("408 POST /b ", 0), 0u) << seen[1];
  EXPECT_EQ(seen[1].find("no-remote"), std::string::npos);
}

TEST_F(ServerTest, RejectedRequestsAreReported) {
  ServerOptions o;
  o.limits.maxBodyBytes = 4;
  std::mutex mu;
  std::vector<std::string> seen;
  o.onRejected = [&](int status, std::string_view, const Request& r) {
    std::lock_guard<std::mutex> lock(mu);
    seen.push_back(std::to_string(status) + " " + r.method + " " + r.target);
  };
  startWith(echo, o);
  rawExchange(server_->port(), "G@T / HTTP/1.1\r\nHost: a\r\n\r\n");
  rawExchange(server_->port(), "POST /big HTTP/1.1\r\nHost: a\r\nContent-Length: 9\r\n\r\n012345678");
  std::lock_guard<std::mutex> lock(mu);
  ASSERT_EQ(seen.size(), 2u);
  EXPECT_EQ(seen[0], "400  ");
  EXPECT_EQ(seen[1], "413 POST /big");
  EXPECT_EQ(server_->stats().rejected, 2u);
}

TEST_F(ServerTest, HeadKeepsTheContentLengthOfGet) {
  // A handler (or a proxy) answering HEAD without a body but with the GET's length.
  startWith([](Request& r) {
    Response resp(200, r.method == "HEAD" ? "" : "0123456789");
    if (r.method == "HEAD") resp.headers.add("Content-Length", "10");
    return resp;
  });
  std::string out = rawExchange(server_->port(),
                                "HEAD /x HTTP/1.1\r\nHost: a\r\n\r\nGET /x HTTP/1.1\r\nHost: a\r\n"
                                "Connection: close\r\n\r\n");
  EXPECT_EQ(countOf(out, "Content-Length: 10\r\n"), 2u) << out;
  EXPECT_EQ(countOf(out, "0123456789"), 1u) << out;  // the body only once, after GET's head
  EXPECT_EQ(out.find("0123456789"), out.size() - 10) << out;
}

TEST_F(ServerTest, HeadHasNoBodyAnd404Default) {
  startWith([](Request& r) { return Response(r.path() == "/x" ? 200 : 404, "data"); });
  std::string out = rawExchange(server_->port(), "HEAD /x HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n");
  EXPECT_NE(out.find("Content-Length: 4"), std::string::npos);
  EXPECT_EQ(out.find("data"), std::string::npos);
}

TEST_F(ServerTest, HandlerExceptionIs500WithoutInternals) {
  startWith([](Request&) -> Response { throw std::runtime_error("secret db password"); });
  auto r = fetch(url("/"), Request{});
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 500);
  EXPECT_EQ(r->body.find("secret"), std::string::npos);
}

TEST_F(ServerTest, DrainFinishesInFlightRequest) {
  std::atomic<bool> entered{false};
  startWith([&](Request&) {
    entered = true;
    std::this_thread::sleep_for(300ms);
    return Response(200, "done");
  });
  Result<Response> r = fail(ErrorCode::kInternal, "unset");
  std::thread t([&] { r = fetch(url("/"), Request{}); });
  while (!entered) std::this_thread::sleep_for(5ms);
  server_->drain();
  server_->wait();
  t.join();
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(r->body, "done");
  EXPECT_EQ(r->headers.get("connection"), "close");
  EXPECT_FALSE(fetch(url("/"), Request{}, 500ms));  // no longer accepting
}

TEST(StreamServerTest, StreamsBodiesBothWays) {
  ServerOptions o = loopbackOptions();
  Server s(o);
  s.setStreamHandler([](Request& req, BodyReader& body, ResponseWriter& w) -> boost::asio::awaitable<void> {
    Headers h;
    h.add("Content-Type", "text/plain");
    auto head = co_await w.writeHead(200, h, std::nullopt);
    bool more = head.has_value();
    std::string framed;
    while (more) {
      auto piece = co_await body.read();
      more = piece && !piece->empty();
      if (more) {
        framed = "[" + std::string(*piece) + "]";
        auto wr = co_await w.write(framed);
        more = wr.has_value();
      }
    }
    auto fin = co_await w.finish();
    (void)fin;
  });
  ASSERT_TRUE(s.start());
  std::string out = rawExchange(s.port(),
                                "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
                                "3\r\nabc\r\n0\r\n\r\n");
  EXPECT_NE(out.find("Transfer-Encoding: chunked"), std::string::npos) << out;
  EXPECT_NE(out.find("5\r\n[abc]\r\n0\r\n\r\n"), std::string::npos) << out;
  // The client decodes the chunked response and sends a chunked request body.
  Request req;
  req.method = "POST";
  req.headers.add("Transfer-Encoding", "chunked");
  req.body = "xyz";
  auto r = fetch("http://127.0.0.1:" + std::to_string(s.port()) + "/", req);
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(r->body, "[xyz]");
  s.stop();
  s.wait();
}

TEST(ClientTest, PoolReusesConnectionsAndTimesOut) {
  ServerOptions o = loopbackOptions();
  Server s(o);
  s.setAsyncHandler([](Request& r) -> boost::asio::awaitable<Response> {
    if (r.path() == "/slow") {
      boost::asio::steady_timer t(currentWorkerExecutor(), 2s);
      co_await t.async_wait(boost::asio::use_awaitable);
    }
    co_return Response(200, r.remoteAddr);
  });
  ASSERT_TRUE(s.start());
  boost::asio::io_context io;
  Client c(io.get_executor());
  std::string first, second;
  bool timedOut = false;
  boost::asio::co_spawn(io, [&]() -> boost::asio::awaitable<void> {
    // GCC 12: keep non-trivial temporaries out of co_await expressions (name them first).
    Endpoint ep{"127.0.0.1", s.port()};
    Request plain;
    auto a = co_await c.request(ep, plain);
    auto b = co_await c.request(ep, plain);
    if (a && b) { first = a->body; second = b->body; }
    Request slow;
    slow.target = "/slow";
    auto t = co_await c.request(ep, slow, 200ms);
    timedOut = !t && t.error().is(ErrorCode::kTimeout);
  }, boost::asio::detached);
  io.run();
  EXPECT_FALSE(first.empty());
  EXPECT_EQ(first, second);  // same client port: the pooled connection was reused
  EXPECT_TRUE(timedOut);
  s.stop();
  s.wait();
}

// The client's per-request deadlines share one timer: a request started later with an earlier
// deadline still times out at its own deadline, a longer one at its own, and a quick request
// alongside is untouched.
TEST(ClientTest, ConcurrentDeadlinesEachFireOnTime) {
  ServerOptions o = loopbackOptions();
  Server s(o);
  s.setAsyncHandler([](Request& r) -> boost::asio::awaitable<Response> {
    if (r.path() == "/slow") {
      boost::asio::steady_timer t(currentWorkerExecutor(), 3s);
      co_await t.async_wait(boost::asio::use_awaitable);
    }
    co_return Response(200, "ok");
  });
  ASSERT_TRUE(s.start());
  boost::asio::io_context io;
  Client c(io.get_executor());
  using Ms = std::chrono::milliseconds;
  auto t0 = std::chrono::steady_clock::now();
  Ms longTook{0}, shortTook{0};
  bool longTimedOut = false, shortTimedOut = false, fastOk = false;
  Endpoint ep{"127.0.0.1", s.port()};
  auto run = [&](std::string target, Ms timeout, bool* timedOut, Ms* took, bool* ok)
      -> boost::asio::awaitable<void> {
    Request r;
    r.target = target;
    auto res = co_await c.request(ep, r, timeout);
    if (timedOut) *timedOut = !res && res.error().is(ErrorCode::kTimeout);
    if (ok) *ok = res && res->status == 200;
    if (took) *took = std::chrono::duration_cast<Ms>(std::chrono::steady_clock::now() - t0);
  };
  boost::asio::co_spawn(io, run("/slow", Ms(1500), &longTimedOut, &longTook, nullptr), boost::asio::detached);
  boost::asio::co_spawn(io, run("/slow", Ms(150), &shortTimedOut, &shortTook, nullptr), boost::asio::detached);
  boost::asio::co_spawn(io, run("/fast", Ms(5000), nullptr, nullptr, &fastOk), boost::asio::detached);
  io.run();
  EXPECT_TRUE(fastOk);
  EXPECT_TRUE(shortTimedOut);
  EXPECT_TRUE(longTimedOut);
  EXPECT_GE(shortTook.count(), 150);
  EXPECT_LT(shortTook.count(), 1000) << "the later, shorter deadline waited for the longer one";
  EXPECT_GE(longTook.count(), 1500);
  s.stop();
  s.wait();
}

// A pooled connection the server closed while idle: a GET reused within the trust window
// (no probe) fails before any response byte and is re-sent on a new connection; a POST is
// probed first and goes out on a new connection. Both succeed.
TEST(ClientTest, ConnectionClosedWhileIdleIsRetriedOrProbed) {
  ServerOptions o = loopbackOptions();
  o.idleTimeout = 100ms;  // the server closes idle keep-alive connections quickly
  Server s(o);
  s.setHandler([](Request& r) { return Response(200, r.remoteAddr); });
  ASSERT_TRUE(s.start());
  boost::asio::io_context io;
  Client c(io.get_executor());
  std::string first, afterGet, afterPost;
  bool ok = true;
  boost::asio::co_spawn(io, [&]() -> boost::asio::awaitable<void> {
    Endpoint ep{"127.0.0.1", s.port()};
    Request get;
    auto a = co_await c.request(ep, get);
    ok = ok && a;
    if (a) first = a->body;
    for (int round = 0; round < 2; ++round) {
      boost::asio::steady_timer t(io, 400ms);
      co_await t.async_wait(boost::asio::use_awaitable);
      Request r;
      if (round == 1) {
        r.method = "POST";
        r.body = "x";
      }
      auto b = co_await c.request(ep, r);
      ok = ok && b && b->status == 200;
      if (b) (round == 0 ? afterGet : afterPost) = b->body;
      if (!b) ADD_FAILURE() << b.error().message();
    }
  }, boost::asio::detached);
  io.run();
  EXPECT_TRUE(ok);
  EXPECT_NE(first, afterGet);  // a new connection (new client port)
  EXPECT_NE(afterGet, afterPost);
  s.stop();
  s.wait();
}

TEST(UrlTest, Parse) {
  auto u = parseUrl("http://127.0.0.1:8080/a?b");
  ASSERT_TRUE(u);
  EXPECT_EQ(u->endpoint.host, "127.0.0.1");
  EXPECT_EQ(u->endpoint.port, 8080);
  EXPECT_EQ(u->target, "/a?b");
  u = parseUrl("http://[::1]/");
  ASSERT_TRUE(u);
  EXPECT_EQ(u->endpoint.host, "::1");
  EXPECT_EQ(u->endpoint.port, 80);
  EXPECT_FALSE(parseUrl("https://x/"));
  EXPECT_FALSE(parseUrl("http://x:99999/"));
}

}  // namespace
}  // namespace berth::http
