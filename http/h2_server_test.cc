// h2c end to end in one process: http::Server hands HTTP/2 connections to H2Server, an
// H2Client talks to it; the same port still serves HTTP/1.1.

#include "http/h2_server.h"

#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>

#include "http/client.h"
#include "http/h2_client.h"
#include "http/server.h"
#include "http/stream_testing.h"

namespace berth::http {
namespace {

namespace asio = boost::asio;

asio::awaitable<Response> echo(Request& req) {
  Response r(200, req.method + " " + req.target + " " + req.body);
  r.headers.set("x-host", req.headers.get("host"));
  r.headers.set("x-te", req.headers.get("te"));
  if (!req.trailers.empty()) r.headers.set("x-req-trailer", req.trailers.get("x-t"));
  r.trailers.add("grpc-status", "0");
  r.trailers.add("grpc-message", "fine");
  co_return r;
}

TEST(H2Server, ServesH2cAndHttp1OnOnePort) {
  H2Server h2(echo);
  ServerOptions so;
  so.host = "127.0.0.1";
  so.port = 0;
  so.h2cHandoff = h2.handoff();
  Server server(so);
  server.setAsyncHandler(echo);
  ASSERT_TRUE(server.start());
  Endpoint ep{"127.0.0.1", server.port()};

  asio::io_context io;
  H2Client client(io.get_executor());
  auto run = [&]() -> asio::awaitable<void> {
    for (int i = 0; i < 3; ++i) {  // one connection, several streams
      Request req;
      req.method = "POST";
      req.target = "/pkg.Svc/Call";
      req.headers.set("te", "trailers");
      req.body = "body" + std::to_string(i);
      req.trailers.add("x-t", "tv");
      auto r = co_await client.request(ep, std::move(req), std::chrono::milliseconds(5000));
      EXPECT_TRUE(r) << (r ? "" : r.error().message());
      if (!r) co_return;
      EXPECT_EQ(r->status, 200);
      EXPECT_EQ(r->body, "POST /pkg.Svc/Call body" + std::to_string(i));
      EXPECT_EQ(r->headers.get("x-host"), ep.key());
      EXPECT_EQ(r->headers.get("x-te"), "trailers");
      EXPECT_EQ(r->headers.get("x-req-trailer"), "tv");
      EXPECT_EQ(r->trailers.get("grpc-status"), "0");
      EXPECT_EQ(r->trailers.get("grpc-message"), "fine");
    }
    EXPECT_EQ(client.connections(), 1u);
    EXPECT_EQ(h2.connections(), 1u);
    client.close();
  };
  auto f = asio::co_spawn(io, run(), asio::use_future);
  io.run();
  f.get();

  // HTTP/1.1 on the same port.
  Request req;
  auto r = fetch("http://" + ep.key() + "/h1", req);
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(r->body, "GET /h1 ");
  h2.drain();
  server.drain();
  server.wait();
}

// A bidirectional stream: each piece the client sends comes back before the next is sent,
// and the answer's trailers arrive after its streamed body.
TEST(H2Server, BidirectionalStreamsInterleave) {
  H2ServerOptions ho;
  ho.streamRequestBodiesAbove = 0;
  H2Server h2(testing::echoStream, ho);
  ServerOptions so;
  so.host = "127.0.0.1";
  so.port = 0;
  so.h2cHandoff = h2.handoff();
  Server server(so);
  server.setAsyncHandler(testing::echoStream);
  ASSERT_TRUE(server.start());
  Endpoint ep{"127.0.0.1", server.port()};

  asio::io_context io;
  H2Client client(io.get_executor());
  const StreamIf always{[](const void*, const Response&, std::optional<uint64_t>) { return true; },
                        nullptr};
  std::vector<std::string> got;
  auto run = [&]() -> asio::awaitable<void> {
    auto chan =
        std::make_shared<testing::Channel>(io.get_executor(), std::chrono::milliseconds(3000));
    chan->push("one");
    std::vector<std::string> then{"two", "three"};
    auto req = testing::bidiRequest(chan);  // named: GCC 12 and temporaries in co_await
    auto r = co_await client.request(ep, std::move(req), std::chrono::milliseconds(5000), &always);
    EXPECT_TRUE(r) << (r ? "" : r.error().message());
    if (!r) co_return;
    EXPECT_EQ(r->status, 200);
    EXPECT_TRUE(r->bodySource);
    if (r->bodySource) got = co_await testing::converse(*r->bodySource, *chan, then);
    client.close();
  };
  auto f = asio::co_spawn(io, run(), asio::use_future);
  io.run_for(std::chrono::seconds(20));
  ASSERT_EQ(f.wait_for(std::chrono::seconds(0)), std::future_status::ready) << "the stream stalled";
  f.get();
  EXPECT_EQ(got, (std::vector<std::string>{"echo:one", "echo:two", "echo:three", "trailers:0/3"}));
  h2.drain();
  server.drain();
  server.wait();
}

TEST(H2Client, ConnectFailureIsReported) {
  asio::io_context io;
  H2Client client(io.get_executor());
  auto f = asio::co_spawn(
      io, client.request({"127.0.0.1", 1}, Request{}, std::chrono::milliseconds(2000)),
      asio::use_future);
  io.run();
  auto r = f.get();
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message().rfind("connect ", 0), 0u) << r.error().message();
}

}  // namespace
}  // namespace berth::http
