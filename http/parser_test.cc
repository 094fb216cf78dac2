#include "http/parser.h"

#include <gtest/gtest.h>

namespace berth::http {
namespace {

ParseResult head(std::string_view s, Request& r, Limits l = {}) { return parseRequestHead(s, l, r); }

int rejectStatus(std::string_view s, Limits l = {}) {
  Request r;
  ParseResult p = parseRequest(s, l, r);
  return p.failed() ? p.errorStatus : 0;
}

TEST(ParserTest, SimpleGet) {
  Request r;
  auto p = head("GET /a/b?x=1 HTTP/1.1\r\nHost: example\r\nX-Y:  v  \r\n\r\nrest", r);
  ASSERT_TRUE(p.complete());
  EXPECT_EQ(p.consumed, 51u);
  EXPECT_EQ(r.method, "GET");
  EXPECT_EQ(r.path(), "/a/b");
  EXPECT_EQ(r.query(), "x=1");
  EXPECT_EQ(r.headers.get("x-y"), "v");
  EXPECT_EQ(r.headers.get("HOST"), "example");
  EXPECT_TRUE(r.keepAlive);
  EXPECT_FALSE(r.chunked);
}

TEST(ParserTest, IncompleteUntilBlankLine) {
  Request r;
  EXPECT_TRUE(head("GET / HTTP/1.1\r\nHost: a\r\n", r).incomplete());
  EXPECT_TRUE(head("GET / HTTP/1.1\r\nHost: a\r\n\r", r).incomplete());
  EXPECT_TRUE(head("GET / HTT", r).incomplete());
}

TEST(ParserTest, ContentLengthBody) {
  Request r;
  auto p = parseRequest("POST /add HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhelloGET", {}, r);
  ASSERT_TRUE(p.complete());
  EXPECT_EQ(r.body, "hello");
  EXPECT_EQ(*r.contentLength, 5u);
}

TEST(ParserTest, ChunkedBodyWithExtensionAndTrailer) {
  Request r;
  auto p = parseRequest(
      "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
      "5;name=val\r\nhello\r\n6\r\n world\r\n0\r\nX-Trailer: t\r\n\r\n",
      {}, r);
  ASSERT_TRUE(p.complete()) << p.error;
  EXPECT_EQ(r.body, "hello world");
  EXPECT_TRUE(r.chunked);
}

TEST(ParserTest, ChunkedDecoderIsIncremental) {
  std::string wire = "4\r\nwiki\r\n5\r\npedia\r\n0\r\n\r\n";
  ChunkedDecoder d;
  std::string out;
  for (size_t i = 0; i < wire.size(); ++i) {
    auto r = d.decode(std::string_view(wire).substr(i, 1), out);
    ASSERT_FALSE(r.failed()) << i;
    if (i + 1 < wire.size()) ASSERT_TRUE(r.incomplete()) << i;
    else ASSERT_TRUE(r.complete());
  }
  EXPECT_EQ(out, "wikipedia");
}

TEST(ParserTest, Http10DefaultsToClose) {
  Request r;
  ASSERT_TRUE(head("GET / HTTP/1.0\r\n\r\n", r).complete());
  EXPECT_FALSE(r.keepAlive);
  ASSERT_TRUE(head("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", r).complete());
  EXPECT_TRUE(r.keepAlive);
  ASSERT_TRUE(head("GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n", r).complete());
  EXPECT_FALSE(r.keepAlive);
}

TEST(ParserTest, ExpectContinue) {
  Request r;
  ASSERT_TRUE(head("POST / HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nContent-Length: 3\r\n\r\n", r).complete());
  EXPECT_TRUE(r.expectContinue);
  EXPECT_EQ(rejectStatus("POST / HTTP/1.1\r\nHost: a\r\nExpect: foo\r\n\r\n"), 417);
}

TEST(ParserTest, LeadingEmptyLinesAreSkipped) {
  Request r;
  EXPECT_TRUE(head("\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n", r).complete());
}

// --- request smuggling and strictness: each must be rejected with 400 -------------------

TEST(ParserSmugglingTest, ContentLengthAndTransferEncoding) {
  EXPECT_EQ(rejectStatus("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 4\r\n"
                         "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n"), 400);
  EXPECT_EQ(rejectStatus("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n"
                         "Content-Length: 4\r\n\r\n0\r\n\r\n"), 400);
}

TEST(ParserSmugglingTest, DuplicateContentLength) {
  EXPECT_EQ(rejectStatus("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 4\r\nContent-Length: 4\r\n\r\nabcd"), 400);
  EXPECT_EQ(rejectStatus("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 4\r\nContent-Length: 5\r\n\r\nabcd"), 400);
  EXPECT_EQ(rejectStatus("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 4, 4\r\n\r\nabcd"), 400);
}

TEST(ParserSmugglingTest, InvalidContentLength) {
  for (const char* v : {"-1", "+4", "4 4", "0x10", "", "abc", "99999999999999999999"}) {
    EXPECT_EQ(rejectStatus(std::string("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: ") + v + "\r\n\r\n"), 400) << v;
  }
}

TEST(ParserSmugglingTest, TransferEncodingVariants) {
  EXPECT_EQ(rejectStatus("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n"
                         "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n"), 400);
  EXPECT_EQ(rejectStatus("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: xchunked\r\n\r\n"), 400);
  EXPECT_EQ(rejectStatus("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, identity\r\n\r\n"), 400);
  EXPECT_EQ(rejectStatus("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\n\r\n"), 501);
  EXPECT_EQ(rejectStatus("POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"), 400);
  EXPECT_EQ(rejectStatus("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding : chunked\r\n\r\n"), 400);
}

TEST(ParserSmugglingTest, BadChunkSizes) {
  const std::string h = "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n";
  for (const char* body : {"g\r\nx\r\n0\r\n\r\n", "-1\r\n\r\n", " 5\r\nhello\r\n0\r\n\r\n",
                           "5 \r\nhello\r\n0\r\n\r\n", "0x5\r\nhello\r\n0\r\n\r\n",
                           "11111111111111111\r\n", "\r\n", "5\nhello\r\n0\r\n\r\n",
                           "5\r\nhelloX\r\n0\r\n\r\n", "5\r\nhello\n0\r\n\r\n",
                           "0\r\n\n", "5;\x01\r\nhello\r\n0\r\n\r\n"}) {
    EXPECT_EQ(rejectStatus(h + body), 400) << body;
  }
  Limits small;
  small.maxBodyBytes = 4;
  EXPECT_EQ(rejectStatus(h + "ffffffffffffffff\r\n", small), 413);
  EXPECT_EQ(rejectStatus(h + "5\r\nhello\r\n0\r\n\r\n", small), 413);
}

TEST(ParserSmugglingTest, ObsFold) {
  EXPECT_EQ(rejectStatus("GET / HTTP/1.1\r\nHost: a\r\nX-A: b\r\n c\r\n\r\n"), 400);
  EXPECT_EQ(rejectStatus("GET / HTTP/1.1\r\nHost: a\r\nX-A: b\r\n\tc\r\n\r\n"), 400);
  EXPECT_EQ(rejectStatus("GET / HTTP/1.1\r\n Host: a\r\n\r\n"), 400);
}

TEST(ParserSmugglingTest, BareCrAndLf) {
  EXPECT_EQ(rejectStatus("GET / HTTP/1.1\nHost: a\r\n\r\n"), 400);
  EXPECT_EQ(rejectStatus("GET / HTTP/1.1\r\nHost: a\nX: y\r\n\r\n"), 400);
  EXPECT_EQ(rejectStatus("GET / HTTP/1.1\r\nHost: a\rX: y\r\n\r\n"), 400);
  EXPECT_EQ(rejectStatus("GET / HTTP/1.1\r\nHost: a\r\n\n"), 400);
  EXPECT_EQ(rejectStatus("GET / HTTP/1.1\r\nX\r: y\r\nHost: a\r\n\r\n"), 400);
  EXPECT_EQ(rejectStatus("\nGET / HTTP/1.1\r\nHost: a\r\n\r\n"), 400);
}

TEST(ParserSmugglingTest, ControlCharsAndBadNames) {
  EXPECT_EQ(rejectStatus(std::string("GET / HTTP/1.1\r\nHost: a\r\nX: a\0b\r\n\r\n", 35)), 400);
  EXPECT_EQ(rejectStatus("GET / HTTP/1.1\r\nHost: a\r\nX: a\x7f\r\n\r\n"), 400);
  EXPECT_EQ(rejectStatus("GET / HTTP/1.1\r\nHost: a\r\nX Y: a\r\n\r\n"), 400);
  EXPECT_EQ(rejectStatus("GET / HTTP/1.1\r\nHost: a\r\n: a\r\n\r\n"), 400);
  EXPECT_EQ(rejectStatus("GET / HTTP/1.1\r\nHost: a\r\nX(: a\r\n\r\n"), 400);
  EXPECT_EQ(rejectStatus("GET / HTTP/1.1\r\nHost: a\r\nnocolon\r\n\r\n"), 400);
}

TEST(ParserSmugglingTest, InvalidMethod) {
  EXPECT_EQ(rejectStatus("G(T / HTTP/1.1\r\nHost: a\r\n\r\n"), 400);
  EXPECT_EQ(rejectStatus(" GET / HTTP/1.1\r\nHost: a\r\n\r\n"), 400);
  EXPECT_EQ(rejectStatus("GET  / HTTP/1.1\r\nHost: a\r\n\r\n"), 400);
  EXPECT_EQ(rejectStatus("GE\x01T / HTTP/1.1\r\nHost: a\r\n\r\n"), 400);
  EXPECT_EQ(rejectStatus(std::string(40, 'A') + " / HTTP/1.1\r\nHost: a\r\n\r\n"), 400);
}

TEST(ParserSmugglingTest, InvalidTarget) {
  for (const char* t : {"a/b", "/a b", "/a#frag", "/\x01", "/\x80", "*", "ftp://x/"}) {
    EXPECT_EQ(rejectStatus(std::string("GET ") + t + " HTTP/1.1\r\nHost: a\r\n\r\n"), 400) << t;
  }
  EXPECT_EQ(rejectStatus("OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n"), 0);
  EXPECT_EQ(rejectStatus("GET http://example/x HTTP/1.1\r\nHost: example\r\n\r\n"), 0);
  EXPECT_EQ(rejectStatus("CONNECT example:443 HTTP/1.1\r\nHost: example:443\r\n\r\n"), 0);
  EXPECT_EQ(rejectStatus("CONNECT /x HTTP/1.1\r\nHost: a\r\n\r\n"), 400);
}

TEST(ParserSmugglingTest, Versions) {
  EXPECT_EQ(rejectStatus("GET / HTTP/2.0\r\nHost: a\r\n\r\n"), 505);
  EXPECT_EQ(rejectStatus("GET / HTTP/1.1 \r\nHost: a\r\n\r\n"), 400);
  EXPECT_EQ(rejectStatus("GET / http/1.1\r\nHost: a\r\n\r\n"), 400);
  EXPECT_EQ(rejectStatus("GET / HTTP/1.10\r\nHost: a\r\n\r\n"), 400);
  EXPECT_EQ(rejectStatus("GET /\r\n\r\n"), 400);
}

TEST(ParserSmugglingTest, HostRules) {
  EXPECT_EQ(rejectStatus("GET / HTTP/1.1\r\n\r\n"), 400);
  EXPECT_EQ(rejectStatus("GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n"), 400);
  EXPECT_EQ(rejectStatus("GET / HTTP/1.1\r\nHost: a b\r\n\r\n"), 400);
  EXPECT_EQ(rejectStatus("GET / HTTP/1.0\r\n\r\n"), 0);
}

TEST(ParserLimitsTest, HeadSizeCountTarget) {
  Limits l;
  l.maxHeadBytes = 128;
  l.maxHeaders = 3;
  l.maxTargetBytes = 32;
  std::string big = "GET / HTTP/1.1\r\nHost: a\r\nX: " + std::string(200, 'x') + "\r\n\r\n";
  EXPECT_EQ(rejectStatus(big, l), 431);
  EXPECT_EQ(rejectStatus("GET / HTTP/1.1\r\nHost: a\r\nA: 1\r\nB: 2\r\nC: 3\r\n\r\n", l), 431);
  EXPECT_EQ(rejectStatus("GET /" + std::string(40, 'a') + " HTTP/1.1\r\nHost: a\r\n\r\n", l), 414);
  l.maxBodyBytes = 10;
  EXPECT_EQ(rejectStatus("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 11\r\n\r\n", l), 413);
  // An unterminated head beyond the limit fails instead of waiting forever.
  Request r;
  EXPECT_EQ(parseRequestHead("GET / HTTP/1.1\r\nHost: a\r\nX: " + std::string(300, 'x'), l, r).errorStatus, 431);
}

TEST(ResponseParserTest, StatusAndFraming) {
  Response r;
  auto p = parseResponseHead("HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabc", {}, r);
  ASSERT_TRUE(p.complete());
  EXPECT_EQ(r.status, 200);
  BodyFraming f;
  ASSERT_TRUE(responseFraming(r, "GET", {}, f).complete());
  EXPECT_EQ(f.kind, BodyFraming::kLength);
  EXPECT_EQ(f.length, 3u);
  ASSERT_TRUE(responseFraming(r, "HEAD", {}, f).complete());
  EXPECT_EQ(f.kind, BodyFraming::kNone);
  ASSERT_TRUE(parseResponseHead("HTTP/1.1 204\r\n\r\n", {}, r).complete());
  ASSERT_TRUE(parseResponseHead("HTTP/1.0 200 OK\r\n\r\n", {}, r).complete());
  EXPECT_FALSE(r.keepAlive);
  ASSERT_TRUE(responseFraming(r, "GET", {}, f).complete());
  EXPECT_EQ(f.kind, BodyFraming::kUntilClose);
  EXPECT_TRUE(parseResponseHead("HTTP/1.1 2000 OK\r\n\r\n", {}, r).failed());
  ASSERT_TRUE(parseResponseHead("HTTP/1.1 200 OK\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n", {}, r).complete());
  EXPECT_TRUE(responseFraming(r, "GET", {}, f).failed());
}

TEST(HeadersTest, SetRemoveReuse) {
  Headers h;
  h.add("A", "1");
  h.add("a", "2");
  h.add("B", "3");
  EXPECT_EQ(h.count("A"), 2u);
  h.set("a", "x");
  EXPECT_EQ(h.count("a"), 1u);
  EXPECT_EQ(h.get("A"), "x");
  EXPECT_EQ(h.get("b"), "3");
  EXPECT_EQ(h.remove("b"), 1u);
  EXPECT_FALSE(h.has("B"));
  h.clear();
  EXPECT_TRUE(h.empty());
  h.add("C", "4");
  EXPECT_EQ(h.get("c"), "4");
}

}  // namespace
}  // namespace berth::http
