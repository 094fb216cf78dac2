// HTTP/2 codec tests: HPACK against RFC 7541 Appendix C, the Huffman code against Appendix B,
// the frame layer, and two h2::Session ends talking to each other in memory.

#include <gtest/gtest.h>

#include "http/h2_frame.h"
#include "http/h2_hpack.h"
#include "http/h2_session.h"

namespace berth::http::h2 {
namespace {

std::string unhex(std::string_view h) {
  std::string out;
  int hi = -1;
  for (char c : h) {
    int v;
    if (c >= '0' && c <= '9') v = c - '0';
    else if (c >= 'a' && c <= 'f') v = c - 'a' + 10;
    else continue;
    if (hi < 0) hi = v;
    else out.push_back(char(hi * 16 + v)), hi = -1;
  }
  return out;
}

using Fields = std::vector<HeaderField>;

TEST(Hpack, HuffmanCodesMatchAppendixB) {
  struct {
    int sym;
    uint32_t code;
    int bits;
  } cases[] = {{0, 0x1ff8, 13},      {9, 0xffffea, 24},    {10, 0x3ffffffc, 30}, {32, 0x14, 6},
               {47, 0x18, 6},        {58, 0x5c, 7},        {60, 0x7ffc, 15},     {92, 0x7fff0, 19},
               {122, 0x7b, 7},       {125, 0x3ffd, 14},    {126, 0x1ffd, 13},    {127, 0xffffffc, 28},
               {128, 0xfffe6, 20},   {195, 0x7fff1, 19},   {199, 0x1ffffec, 25}, {203, 0x7ffffde, 27},
               {226, 0xfffed, 20},   {230, 0x1fffe8, 21},  {236, 0xfffff4, 24},  {249, 0xffffffe, 28},
               {253, 0x7ffffef, 27}, {254, 0x7fffff0, 27}, {255, 0x3ffffee, 26}, {256, 0x3fffffff, 30}};
  for (auto& c : cases) {
    EXPECT_EQ(huffmanCode(c.sym).code, c.code) << c.sym;
    EXPECT_EQ(huffmanCode(c.sym).bits, c.bits) << c.sym;
  }
}

TEST(Hpack, HuffmanRoundTripAndPaddingErrors) {
  std::string all;
  for (int i = 0; i < 256; ++i) all.push_back(char(i));
  std::string enc, dec;
  huffmanEncode(all, enc);
  ASSERT_TRUE(huffmanDecode(enc, dec));
  EXPECT_EQ(dec, all);
  dec.clear();
  EXPECT_FALSE(huffmanDecode(unhex("f1e3c2e5f23a6ba0ab90f4ff ff"), dec));  // 8+ bits of padding
  dec.clear();
  EXPECT_FALSE(huffmanDecode(unhex("00"), dec));  // '0' (00000) then padding 000: not EOS
  dec.clear();
  EXPECT_FALSE(huffmanDecode(unhex("ffffffff"), dec));  // contains EOS
}

TEST(Hpack, IntegerExamplesC1) {
  std::string out;
  appendInteger(out, 10, 5, 0);
  EXPECT_EQ(out, unhex("0a"));
  out.clear();
  appendInteger(out, 1337, 5, 0);
  EXPECT_EQ(out, unhex("1f9a0a"));
  out.clear();
  appendInteger(out, 42, 8, 0);
  EXPECT_EQ(out, unhex("2a"));
}

TEST(Hpack, FieldExamplesC2) {
  {
    HpackDecoder d;
    Fields f;
    ASSERT_TRUE(d.decode(unhex("400a 6375 7374 6f6d 2d6b 6579 0d63 7573 746f 6d2d 6865 6164 6572"), f));
    EXPECT_EQ(f, (Fields{{"custom-key", "custom-header"}}));
    EXPECT_EQ(d.table().size(), 55u);
  }
  {
    HpackDecoder d;
    Fields f;
    ASSERT_TRUE(d.decode(unhex("040c 2f73 616d 706c 652f 7061 7468"), f));
    EXPECT_EQ(f, (Fields{{":path", "/sample/path"}}));
    EXPECT_EQ(d.table().count(), 0u);
  }
  {
    HpackDecoder d;
    Fields f;
    ASSERT_TRUE(d.decode(unhex("1008 7061 7373 776f 7264 0673 6563 7265 74"), f));
    EXPECT_EQ(f, (Fields{{"password", "secret"}}));
    EXPECT_EQ(d.table().count(), 0u);
  }
  {
    HpackDecoder d;
    Fields f;
    ASSERT_TRUE(d.decode(unhex("82"), f));
    EXPECT_EQ(f, (Fields{{":method", "GET"}}));
  }
}

// C.3 (plain literals) and C.4 (Huffman): three requests on one connection.
void checkRequests(const char* a, const char* b, const char* c) {
  HpackDecoder d;
  Fields f;
  ASSERT_TRUE(d.decode(unhex(a), f));
  EXPECT_EQ(f, (Fields{{":method", "GET"}, {":scheme", "http"}, {":path", "/"},
                       {":authority", "www.example.com"}}));
  EXPECT_EQ(d.table().size(), 57u);
  f.clear();
  ASSERT_TRUE(d.decode(unhex(b), f));
  EXPECT_EQ(f, (Fields{{":method", "GET"}, {":scheme", "http"}, {":path", "/"},
                       {":authority", "www.example.com"}, {"cache-control", "no-cache"}}));
  EXPECT_EQ(d.table().size(), 110u);
  f.clear();
  ASSERT_TRUE(d.decode(unhex(c), f));
  EXPECT_EQ(f, (Fields{{":method", "GET"}, {":scheme", "https"}, {":path", "/index.html"},
                       {":authority", "www.example.com"}, {"custom-key", "custom-value"}}));
  EXPECT_EQ(d.table().size(), 164u);
  ASSERT_EQ(d.table().count(), 3u);
  EXPECT_EQ(d.table().at(0), (HeaderField{"custom-key", "custom-value"}));
  EXPECT_EQ(d.table().at(2), (HeaderField{":authority", "www.example.com"}));
}

TEST(Hpack, RequestsWithoutHuffmanC3) {
  checkRequests("8286 8441 0f77 7777 2e65 7861 6d70 6c65 2e63 6f6d",
                "8286 84be 5808 6e6f 2d63 6163 6865",
                "8287 85bf 400a 6375 7374 6f6d 2d6b 6579 0c63 7573 746f 6d2d 7661 6c75 65");
}

TEST(Hpack, RequestsWithHuffmanC4) {
  checkRequests("8286 8441 8cf1 e3c2 e5f2 3a6b a0ab 90f4 ff", "8286 84be 5886 a8eb 1064 9cbf",
                "8287 85bf 4088 25a8 49e9 5ba9 7d7f 8925 a849 e95b b8e8 b4bf");
}

TEST(Hpack, EncoderMatchesC3AndRoundTrips) {
  HpackEncoder e;
  std::string out;
  e.begin(out);
  for (auto& f : Fields{{":method", "GET"}, {":scheme", "http"}, {":path", "/"},
                        {":authority", "www.example.com"}})
    e.encode(f.name, f.value, out);
  EXPECT_EQ(out, unhex("8286 8441 0f77 7777 2e65 7861 6d70 6c65 2e63 6f6d"));
  // Round trip through a decoder, several blocks sharing the dynamic table.
  HpackDecoder d;
  Fields f;
  ASSERT_TRUE(d.decode(out, f));
  for (int i = 0; i < 50; ++i) {
    Fields in{{":status", "200"}, {"x-n", std::to_string(i % 7)}, {"cookie", "secret"},
              {"content-type", "application/grpc"}};
    std::string blk;
    e.begin(blk);
    for (auto& h : in) e.encode(h.name, h.value, blk, h.name == "cookie");
    Fields got;
    ASSERT_TRUE(d.decode(blk, got));
    EXPECT_EQ(got, in);
  }
}

TEST(Hpack, DecoderErrors) {
  HpackDecoder d(4096);
  Fields f;
  EXPECT_FALSE(d.decode(unhex("80"), f));                  // index 0
  EXPECT_FALSE(d.decode(unhex("be"), f));                  // index 62, empty dynamic table
  EXPECT_FALSE(d.decode(unhex("400a 6375"), f));           // string past the end
  EXPECT_FALSE(d.decode(unhex("3fe21f"), f));              // size update 4096+ > limit
  EXPECT_FALSE(d.decode(unhex("82 3f00"), f));             // size update after a field
  EXPECT_FALSE(d.decode(unhex("ff ff ff ff ff ff ff"), f)); // integer overflow
  HpackDecoder ok;
  Fields g;
  EXPECT_TRUE(ok.decode(unhex("20 82"), g));  // size update to 0 first is fine
  bool tooLarge = false;
  Fields h;
  EXPECT_TRUE(ok.decode(unhex("82 86 84"), h, 70, &tooLarge));
  EXPECT_TRUE(tooLarge);
  EXPECT_EQ(h.size(), 1u);
}

TEST(Frame, HeaderRoundTripAndControlFrames) {
  std::string out;
  appendFrameHeader(out, 0x123456, FrameType::kHeaders, flags::kEndHeaders | flags::kEndStream,
                    0x80000005u);  // the reserved bit is dropped
  ASSERT_EQ(out.size(), kFrameHeaderSize);
  FrameHeader h = parseFrameHeader(reinterpret_cast<const uint8_t*>(out.data()));
  EXPECT_EQ(h.length, 0x123456u);
  EXPECT_EQ(h.type, uint8_t(FrameType::kHeaders));
  EXPECT_EQ(h.flags, flags::kEndHeaders | flags::kEndStream);
  EXPECT_EQ(h.streamId, 5u);
  out.clear();
  appendWindowUpdate(out, 3, 1000);
  EXPECT_EQ(out, unhex("000004 08 00 00000003 000003e8"));
  out.clear();
  appendRstStream(out, 1, H2Error::kCancel);
  EXPECT_EQ(out, unhex("000004 03 00 00000001 00000008"));
  out.clear();
  appendGoaway(out, 7, H2Error::kProtocolError, "x");
  EXPECT_EQ(out, unhex("000009 07 00 00000000 00000007 00000001 78"));
  out.clear();
  Setting s[] = {{SettingId::kMaxConcurrentStreams, 100}};
  appendSettings(out, s, 1);
  EXPECT_EQ(out, unhex("000006 04 00 00000000 0003 00000064"));
}

// --- Session pairs ---------------------------------------------------------------------

struct Pair {
  Session client{Role::kClient};
  Session server{Role::kServer};
  Pair(SessionOptions c = {}, SessionOptions s = {}) : client(Role::kClient, c), server(Role::kServer, s) {
    client.start();
    server.start();
  }
  // Shuttle bytes both ways until quiet. Returns false if either side failed.
  bool pump() {
    for (int i = 0; i < 1000; ++i) {
      std::string a, b;
      a.swap(client.output());
      b.swap(server.output());
      if (a.empty() && b.empty()) return true;
      if (!a.empty() && !server.receive(a)) return false;
      if (!b.empty() && !client.receive(b)) return false;
    }
    return false;
  }
};

Message request(std::string path, std::string body = {}, Fields trailers = {}) {
  Message m;
  m.headers = {{":method", body.empty() ? "GET" : "POST"}, {":scheme", "http"},
               {":authority", "backend"}, {":path", std::move(path)}, {"user-agent", "t"}};
  m.body = std::move(body);
  m.trailers = std::move(trailers);
  return m;
}

TEST(Session, RequestResponseWithTrailers) {
  Pair p;
  uint32_t id = p.client.submitRequest(request("/svc/Method", std::string("\0\0\0\0\1x", 6),
                                               {{"x-end", "1"}}));
  ASSERT_EQ(id, 1u);
  ASSERT_TRUE(p.pump());
  ASSERT_EQ(p.server.events().size(), 1u);
  EXPECT_EQ(p.server.events()[0].kind, Event::kMessage);
  Message req = p.server.takeMessage(id);
  p.server.events().clear();
  EXPECT_EQ(req.headers[3], (HeaderField{":path", "/svc/Method"}));
  EXPECT_EQ(req.body, std::string("\0\0\0\0\1x", 6));
  EXPECT_EQ(req.trailers, (Fields{{"x-end", "1"}}));
  Message resp;
  resp.headers = {{":status", "200"}, {"content-type", "application/grpc"}};
  resp.body = "reply";
  resp.trailers = {{"grpc-status", "0"}, {"grpc-message", "ok"}};
  p.server.submitResponse(id, resp);
  ASSERT_TRUE(p.pump());
  ASSERT_EQ(p.client.events().size(), 1u);
  EXPECT_EQ(p.client.events()[0].kind, Event::kMessage);
  Message got = p.client.takeMessage(id);
  EXPECT_EQ(got.headers, resp.headers);
  EXPECT_EQ(got.body, "reply");
  EXPECT_EQ(got.trailers, resp.trailers);
  EXPECT_EQ(p.client.activeStreams(), 0u);
  EXPECT_EQ(p.server.activeStreams(), 0u);
}

TEST(Session, FlowControlLargeBodiesBothWays) {
  SessionOptions small;
  small.initialWindowSize = 65535;
  small.connectionWindowSize = 65535;
  Pair p(small, small);
  std::string big(300000, 'a');
  for (size_t i = 0; i < big.size(); ++i) big[i] = char('a' + i % 26);
  uint32_t id = p.client.submitRequest(request("/up", big));
  ASSERT_TRUE(p.pump());
  ASSERT_EQ(p.server.events().size(), 1u);
  EXPECT_EQ(p.server.takeMessage(id).body, big);
  Message resp;
  resp.headers = {{":status", "200"}};
  resp.body = big + big;
  p.server.submitResponse(id, resp);
  ASSERT_TRUE(p.pump());
  ASSERT_EQ(p.client.events().size(), 1u);
  EXPECT_EQ(p.client.takeMessage(id).body, big + big);
}

// Streamed both ways (a gRPC bidirectional call): the receiver takes the body piece by piece
// and the sender's window opens only as it does; the answer starts before the request ends.
TEST(Session, StreamedBodiesBothWaysOpenTheWindowAsTaken) {
  SessionOptions o;
  o.initialWindowSize = 65535;
  o.headersEvents = true;
  Pair p(o, o);
  Message req = request("/pkg.Echo/Bidi");
  req.headers[0].value = "POST";
  uint32_t id = p.client.submitRequest(req, true);
  ASSERT_TRUE(p.pump());
  ASSERT_EQ(p.server.events().size(), 1u);
  EXPECT_EQ(p.server.events()[0].kind, Event::kHeaders);
  p.server.events().clear();
  EXPECT_EQ(p.server.takeHeaders(id)[3], (HeaderField{":path", "/pkg.Echo/Bidi"}));
  p.server.streamBody(id);

  ASSERT_TRUE(p.client.submitData(id, std::string(100000, 'x'), false));
  ASSERT_TRUE(p.pump());
  EXPECT_EQ(p.server.events().back().kind, Event::kData);
  p.server.events().clear();
  EXPECT_EQ(p.client.unsent(id), 100000u - 65535u);  // the server has not taken any yet
  EXPECT_EQ(p.server.takeData(id).size(), 65535u);
  ASSERT_TRUE(p.pump());
  EXPECT_EQ(p.client.unsent(id), 0u);  // taking it gave the window back
  EXPECT_EQ(p.server.takeData(id).size(), 100000u - 65535u);
  p.server.events().clear();

  Message head;
  head.headers = {{":status", "200"}, {"content-type", "application/grpc"}};
  p.server.submitResponse(id, head, true);
  ASSERT_TRUE(p.server.submitData(id, "echo1", false));
  ASSERT_TRUE(p.pump());
  ASSERT_EQ(p.client.events().size(), 1u);  // the head; its data is held (not streamed yet)
  EXPECT_EQ(p.client.events()[0].kind, Event::kHeaders);
  p.client.events().clear();
  p.client.streamBody(id);
  EXPECT_EQ(p.client.takeData(id), "echo1");

  ASSERT_TRUE(p.client.submitData(id, "last", true, {{"x-end", "1"}}));
  ASSERT_TRUE(p.pump());
  ASSERT_EQ(p.server.events().size(), 2u);
  EXPECT_EQ(p.server.events()[1].kind, Event::kMessage);
  p.server.events().clear();
  Message rest = p.server.takeMessage(id);
  EXPECT_EQ(rest.body, "last");
  EXPECT_EQ(rest.trailers, (Fields{{"x-end", "1"}}));
  EXPECT_FALSE(p.client.submitData(id, "more", false));  // the request is over

  ASSERT_TRUE(p.server.submitData(id, "echo2", true, {{"grpc-status", "0"}}));
  ASSERT_TRUE(p.pump());
  ASSERT_FALSE(p.client.events().empty());
  EXPECT_EQ(p.client.events().back().kind, Event::kMessage);
  Message end = p.client.takeMessage(id);
  EXPECT_EQ(end.body, "echo2");
  EXPECT_EQ(end.trailers, (Fields{{"grpc-status", "0"}}));
  EXPECT_EQ(p.client.activeStreams(), 0u);
  EXPECT_EQ(p.server.activeStreams(), 0u);
}

TEST(Session, ManyConcurrentStreamsAndLargeHeaders) {
  Pair p;
  std::vector<uint32_t> ids;
  for (int i = 0; i < 20; ++i) {
    Message m = request("/s" + std::to_string(i));
    m.headers.push_back({"x-big", std::string(40000, 'h')});  // HEADERS + CONTINUATION
    ids.push_back(p.client.submitRequest(m));
  }
  ASSERT_TRUE(p.pump());
  ASSERT_EQ(p.server.events().size(), 20u);
  for (int i = 19; i >= 0; --i) {  // answered out of order
    Message req = p.server.takeMessage(ids[i]);
    ASSERT_EQ(req.headers[3].value, "/s" + std::to_string(i));
    Message r;
    r.headers = {{":status", "200"}};
    r.body = req.headers[3].value;
    p.server.submitResponse(ids[i], r);
  }
  ASSERT_TRUE(p.pump());
  ASSERT_EQ(p.client.events().size(), 20u);
  for (int i = 0; i < 20; ++i) EXPECT_EQ(p.client.takeMessage(ids[i]).body, "/s" + std::to_string(i));
}

// Feed raw bytes to a fresh server session (after the preface and an empty SETTINGS).
struct RawServer {
  Session s{Role::kServer};
  RawServer() {
    s.start();
    std::string in(kPreface);
    appendSettings(in, nullptr, 0);
    EXPECT_TRUE(s.receive(in));
    s.output().clear();
  }
  // The GOAWAY error code in the output, or -1.
  int goawayCode() {
    const std::string& o = s.output();
    for (size_t i = 0; i + kFrameHeaderSize <= o.size();) {
      FrameHeader h = parseFrameHeader(reinterpret_cast<const uint8_t*>(o.data() + i));
      if (h.type == uint8_t(FrameType::kGoaway))
        return int(readU32(reinterpret_cast<const uint8_t*>(o.data() + i + 13)));
      i += kFrameHeaderSize + h.length;
    }
    return -1;
  }
  int rstCode(uint32_t stream) {
    const std::string& o = s.output();
    for (size_t i = 0; i + kFrameHeaderSize <= o.size();) {
      FrameHeader h = parseFrameHeader(reinterpret_cast<const uint8_t*>(o.data() + i));
      if (h.type == uint8_t(FrameType::kRstStream) && h.streamId == stream)
        return int(readU32(reinterpret_cast<const uint8_t*>(o.data() + i + 9)));
      i += kFrameHeaderSize + h.length;
    }
    return -1;
  }
};

std::string headersFrame(uint32_t id, const Fields& f, uint8_t fl = flags::kEndHeaders | flags::kEndStream) {
  HpackEncoder e;
  std::string blk;
  for (auto& h : f) e.encode(h.name, h.value, blk);
  std::string out;
  appendFrameHeader(out, uint32_t(blk.size()), FrameType::kHeaders, fl, id);
  return out + blk;
}

const Fields kGet{{":method", "GET"}, {":scheme", "http"}, {":path", "/"}, {":authority", "a"}};

TEST(SessionErrors, BadPrefaceAndFirstFrame) {
  Session s(Role::kServer);
  s.start();
  EXPECT_FALSE(s.receive("GET / HTTP/1.1\r\n\r\n"));
  Session t(Role::kServer);
  t.start();
  std::string in(kPreface);
  appendPing(in, false, reinterpret_cast<const uint8_t*>("12345678"));
  EXPECT_FALSE(t.receive(in));  // first frame must be SETTINGS
}

TEST(SessionErrors, ConnectionErrorsSendGoaway) {
  struct Case {
    const char* name;
    std::string bytes;
    H2Error code;
  };
  std::string dataOn0;
  appendFrameHeader(dataOn0, 1, FrameType::kData, 0, 0);
  dataOn0 += "x";
  std::string badHpack;
  appendFrameHeader(badHpack, 1, FrameType::kHeaders, flags::kEndHeaders, 1);
  badHpack += '\x80';
  std::string interleaved = headersFrame(1, kGet, flags::kEndStream);  // no END_HEADERS
  interleaved += headersFrame(3, kGet);
  std::string tooBig;
  appendFrameHeader(tooBig, 16385, FrameType::kData, 0, 1);
  std::string pingLen;
  appendFrameHeader(pingLen, 4, FrameType::kPing, 0, 0);
  pingLen += "abcd";
  std::string evenStream = headersFrame(2, kGet);
  std::string wu0;
  appendWindowUpdate(wu0, 0, 0);
  std::string badSetting;
  Setting st[] = {{SettingId::kMaxFrameSize, 100}};
  appendSettings(badSetting, st, 1);
  std::string push;
  appendFrameHeader(push, 4, FrameType::kPushPromise, flags::kEndHeaders, 1);
  push += std::string(4, '\0');
  std::string dataIdle;
  appendFrameHeader(dataIdle, 1, FrameType::kData, 0, 5);
  dataIdle += "x";
  std::vector<Case> cases = {
      {"DATA on stream 0", dataOn0, H2Error::kProtocolError},
      {"bad HPACK index", badHpack, H2Error::kCompressionError},
      {"interrupted header block", interleaved, H2Error::kProtocolError},
      {"frame over max size", tooBig, H2Error::kFrameSizeError},
      {"PING of 4 bytes", pingLen, H2Error::kFrameSizeError},
      {"even stream from client", evenStream, H2Error::kProtocolError},
      {"WINDOW_UPDATE 0 on connection", wu0, H2Error::kProtocolError},
      {"bad MAX_FRAME_SIZE", badSetting, H2Error::kProtocolError},
      {"PUSH_PROMISE from client", push, H2Error::kProtocolError},
      {"DATA on idle stream", dataIdle, H2Error::kProtocolError},
  };
  for (auto& c : cases) {
    RawServer r;
    EXPECT_FALSE(r.s.receive(c.bytes)) << c.name;
    EXPECT_EQ(r.goawayCode(), int(c.code)) << c.name;
    EXPECT_TRUE(r.s.failed()) << c.name;
  }
}

TEST(SessionErrors, MalformedRequestsResetTheStream) {
  std::vector<std::pair<const char*, Fields>> cases = {
      {"upper-case name", {{":method", "GET"}, {":scheme", "http"}, {":path", "/"}, {"X-A", "1"}}},
      {"missing :path", {{":method", "GET"}, {":scheme", "http"}}},
      {"pseudo after regular", {{":method", "GET"}, {"a", "1"}, {":scheme", "http"}, {":path", "/"}}},
      {"connection field", {{":method", "GET"}, {":scheme", "http"}, {":path", "/"}, {"connection", "x"}}},
      {"te gzip", {{":method", "GET"}, {":scheme", "http"}, {":path", "/"}, {"te", "gzip"}}},
      {"unknown pseudo", {{":method", "GET"}, {":scheme", "http"}, {":path", "/"}, {":foo", "1"}}},
      {"response pseudo", {{":method", "GET"}, {":scheme", "http"}, {":path", "/"}, {":status", "200"}}},
  };
  for (auto& [name, f] : cases) {
    RawServer r;
    EXPECT_TRUE(r.s.receive(headersFrame(1, f))) << name;
    EXPECT_EQ(r.rstCode(1), int(H2Error::kProtocolError)) << name;
    for (auto& e : r.s.events()) EXPECT_NE(e.kind, Event::kMessage) << name;
  }
  // content-length that the body does not match
  RawServer r;
  Fields f = kGet;
  f.push_back({"content-length", "5"});
  std::string in = headersFrame(1, f, flags::kEndHeaders);
  appendFrameHeader(in, 2, FrameType::kData, flags::kEndStream, 1);
  in += "ab";
  EXPECT_TRUE(r.s.receive(in));
  EXPECT_EQ(r.rstCode(1), int(H2Error::kProtocolError));
}

TEST(SessionErrors, LimitsRefuseStreamsAndAnswerTooLarge) {
  SessionOptions o;
  o.maxConcurrentStreams = 2;
  o.maxHeaderListSize = 200;
  Session s(Role::kServer, o);
  s.start();
  std::string in(kPreface);
  appendSettings(in, nullptr, 0);
  in += headersFrame(1, kGet, flags::kEndHeaders);  // open, body pending
  in += headersFrame(3, kGet, flags::kEndHeaders);
  in += headersFrame(5, kGet, flags::kEndHeaders);  // third: refused
  ASSERT_TRUE(s.receive(in));
  EXPECT_NE(s.output().find(std::string("\x00\x00\x04\x03\x00\x00\x00\x00\x05\x00\x00\x00\x07", 13)),
            std::string::npos);
  Session t(Role::kServer, o);
  t.start();
  std::string in2(kPreface);
  appendSettings(in2, nullptr, 0);
  Fields big = kGet;
  big.push_back({"x-big", std::string(300, 'a')});
  in2 += headersFrame(1, big);
  ASSERT_TRUE(t.receive(in2));
  ASSERT_EQ(t.events().size(), 1u);
  EXPECT_EQ(t.events()[0].kind, Event::kTooLarge);
  EXPECT_EQ(t.events()[0].status, 431);
}

TEST(SessionErrors, FlowControlViolation) {
  SessionOptions o;
  o.initialWindowSize = 65535;
  o.connectionWindowSize = 65535;
  o.maxFrameSize = 70000;
  Session s(Role::kServer, o);
  s.start();
  std::string in(kPreface);
  appendSettings(in, nullptr, 0);
  in += headersFrame(1, kGet, flags::kEndHeaders);
  appendFrameHeader(in, 65536, FrameType::kData, 0, 1);
  in += std::string(65536, 'x');
  EXPECT_FALSE(s.receive(in));
  EXPECT_NE(s.failure().find("FLOW_CONTROL_ERROR"), std::string::npos);
}

TEST(Session, PingAndGoaway) {
  Pair p;
  ASSERT_TRUE(p.pump());
  std::string ping;
  appendPing(ping, false, reinterpret_cast<const uint8_t*>("abcdefgh"));
  ASSERT_TRUE(p.server.receive(ping));
  EXPECT_NE(p.server.output().find("abcdefgh"), std::string::npos);
  p.server.output().clear();
  uint32_t a = p.client.submitRequest(request("/a"));
  ASSERT_TRUE(p.pump());
  p.server.goAway(H2Error::kNoError);
  uint32_t b = p.client.submitRequest(request("/b"));  // sent before the client saw GOAWAY
  ASSERT_TRUE(p.pump());
  // The server refuses b (above its GOAWAY), still answers a.
  bool bReset = false;
  for (auto& e : p.client.events())
    if (e.streamId == b && e.kind == Event::kReset) bReset = true;
  EXPECT_TRUE(bReset);
  EXPECT_FALSE(p.client.canOpenStream());
  Message r;
  r.headers = {{":status", "204"}};
  p.server.takeMessage(a);
  p.server.submitResponse(a, r);
  ASSERT_TRUE(p.pump());
  EXPECT_EQ(p.server.activeStreams(), 0u);
}

}  // namespace
}  // namespace berth::http::h2
