#pragma once
/// One HTTP/2 connection's protocol state (RFC 9113), without I/O: feed it the bytes read from
/// the socket, send what it puts in output(), and act on the events it reports. The same class
/// serves both ends (Role): a server receives requests and submits responses, a client
/// submits requests and receives responses. By default whole messages (headers, body,
/// trailers), bodies buffered up to SessionOptions::maxBodyBytes. With
/// SessionOptions::headersEvents the caller hears of each header block that has a body to
/// come (kHeaders) and may switch that stream to streaming (streamBody): its DATA is then
/// taken piece by piece (takeData), the stream's receive window opening only as it is taken,
/// so a slow reader holds back the peer instead of growing a buffer. Bodies may also be sent
/// piece by piece (`more` on submit, then submitData), e.g. gRPC streaming calls.
///
/// Enforced: the preface and first SETTINGS, frame sizes, CONTINUATION sequencing, stream id
/// rules and states, connection and stream flow control (both directions), SETTINGS values,
/// max concurrent streams, header list size, HPACK errors (COMPRESSION_ERROR), and message
/// validity (RFC 9113 8.1-8.3: pseudo-headers, lower-case names, connection-specific fields,
/// content-length). Connection errors queue a GOAWAY and make receive() return false; stream
/// errors queue a RST_STREAM. PRIORITY is parsed and ignored; server push is disabled.
/// Not thread-safe.

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "http/h2_frame.h"
#include "http/h2_hpack.h"

namespace berth::http::h2 {

struct SessionOptions {
  uint32_t maxConcurrentStreams = 128;      ///< streams the peer may open at once
  uint32_t initialWindowSize = 1u << 20;    ///< per-stream receive window we advertise
  uint32_t connectionWindowSize = 16u << 20;///< connection receive window
  uint32_t maxFrameSize = kDefaultMaxFrameSize;  ///< largest frame we accept
  uint32_t maxHeaderListSize = 64 * 1024;   ///< decoded header list (RFC 9113 accounting)
  uint64_t maxBodyBytes = 8ull << 20;       ///< per message; beyond, the stream is refused
  bool headersEvents = false;               ///< report kHeaders (see streamBody)
};

/// A request (server side) or response (client side) as received, or as submitted.
struct Message {
  std::vector<HeaderField> headers;   ///< pseudo-header fields first
  std::string body;
  std::vector<HeaderField> trailers;  ///< empty if none
};

enum class Role { kClient, kServer };

struct Event {
  enum Kind {
    kMessage,    ///< a whole message arrived on `streamId` (take it with takeMessage)
    kReset,      ///< the stream ended without a message: peer RST_STREAM, or we reset it
                 ///< (malformed, refused); `code` says why
    kTooLarge,   ///< server: headers or body over the limits; answer `status` (431/413)
    kGoaway,     ///< peer sent GOAWAY: streams above `streamId` were not processed
    kHeaders,    ///< (headersEvents) a header block arrived and a body follows: takeHeaders,
                 ///< then streamBody to take the body piece by piece, or wait for kMessage
    kData,       ///< a streamed body has data waiting (takeData)
  };
  Kind kind;
  uint32_t streamId = 0;
  H2Error code = H2Error::kNoError;
  int status = 0;
};

class Session {
 public:
  Session(Role role, SessionOptions options = {});
  ~Session();

  /// Queue our side's preface: (client: the magic string, then) SETTINGS and a connection
  /// WINDOW_UPDATE. Call once, first.
  void start();
  /// Process received bytes (any split). False once the connection has failed: a GOAWAY is
  /// queued (flush output(), then close). Events accumulate in events().
  bool receive(std::string_view data);
  /// Bytes to send; the caller takes them (swap/clear) and writes them in order.
  std::string& output() { return out_; }
  std::vector<Event>& events() { return events_; }
  /// The message of a kMessage event (moved out; the stream forgets it).
  Message takeMessage(uint32_t streamId);

  /// The header block of a kHeaders event (moved out), or a look at it (null if none).
  std::vector<HeaderField> takeHeaders(uint32_t streamId);
  const std::vector<HeaderField>* peekHeaders(uint32_t streamId) const;
  /// The content-length the peer declared on a stream, if any.
  std::optional<uint64_t> declaredLength(uint32_t streamId) const;
  /// Receive this stream's body piece by piece from now on: kData events, takeData; no size
  /// limit (the stream window bounds what is held); the end still comes as kMessage (with
  /// the trailers and whatever body was not taken yet).
  void streamBody(uint32_t streamId);
  /// A streamed body's data received so far (moved out); gives its flow-control credit back.
  std::string takeData(uint32_t streamId);

  /// Client: open a stream carrying `m` (headers must include :method :scheme :authority
  /// :path). Returns the stream id, or 0 if no stream can be opened now (canOpenStream()).
  /// With `more`, the stream stays open after m.body for submitData.
  uint32_t submitRequest(const Message& m, bool more = false);
  /// Server: answer stream `streamId` (headers must start with :status). A response that
  /// ends before the request did resets the rest of the request with NO_ERROR (RFC 9113 8.1).
  /// With `more`, the stream stays open after m.body for submitData.
  void submitResponse(uint32_t streamId, const Message& m, bool more = false);
  /// More body for a stream submitted with `more`; `end` ends it (with `trailers`, if any).
  /// False if the stream is gone (reset, closed) or was not left open.
  bool submitData(uint32_t streamId, std::string_view data, bool end,
                  std::vector<HeaderField> trailers = {});
  /// Body bytes submitted on the stream and not yet framed (waiting for flow-control
  /// window); SIZE_MAX if the stream is gone.
  size_t unsent(uint32_t streamId) const;
  /// Reset a stream (CANCEL for a client giving up, ...). Unknown streams are ignored.
  void resetStream(uint32_t streamId, H2Error code);
  /// Send GOAWAY: graceful with kNoError (streams already open finish), else the connection
  /// is failed. Idempotent.
  void goAway(H2Error code, std::string_view debug = {});

  /// Client: a new stream may be opened (no GOAWAY either way, below the peer's limit).
  bool canOpenStream() const;
  /// Open streams (either end).
  size_t activeStreams() const { return streams_.size(); }
  bool failed() const { return failed_; }
  bool goingAway() const { return goawaySent_ || goawayReceived_; }
  /// The error that failed the connection (for logs): "PROTOCOL_ERROR: ...".
  const std::string& failure() const { return failure_; }
  uint32_t peerMaxConcurrentStreams() const { return peerMaxStreams_; }

  struct Stream;

 private:
  bool frame(const FrameHeader& h, const uint8_t* p);
  bool onData(const FrameHeader& h, const uint8_t* p);
  bool onHeaders(const FrameHeader& h, const uint8_t* p);
  bool onContinuation(const FrameHeader& h, const uint8_t* p);
  bool endHeaderBlock();
  bool onSettings(const FrameHeader& h, const uint8_t* p);
  bool onWindowUpdate(const FrameHeader& h, const uint8_t* p);
  bool onRstStream(const FrameHeader& h, const uint8_t* p);
  bool onGoaway(const FrameHeader& h, const uint8_t* p);
  bool onPing(const FrameHeader& h, const uint8_t* p);
  bool connError(H2Error code, std::string_view why);
  void streamError(uint32_t id, H2Error code);
  void closeStream(uint32_t id);
  void writeHeaders(uint32_t id, const std::vector<HeaderField>& fields, bool endStream);
  void queueBody(Stream& s, const Message& m);
  void flushData();
  void maybeClose(uint32_t id);
  void consumed(Stream* s, size_t n);
  void creditStream(Stream& s, size_t n);
  bool isPeerInitiated(uint32_t id) const;

  Role role_;
  SessionOptions opt_;
  std::string out_;
  std::string in_;  // unprocessed received bytes
  std::vector<Event> events_;
  std::map<uint32_t, std::unique_ptr<Stream>> streams_;
  std::set<uint32_t> resetByUs_;  // recently reset: late frames on them are dropped
  HpackDecoder decoder_;
  HpackEncoder encoder_;
  bool prefaceDone_ = false;     // server: magic received
  bool settingsReceived_ = false;
  bool failed_ = false;
  bool goawaySent_ = false;
  bool goawayReceived_ = false;
  std::string failure_;
  uint32_t nextStreamId_ = 1;    // client
  uint32_t lastPeerStream_ = 0;  // highest stream id the peer opened
  uint32_t peerGoawayLast_ = 0x7fffffff;
  // Header block being assembled (HEADERS + CONTINUATION).
  uint32_t contStream_ = 0;
  bool contEndStream_ = false;
  std::string headerBlock_;
  // Peer settings.
  uint32_t peerMaxStreams_ = 100;  // until the peer says otherwise
  uint32_t peerInitialWindow_ = kDefaultWindow;
  uint32_t peerMaxFrame_ = kDefaultMaxFrameSize;
  uint32_t peerMaxHeaderList_ = UINT32_MAX;
  // Flow control.
  int64_t sendWindow_ = kDefaultWindow;  // connection, toward the peer
  int64_t recvWindow_ = kDefaultWindow;  // connection, from the peer
  int64_t recvUnacked_ = 0;              // consumed but not yet given back
};

/// Validate a received header list (RFC 9113 8.2, 8.3): lower-case token names, no
/// connection-specific fields, `te` only "trailers", pseudo-headers first, known, once, and
/// the required ones present (request: :method :scheme :path, or CONNECT with :authority;
/// response: a 3-digit :status); trailers carry no pseudo-headers. Returns an empty string if
/// valid, else why not.
std::string validateFields(const std::vector<HeaderField>& f, bool request, bool trailers);

}  // namespace berth::http::h2
