#pragma once
/// The one strict HTTP/1.1 parser (RFC 9112) of berth: request heads, response heads and
/// chunked bodies. Used by the server, the client, the mesh proxy and the fuzzer; no Boost.
///
/// Strictness (each is an error, never "repaired"): bare CR or LF anywhere in the head,
/// obs-fold (a line starting with SP/HTAB), whitespace between a field name and ':', a field
/// name that is not a token, control characters in values, an invalid method (not a token) or
/// target (not origin/absolute/authority/asterisk form, or with CTL/SP/'#'), a version other
/// than HTTP/1.0 or HTTP/1.1, Content-Length that is not all digits or appears twice,
/// Transfer-Encoding together with Content-Length, Transfer-Encoding twice or in HTTP/1.0,
/// a missing or duplicate Host in HTTP/1.1, bad chunk sizes (non-hex, > 16 digits, overflow,
/// whitespace), and chunk data not followed by CRLF. The parsers are incremental in the sense
/// that they say kIncomplete when the input ends early; the caller appends data and calls
/// again from the start of the message (heads are small and bounded).

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "http/message.h"

namespace berth::http {

/// Size limits. Defaults are what a proxy would choose.
struct Limits {
  size_t maxHeadBytes = 16 * 1024;    ///< request line + header fields (431 beyond)
  size_t maxHeaders = 100;            ///< header field count (431 beyond)
  size_t maxTargetBytes = 8 * 1024;   ///< request-target length (414 beyond)
  uint64_t maxBodyBytes = 8 << 20;    ///< body size, either framing (413 beyond)
};

enum class ParseStatus { kComplete, kIncomplete, kError };

/// Outcome of one parse call. On kError, `errorStatus` is the HTTP status to answer with
/// (400, 413, 414, 417, 431, 501, 505) and `error` a static one-line reason.
struct ParseResult {
  ParseStatus status = ParseStatus::kIncomplete;
  size_t consumed = 0;      ///< bytes of input that belong to the parsed item (on kComplete)
  int errorStatus = 0;
  const char* error = "";

  bool complete() const { return status == ParseStatus::kComplete; }
  bool incomplete() const { return status == ParseStatus::kIncomplete; }
  bool failed() const { return status == ParseStatus::kError; }
};

/// Parse a request head (request-line, fields, empty line) at the start of `data` into `out`
/// (cleared first). Leading empty lines (CRLF) before the request-line are skipped (RFC 9112
/// 2.2). On kComplete, `consumed` counts the head including the final CRLF, and out.chunked /
/// out.contentLength / out.keepAlive / out.expectContinue describe the framing.
ParseResult parseRequestHead(std::string_view data, const Limits& limits, Request& out);

/// Parse a response head (status-line, fields, empty line) into `out` (cleared first).
/// Sets out.status, out.versionMinor, out.keepAlive. Framing is left to responseFraming().
ParseResult parseResponseHead(std::string_view data, const Limits& limits, Response& out);

/// How a response body is delimited.
struct BodyFraming {
  enum Kind { kNone, kLength, kChunked, kUntilClose } kind = kNone;
  uint64_t length = 0;
};
/// Framing of a parsed response to a request with `requestMethod` (RFC 9112 6.3): no body for
/// HEAD, 1xx, 204, 304; else chunked, Content-Length, or until close. kError in the returned
/// status means conflicting or invalid framing fields.
ParseResult responseFraming(const Response& head, std::string_view requestMethod,
                            const Limits& limits, BodyFraming& out);

/// Incremental decoder of a chunked body (chunk sizes, extensions, data, trailer section).
/// Trailer fields are validated like header fields and then dropped.
class ChunkedDecoder {
 public:
  explicit ChunkedDecoder(uint64_t maxBodyBytes = Limits{}.maxBodyBytes,
                          size_t maxTrailerBytes = Limits{}.maxHeadBytes)
      : maxBody_(maxBodyBytes), maxTrailer_(maxTrailerBytes) {}

  /// Decode as much of `in` as possible, appending body bytes to `out`. Returns kComplete
  /// when the last chunk and trailer section are done (consumed = bytes used up to and
  /// including the final CRLF), kIncomplete when all of `in` was used (consumed = in.size()),
  /// or kError (413 when the body exceeds the limit, else 400).
  ParseResult decode(std::string_view in, std::string& out);
  bool done() const { return state_ == kDone; }
  uint64_t bodyBytes() const { return total_; }
  void reset();

 private:
  enum State { kSize, kExt, kSizeLf, kData, kDataCr, kDataLf, kTrailerStart, kTrailer,
               kTrailerLf, kEndLf, kDone };
  State state_ = kSize;
  uint64_t maxBody_;
  size_t maxTrailer_;
  uint64_t chunk_ = 0;      // size of the current chunk / bytes left in it
  int digits_ = 0;          // hex digits of the current size
  size_t extBytes_ = 0;
  size_t trailerBytes_ = 0;
  size_t trailerLine_ = 0;  // bytes in the current trailer line
  bool trailerColon_ = false;
  uint64_t total_ = 0;
};

/// Parse one whole request (head and body of either framing) from `data`. Convenience for
/// tests and the fuzzer; servers use the head parser and a body reader.
ParseResult parseRequest(std::string_view data, const Limits& limits, Request& out);

/// True if `c` is an RFC 9110 tchar.
bool isTokenChar(unsigned char c);
/// True if `s` is a non-empty token.
bool isToken(std::string_view s);

}  // namespace berth::http
