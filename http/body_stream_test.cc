// Streamed bodies on the HTTP/1.1 server and client: a handler's BodySource answer sent piece
// by piece, a long request body reaching the handler as it arrives, a client sending a
// BodySource, and a request body handed on past its handler.

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/this_coro.hpp>
#include <gtest/gtest.h>

#include <thread>

#include "http/client.h"
#include "http/server_test_util.h"

namespace berth::http {
namespace {

using namespace std::chrono_literals;
using namespace servertest;

class BodySourceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ServerOptions o;
    o.host = "127.0.0.1";
    o.port = 0;
    server_ = std::make_unique<Server>(o);
    server_->setAsyncHandler([this](Request& r) -> boost::asio::awaitable<Response> {
      Response resp(200, "");
      resp.headers.set("x-peer", r.remoteAddr);
      std::string_view p = r.path();
      if (p == "/plain") co_return Response(200, "plain:" + r.remoteAddr);
      std::optional<uint64_t> len;
      if (p == "/length") len = 6;
      resp.bodySource = std::make_shared<TwoPieces>(release_, len, p == "/cut");
      co_return resp;
    });
    ASSERT_TRUE(server_->start());
  }
  void TearDown() override {
    server_->stop();
    server_->wait();
  }
  std::atomic<bool> release_{false};
  std::unique_ptr<Server> server_;
};

// The first piece reaches the client before the second exists; the body is chunked without a
// known length, Content-Length with one, and the connection then serves the next request.
TEST_F(BodySourceTest, PiecesAreSentAsTheyCome) {
  for (std::string path : {"/chunked", "/length"}) {
    release_ = false;
    UniqueFd fd = connectLoopback(server_->port());
    ASSERT_TRUE(fd);
    std::string req = "GET " + path + " HTTP/1.1\r\nHost: a\r\n\r\n";
    ::send(fd.get(), req.data(), req.size(), MSG_NOSIGNAL);
    std::string out;
    ASSERT_TRUE(readUntil(fd.get(), out, "one")) << path << ": first piece held back: " << out;
    EXPECT_EQ(out.find("two"), std::string::npos) << "second piece before it was released";
    release_ = true;
    std::string plainReq = "GET /plain HTTP/1.1\r\nHost: a\r\n\r\n";
    if (path == "/chunked") {
      ASSERT_TRUE(readUntil(fd.get(), out, "3\r\ntwo\r\n0\r\n\r\n")) << out;
      EXPECT_NE(out.find("Transfer-Encoding: chunked\r\n"), std::string::npos) << out;
      EXPECT_NE(out.find("\r\n\r\n3\r\none\r\n"), std::string::npos) << out;
    } else {
      ASSERT_TRUE(readUntil(fd.get(), out, "onetwo")) << out;
      EXPECT_NE(out.find("Content-Length: 6\r\n"), std::string::npos) << out;
      EXPECT_EQ(out.find("Transfer-Encoding"), std::string::npos) << out;
    }
    ::send(fd.get(), plainReq.data(), plainReq.size(), MSG_NOSIGNAL);
    std::string more;
    EXPECT_TRUE(readUntil(fd.get(), more, "plain:")) << "connection not kept alive: " << more;
  }
}

// A producer that fails mid-body: the connection closes without the last chunk.
TEST_F(BodySourceTest, FailedProducerCutsTheConnection) {
  UniqueFd fd = connectLoopback(server_->port());
  ASSERT_TRUE(fd);
  std::string req = "GET /cut HTTP/1.1\r\nHost: a\r\n\r\n";
  ::send(fd.get(), req.data(), req.size(), MSG_NOSIGNAL);
  std::string out;
  ASSERT_TRUE(readUntil(fd.get(), out, "one")) << out;
  release_ = true;
  bool closed = false;
  readUntil(fd.get(), out, "never-sent", 3000ms, &closed);
  EXPECT_TRUE(closed) << "connection left open after a failed body";
  EXPECT_EQ(out.find("0\r\n\r\n"), std::string::npos) << "a cut body was ended as if whole: " << out;
}

// Client side: StreamIf hands the body over as a BodySource; the connection returns to the
// pool after the last piece (and the next request reuses it), and is closed if the source is
// dropped early. A response the policy declines is read whole as before.
TEST_F(BodySourceTest, ClientStreamsChosenBodiesAndPoolsTheConnection) {
  boost::asio::io_context io;
  Client c(io.get_executor());
  std::vector<std::string> pieces;
  bool sawOneBeforeRelease = false, pooledAfterEnd = false, droppedNotPooled = false;
  std::string streamedPeer, nextPeer, declinedBody;
  bool declinedHasSource = true;
  StreamIf always{[](const void*, const Response&, std::optional<uint64_t>) { return true; }, nullptr};
  StreamIf never{[](const void*, const Response&, std::optional<uint64_t>) { return false; }, nullptr};
  boost::asio::co_spawn(io, [&]() -> boost::asio::awaitable<void> {
    Endpoint ep{"127.0.0.1", server_->port()};
    Request r;
    r.target = "/chunked";
    std::optional<std::chrono::milliseconds> to = 10s;
    auto res = co_await c.send(ep, r, to, &always);
    if (!res || !res->bodySource) {
      ADD_FAILURE() << "no streamed response";
      co_return;
    }
    streamedPeer = res->headers.get("x-peer");
    for (int i = 0; i < 4; ++i) {
      auto piece = co_await res->bodySource->next();
      if (!piece) {
        ADD_FAILURE() << piece.error().message();
        co_return;
      }
      if (piece->empty()) break;
      pieces.emplace_back(*piece);
      if (pieces.size() == 1) {
        sawOneBeforeRelease = !release_.load();
        release_ = true;
      }
    }
    pooledAfterEnd = c.idleConnections() == 1;
    Request plain;
    plain.target = "/plain";
    auto again = co_await c.send(ep, plain, to);
    if (again) nextPeer = again->body.substr(6);
    // Dropped after the first piece: not pooled.
    c.closeIdle();
    release_ = false;
    auto early = co_await c.send(ep, r, to, &always);
    if (early && early->bodySource) {
      auto first = co_await early->bodySource->next();
      (void)first;
      early->bodySource.reset();
      droppedNotPooled = c.idleConnections() == 0;
    }
    release_ = true;
    Request len;
    len.target = "/length";
    auto declined = co_await c.send(ep, len, to, &never);
    if (declined) {
      declinedBody = declined->body;
      declinedHasSource = declined->bodySource != nullptr;
    }
  }, boost::asio::detached);
  io.run();
  EXPECT_EQ(pieces, (std::vector<std::string>{"one", "two"}));
  EXPECT_TRUE(sawOneBeforeRelease);
  EXPECT_TRUE(pooledAfterEnd);
  EXPECT_FALSE(streamedPeer.empty());
  EXPECT_EQ(nextPeer, streamedPeer) << "the streamed connection was not reused";
  EXPECT_TRUE(droppedNotPooled);
  EXPECT_EQ(declinedBody, "onetwo");
  EXPECT_FALSE(declinedHasSource);
}

// ServerOptions::streamRequestBodiesAbove: a long (or chunked) body reaches the AsyncHandler
// as Request::bodySource while it is still arriving; a short one comes whole; a stalled one
// times out with 408.
TEST(StreamedRequestBodyTest, LongBodiesReachTheHandlerAsTheyArrive) {
  ServerOptions o = loopbackOptions();
  o.streamRequestBodiesAbove = 1024;
  o.bodyTimeout = 300ms;
  Server s(o);
  std::atomic<bool> firstSeen{false};
  s.setAsyncHandler([&](Request& r) -> boost::asio::awaitable<Response> {
    if (!r.bodySource) co_return Response(200, "whole:" + std::to_string(r.body.size()));
    uint64_t bytes = 0;
    int pieces = 0;
    for (;;) {
      auto piece = co_await r.bodySource->next();
      if (!piece) co_return Response(500, "failed:" + piece.error().message());
      if (piece->empty()) break;
      bytes += piece->size();
      ++pieces;
      firstSeen = true;
    }
    co_return Response(200, "streamed:" + std::to_string(bytes));
  });
  ASSERT_TRUE(s.start());
  UniqueFd fd = connectLoopback(s.port());
  ASSERT_TRUE(fd);
  std::string head = "POST /up HTTP/1.1\r\nHost: a\r\nContent-Length: 200000\r\n\r\n";
  std::string part(1000, 'x');
  ::send(fd.get(), head.data(), head.size(), MSG_NOSIGNAL);
  ::send(fd.get(), part.data(), part.size(), MSG_NOSIGNAL);
  auto until = std::chrono::steady_clock::now() + 3s;
  while (!firstSeen && std::chrono::steady_clock::now() < until) std::this_thread::sleep_for(5ms);
  EXPECT_TRUE(firstSeen) << "the handler did not see the body before all of it was sent";
  std::string rest(199000, 'y');
  ::send(fd.get(), rest.data(), rest.size(), MSG_NOSIGNAL);
  std::string out;
  EXPECT_TRUE(readUntil(fd.get(), out, "streamed:200000")) << out;
  // Keep-alive: the next, short request on the same connection comes whole.
  std::string small = "POST /s HTTP/1.1\r\nHost: a\r\nContent-Length: 500\r\n\r\n" + std::string(500, 'z');
  ::send(fd.get(), small.data(), small.size(), MSG_NOSIGNAL);
  out.clear();
  EXPECT_TRUE(readUntil(fd.get(), out, "whole:500")) << out;
  // Chunked: streamed too.
  std::string chunked = "POST /c HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n";
  ::send(fd.get(), chunked.data(), chunked.size(), MSG_NOSIGNAL);
  out.clear();
  EXPECT_TRUE(readUntil(fd.get(), out, "streamed:11")) << out;
  // A body that stalls is cut by the body timeout: 408, then the connection closes.
  UniqueFd slow = connectLoopback(s.port());
  ASSERT_TRUE(slow);
  std::string stall = "POST /up HTTP/1.1\r\nHost: a\r\nContent-Length: 100000\r\n\r\n" + std::string(2000, 'x');
  ::send(slow.get(), stall.data(), stall.size(), MSG_NOSIGNAL);
  out.clear();
  bool closed = false;
  readUntil(slow.get(), out, "never-sent", 3000ms, &closed);
  EXPECT_EQ(out.substr(0, 12), "HTTP/1.1 408") << out;
  EXPECT_TRUE(closed);
  s.stop();
  s.wait();
}

// What reads a handed-on request body after the handler has returned.
struct HandedOn {
  std::atomic<uint64_t> bytes{0};
  std::atomic<bool> cut{false}, laterRefused{false}, done{false};
};
boost::asio::awaitable<void> readHandedOn(std::shared_ptr<BodySource> src, HandedOn* st) {
  for (;;) {
    auto piece = co_await src->next();
    if (!piece) {
      st->cut = true;
      break;
    }
    if (piece->empty()) break;
    st->bytes += piece->size();
  }
  auto again = co_await src->next();
  st->laterRefused = !again && again.error().is(ErrorCode::kRequestBody);
  st->done = true;
}

// A streamed request body handed on past the handler (as the mesh hands it to an HTTP/2
// upstream call): when the handler returns, the read its new owner has waiting is cancelled
// and later reads fail with kRequestBody; the answer goes out, the connection closes (its
// body unread), and the server serves the next connection.
TEST(StreamedRequestBodyTest, ABodyHandedOnIsDetachedWhenTheHandlerReturns) {
  ServerOptions o = loopbackOptions();
  o.streamRequestBodiesAbove = 1024;
  Server s(o);
  HandedOn st;
  s.setAsyncHandler([&](Request& r) -> boost::asio::awaitable<Response> {
    if (!r.bodySource) co_return Response(200, "whole:" + std::to_string(r.body.size()));
    auto exec = co_await boost::asio::this_coro::executor;
    boost::asio::co_spawn(exec, readHandedOn(r.bodySource, &st), boost::asio::detached);
    boost::asio::steady_timer t(exec, 200ms);  // the reader takes what came, then waits
    co_await t.async_wait(boost::asio::use_awaitable);
    co_return Response(200, "early");
  });
  ASSERT_TRUE(s.start());
  UniqueFd fd = connectLoopback(s.port());
  ASSERT_TRUE(fd);
  std::string part = "POST /up HTTP/1.1\r\nHost: a\r\nContent-Length: 100000\r\n\r\n" +
                     std::string(2000, 'x');
  ::send(fd.get(), part.data(), part.size(), MSG_NOSIGNAL);
  std::string out;
  bool closed = false;
  readUntil(fd.get(), out, "never-sent", 3000ms, &closed);
  EXPECT_EQ(out.substr(0, 12), "HTTP/1.1 200") << out;
  EXPECT_NE(out.find("early"), std::string::npos) << out;
  EXPECT_TRUE(closed) << "a connection with its body unread was kept open";
  auto until = std::chrono::steady_clock::now() + 3s;
  while (!st.done && std::chrono::steady_clock::now() < until) std::this_thread::sleep_for(5ms);
  EXPECT_TRUE(st.done);
  EXPECT_EQ(st.bytes.load(), 2000u);
  EXPECT_TRUE(st.cut) << "the waiting read was not ended";
  EXPECT_TRUE(st.laterRefused);
  UniqueFd next = connectLoopback(s.port());
  ASSERT_TRUE(next);
  std::string small = "POST /s HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello";
  ::send(next.get(), small.data(), small.size(), MSG_NOSIGNAL);
  out.clear();
  EXPECT_TRUE(readUntil(next.get(), out, "whole:5")) << out;
  s.stop();
  s.wait();
}

// Client side: a Request with a bodySource is sent as the source yields it (chunked without a
// known length, Content-Length with one).
TEST(StreamedRequestBodyTest, ClientSendsABodySource) {
  ServerOptions o = loopbackOptions();
  Server s(o);
  s.setHandler([](Request& r) {
    return Response(200, std::string(r.chunked ? "chunked:" : "length:") + r.body);
  });
  ASSERT_TRUE(s.start());
  boost::asio::io_context io;
  Client c(io.get_executor());
  std::atomic<bool> released{true};
  std::string chunkedAnswer, lengthAnswer;
  boost::asio::co_spawn(io, [&]() -> boost::asio::awaitable<void> {
    Endpoint ep{"127.0.0.1", s.port()};
    Request r;
    r.method = "POST";
    r.bodySource = std::make_shared<TwoPieces>(released, std::nullopt, false);
    auto a = co_await c.send(ep, r);
    if (a) chunkedAnswer = a->body;
    else ADD_FAILURE() << a.error().message();
    Request q;
    q.method = "POST";
    q.bodySource = std::make_shared<TwoPieces>(released, 6, false);
    auto b = co_await c.send(ep, q);
    if (b) lengthAnswer = b->body;
    else ADD_FAILURE() << b.error().message();
  }, boost::asio::detached);
  io.run();
  EXPECT_EQ(chunkedAnswer, "chunked:onetwo");
  EXPECT_EQ(lengthAnswer, "length:onetwo");
  s.stop();
  s.wait();
}

}  // namespace
}  // namespace berth::http
