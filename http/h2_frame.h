#pragma once
/// HTTP/2 frame layer (RFC 9113 section 4 and 6): constants, the 9-byte frame header, and
/// writers for the control frames. No Boost, no I/O; the connection state machine is in
/// http/h2_session.h.

#include <cstdint>
#include <string>
#include <string_view>

namespace berth::http::h2 {

/// The client connection preface (RFC 9113 3.4), sent before the client's SETTINGS.
inline constexpr std::string_view kPreface = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
inline constexpr size_t kFrameHeaderSize = 9;
inline constexpr uint32_t kDefaultMaxFrameSize = 16384;
inline constexpr uint32_t kMaxMaxFrameSize = 16777215;
inline constexpr uint32_t kDefaultWindow = 65535;
inline constexpr int64_t kMaxWindow = 2147483647;

enum class FrameType : uint8_t {
  kData = 0,
  kHeaders = 1,
  kPriority = 2,
  kRstStream = 3,
  kSettings = 4,
  kPushPromise = 5,
  kPing = 6,
  kGoaway = 7,
  kWindowUpdate = 8,
  kContinuation = 9,
};

namespace flags {
inline constexpr uint8_t kEndStream = 0x1;
inline constexpr uint8_t kAck = 0x1;
inline constexpr uint8_t kEndHeaders = 0x4;
inline constexpr uint8_t kPadded = 0x8;
inline constexpr uint8_t kPriority = 0x20;
}  // namespace flags

/// Error codes of RST_STREAM and GOAWAY (RFC 9113 7).
enum class H2Error : uint32_t {
  kNoError = 0x0,
  kProtocolError = 0x1,
  kInternalError = 0x2,
  kFlowControlError = 0x3,
  kSettingsTimeout = 0x4,
  kStreamClosed = 0x5,
  kFrameSizeError = 0x6,
  kRefusedStream = 0x7,
  kCancel = 0x8,
  kCompressionError = 0x9,
  kConnectError = 0xa,
  kEnhanceYourCalm = 0xb,
  kInadequateSecurity = 0xc,
  kHttp11Required = 0xd,
};
/// "PROTOCOL_ERROR", ...; "UNKNOWN" for codes not listed.
std::string_view errorName(H2Error e);

enum class SettingId : uint16_t {
  kHeaderTableSize = 0x1,
  kEnablePush = 0x2,
  kMaxConcurrentStreams = 0x3,
  kInitialWindowSize = 0x4,
  kMaxFrameSize = 0x5,
  kMaxHeaderListSize = 0x6,
};

struct FrameHeader {
  uint32_t length = 0;  ///< payload length (24 bits)
  uint8_t type = 0;     ///< FrameType, or an unknown type (to be ignored)
  uint8_t flags = 0;
  uint32_t streamId = 0;  ///< the reserved bit is masked off
};

/// Decode a frame header from exactly kFrameHeaderSize bytes.
FrameHeader parseFrameHeader(const uint8_t* p);
/// Append a frame header. `length` must fit in 24 bits.
void appendFrameHeader(std::string& out, uint32_t length, FrameType type, uint8_t flags,
                       uint32_t streamId);

uint32_t readU32(const uint8_t* p);
void appendU32(std::string& out, uint32_t v);

struct Setting {
  SettingId id;
  uint32_t value;
};
void appendSettings(std::string& out, const Setting* settings, size_t n);
void appendSettingsAck(std::string& out);
void appendPing(std::string& out, bool ack, const uint8_t opaque[8]);
void appendWindowUpdate(std::string& out, uint32_t streamId, uint32_t increment);
void appendRstStream(std::string& out, uint32_t streamId, H2Error code);
void appendGoaway(std::string& out, uint32_t lastStreamId, H2Error code, std::string_view debug);

}  // namespace berth::http::h2
