#include "http/h2_frame.h"

namespace berth::http::h2 {

std::string_view errorName(H2Error e) {
  switch (e) {
    case H2Error::kNoError: return "NO_ERROR";
    case H2Error::kProtocolError: return "PROTOCOL_ERROR";
    case H2Error::kInternalError: return "INTERNAL_ERROR";
    case H2Error::kFlowControlError: return "FLOW_CONTROL_ERROR";
    case H2Error::kSettingsTimeout: return "SETTINGS_TIMEOUT";
    case H2Error::kStreamClosed: return "STREAM_CLOSED";
    case H2Error::kFrameSizeError: return "FRAME_SIZE_ERROR";
    case H2Error::kRefusedStream: return "REFUSED_STREAM";
    case H2Error::kCancel: return "CANCEL";
    case H2Error::kCompressionError: return "COMPRESSION_ERROR";
    case H2Error::kConnectError: return "CONNECT_ERROR";
    case H2Error::kEnhanceYourCalm: return "ENHANCE_YOUR_CALM";
    case H2Error::kInadequateSecurity: return "INADEQUATE_SECURITY";
    case H2Error::kHttp11Required: return "HTTP_1_1_REQUIRED";
  }
  return "UNKNOWN";
}

uint32_t readU32(const uint8_t* p) {
  return (uint32_t(p[0]) << 24) | (uint32_t(p[1]) << 16) | (uint32_t(p[2]) << 8) | p[3];
}

void appendU32(std::string& out, uint32_t v) {
  char b[4] = {char(v >> 24), char(v >> 16), char(v >> 8), char(v)};
  out.append(b, 4);
}

FrameHeader parseFrameHeader(const uint8_t* p) {
  FrameHeader h;
  h.length = (uint32_t(p[0]) << 16) | (uint32_t(p[1]) << 8) | p[2];
  h.type = p[3];
  h.flags = p[4];
  h.streamId = readU32(p + 5) & 0x7fffffffu;
  return h;
}

void appendFrameHeader(std::string& out, uint32_t length, FrameType type, uint8_t fl,
                       uint32_t streamId) {
  char b[kFrameHeaderSize] = {char(length >> 16), char(length >> 8), char(length),
                              char(type),         char(fl),          0, 0, 0, 0};
  streamId &= 0x7fffffffu;
  b[5] = char(streamId >> 24);
  b[6] = char(streamId >> 16);
  b[7] = char(streamId >> 8);
  b[8] = char(streamId);
  out.append(b, kFrameHeaderSize);
}

void appendSettings(std::string& out, const Setting* s, size_t n) {
  appendFrameHeader(out, uint32_t(n * 6), FrameType::kSettings, 0, 0);
  for (size_t i = 0; i < n; ++i) {
    auto id = static_cast<uint16_t>(s[i].id);
    out.push_back(char(id >> 8));
    out.push_back(char(id));
    appendU32(out, s[i].value);
  }
}

void appendSettingsAck(std::string& out) {
  appendFrameHeader(out, 0, FrameType::kSettings, flags::kAck, 0);
}

void appendPing(std::string& out, bool ack, const uint8_t opaque[8]) {
  appendFrameHeader(out, 8, FrameType::kPing, ack ? flags::kAck : 0, 0);
  out.append(reinterpret_cast<const char*>(opaque), 8);
}

void appendWindowUpdate(std::string& out, uint32_t streamId, uint32_t increment) {
  appendFrameHeader(out, 4, FrameType::kWindowUpdate, 0, streamId);
  appendU32(out, increment & 0x7fffffffu);
}

void appendRstStream(std::string& out, uint32_t streamId, H2Error code) {
  appendFrameHeader(out, 4, FrameType::kRstStream, 0, streamId);
  appendU32(out, static_cast<uint32_t>(code));
}

void appendGoaway(std::string& out, uint32_t lastStreamId, H2Error code, std::string_view debug) {
  appendFrameHeader(out, uint32_t(8 + debug.size()), FrameType::kGoaway, 0, 0);
  appendU32(out, lastStreamId & 0x7fffffffu);
  appendU32(out, static_cast<uint32_t>(code));
  out.append(debug);
}

}  // namespace berth::http::h2
