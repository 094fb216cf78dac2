// HTTP/2 connection state machine (RFC 9113). See h2_session.h for the contract.

#include "http/h2_session.h"

#include <algorithm>
#include <cstring>
#include <optional>

namespace berth::http::h2 {

struct Session::Stream {
  uint32_t id = 0;
  bool recvHeadersDone = false;  // final (non-1xx) header block received
  bool recvEnded = false;
  bool sendEnded = false;
  bool rejected = false;         // answered 413/431 by us: the rest of the request is dropped
  bool outPending = false;
  bool outMore = false;          // submitted with `more`: submitData adds to the body
  bool streamed = false;         // streamBody: the body is taken piece by piece
  uint64_t uncredited = 0;       // streamed: bytes received, stream credit not yet given back
  bool headRequest = false;      // client: the response has no body whatever content-length says
  Message in;
  std::optional<uint64_t> contentLength;
  uint64_t received = 0;
  int64_t sendWindow = 0;
  int64_t recvWindow = 0;
  int64_t recvUnacked = 0;
  std::string outBody;
  size_t outOff = 0;
  std::vector<HeaderField> outTrailers;
};

namespace {

bool isTokenChar(unsigned char c) {
  if (c >= 'a' && c <= 'z') return true;
  if (c >= '0' && c <= '9') return true;
  return std::strchr("!#$%&'*+-.^_`|~", c) != nullptr && c != 0;
}

bool isConnectionSpecific(std::string_view n) {
  return n == "connection" || n == "keep-alive" || n == "proxy-connection" ||
         n == "transfer-encoding" || n == "upgrade";
}

// content-length: digits only; several fields must agree. nullopt+ok: absent.
bool parseContentLength(const std::vector<HeaderField>& f, std::optional<uint64_t>& out) {
  for (const auto& h : f) {
    if (h.name != "content-length") continue;
    if (h.value.empty() || h.value.size() > 19) return false;
    uint64_t v = 0;
    for (char c : h.value) {
      if (c < '0' || c > '9') return false;
      v = v * 10 + uint64_t(c - '0');
    }
    if (out && *out != v) return false;
    out = v;
  }
  return true;
}

}  // namespace

std::string validateFields(const std::vector<HeaderField>& f, bool request, bool trailers) {
  bool regular = false;
  bool method = false, scheme = false, path = false, authority = false, status = false;
  bool connect = false;
  for (const auto& h : f) {
    if (h.name.empty()) return "empty field name";
    for (char c : h.value) {
      if (c == '\0' || c == '\r' || c == '\n') return "bad character in the value of " + h.name;
    }
    if (!h.value.empty() && (h.value.front() == ' ' || h.value.front() == '\t' ||
                             h.value.back() == ' ' || h.value.back() == '\t'))
      return "white space around the value of " + h.name;
    if (h.name[0] == ':') {
      if (trailers) return "pseudo-header " + h.name + " in trailers";
      if (regular) return "pseudo-header " + h.name + " after a regular field";
      bool* seen = nullptr;
      if (request) {
        if (h.name == ":method") seen = &method, connect = h.value == "CONNECT";
        else if (h.name == ":scheme") seen = &scheme;
        else if (h.name == ":path") seen = &path;
        else if (h.name == ":authority") seen = &authority;
      } else if (h.name == ":status") {
        seen = &status;
      }
      if (!seen) return "unknown pseudo-header " + h.name;
      if (*seen) return "repeated pseudo-header " + h.name;
      *seen = true;
      if (h.name == ":path" && h.value.empty()) return "empty :path";
      if (h.name == ":status" && (h.value.size() != 3 || !std::all_of(h.value.begin(), h.value.end(),
                                                                      [](char c) { return c >= '0' && c <= '9'; })))
        return "bad :status";
      continue;
    }
    regular = true;
    for (char c : h.name) {
      if (c >= 'A' && c <= 'Z') return "upper-case field name " + h.name;
      if (!isTokenChar(static_cast<unsigned char>(c))) return "bad field name";
    }
    if (isConnectionSpecific(h.name)) return "connection-specific field " + h.name;
    if (h.name == "te" && h.value != "trailers") return "te other than trailers";
  }
  if (trailers) return {};
  if (request) {
    if (!method) return "missing :method";
    if (connect) {
      if (!authority || scheme || path) return "bad CONNECT request";
    } else if (!scheme || !path) {
      return "missing :scheme or :path";
    }
  } else if (!status) {
    return "missing :status";
  }
  return {};
}

Session::Session(Role role, SessionOptions options)
    : role_(role), opt_(options), decoder_(4096) {
  if (opt_.maxFrameSize < kDefaultMaxFrameSize) opt_.maxFrameSize = kDefaultMaxFrameSize;
  if (opt_.maxFrameSize > kMaxMaxFrameSize) opt_.maxFrameSize = kMaxMaxFrameSize;
  nextStreamId_ = role == Role::kClient ? 1 : 2;
}

Session::~Session() = default;

void Session::start() {
  if (role_ == Role::kClient) out_.append(kPreface);
  Setting s[] = {
      {SettingId::kEnablePush, 0},
      {SettingId::kMaxConcurrentStreams, opt_.maxConcurrentStreams},
      {SettingId::kInitialWindowSize, opt_.initialWindowSize},
      {SettingId::kMaxFrameSize, opt_.maxFrameSize},
      {SettingId::kMaxHeaderListSize, opt_.maxHeaderListSize},
  };
  appendSettings(out_, s, std::size(s));
  if (opt_.connectionWindowSize > kDefaultWindow) {
    appendWindowUpdate(out_, 0, opt_.connectionWindowSize - kDefaultWindow);
    recvWindow_ = opt_.connectionWindowSize;
  }
}

bool Session::receive(std::string_view data) {
  if (failed_) return false;
  in_.append(data);
  size_t pos = 0;
  if (role_ == Role::kServer && !prefaceDone_) {
    size_t n = std::min(in_.size(), kPreface.size());
    if (std::memcmp(in_.data(), kPreface.data(), n) != 0)
      return connError(H2Error::kProtocolError, "bad connection preface");
    if (in_.size() < kPreface.size()) return true;
    pos = kPreface.size();
    prefaceDone_ = true;
  }
  while (in_.size() - pos >= kFrameHeaderSize) {
    const auto* p = reinterpret_cast<const uint8_t*>(in_.data()) + pos;
    FrameHeader h = parseFrameHeader(p);
    if (h.length > opt_.maxFrameSize)
      return connError(H2Error::kFrameSizeError, "frame larger than SETTINGS_MAX_FRAME_SIZE");
    if (in_.size() - pos - kFrameHeaderSize < h.length) break;
    if (!frame(h, p + kFrameHeaderSize)) {
      in_.clear();
      return false;
    }
    pos += kFrameHeaderSize + h.length;
  }
  in_.erase(0, pos);
  flushData();
  return !failed_;
}

bool Session::connError(H2Error code, std::string_view why) {
  if (!failed_) {
    failure_ = std::string(errorName(code)) + ": " + std::string(why);
    goAway(code, why);
    failed_ = true;
  }
  return false;
}

void Session::goAway(H2Error code, std::string_view debug) {
  if (goawaySent_) {
    if (code != H2Error::kNoError) failed_ = true;
    return;
  }
  goawaySent_ = true;
  appendGoaway(out_, role_ == Role::kServer ? lastPeerStream_ : 0, code, debug);
  if (code != H2Error::kNoError) failed_ = true;
}

bool Session::isPeerInitiated(uint32_t id) const {
  return (role_ == Role::kServer) == ((id & 1u) == 1u);
}

void Session::streamError(uint32_t id, H2Error code) {
  appendRstStream(out_, id, code);
  resetByUs_.insert(id);
  if (resetByUs_.size() > 1024) resetByUs_.erase(resetByUs_.begin());
  if (streams_.erase(id)) events_.push_back({Event::kReset, id, code, 0});
}

void Session::closeStream(uint32_t id) { streams_.erase(id); }

bool Session::frame(const FrameHeader& h, const uint8_t* p) {
  auto type = static_cast<FrameType>(h.type);
  if (!settingsReceived_ && (type != FrameType::kSettings || (h.flags & flags::kAck)))
    return connError(H2Error::kProtocolError, "the first frame is not SETTINGS");
  if (contStream_ && (type != FrameType::kContinuation || h.streamId != contStream_))
    return connError(H2Error::kProtocolError, "a header block was interrupted");
  switch (type) {
    case FrameType::kData: return onData(h, p);
    case FrameType::kHeaders: return onHeaders(h, p);
    case FrameType::kContinuation: return onContinuation(h, p);
    case FrameType::kSettings: return onSettings(h, p);
    case FrameType::kWindowUpdate: return onWindowUpdate(h, p);
    case FrameType::kRstStream: return onRstStream(h, p);
    case FrameType::kGoaway: return onGoaway(h, p);
    case FrameType::kPing: return onPing(h, p);
    case FrameType::kPriority:
      if (h.streamId == 0) return connError(H2Error::kProtocolError, "PRIORITY on stream 0");
      if (h.length != 5) streamError(h.streamId, H2Error::kFrameSizeError);
      else if ((readU32(p) & 0x7fffffffu) == h.streamId)
        streamError(h.streamId, H2Error::kProtocolError);
      return true;
    case FrameType::kPushPromise:
      return connError(H2Error::kProtocolError, "PUSH_PROMISE (push is disabled)");
  }
  return true;  // unknown frame types are ignored (RFC 9113 4.1)
}

bool Session::onSettings(const FrameHeader& h, const uint8_t* p) {
  if (h.streamId != 0) return connError(H2Error::kProtocolError, "SETTINGS on a stream");
  if (h.flags & flags::kAck) {
    if (h.length != 0) return connError(H2Error::kFrameSizeError, "SETTINGS ack with a payload");
    return true;
  }
  if (h.length % 6) return connError(H2Error::kFrameSizeError, "SETTINGS length not a multiple of 6");
  for (uint32_t off = 0; off < h.length; off += 6) {
    uint16_t id = uint16_t((p[off] << 8) | p[off + 1]);
    uint32_t v = readU32(p + off + 2);
    switch (static_cast<SettingId>(id)) {
      case SettingId::kHeaderTableSize: encoder_.setPeerMaxTableSize(v); break;
      case SettingId::kEnablePush:
        if (v > 1 || (role_ == Role::kClient && v == 1))
          return connError(H2Error::kProtocolError, "bad SETTINGS_ENABLE_PUSH");
        break;
      case SettingId::kMaxConcurrentStreams: peerMaxStreams_ = v; break;
      case SettingId::kInitialWindowSize: {
        if (v > uint32_t(kMaxWindow))
          return connError(H2Error::kFlowControlError, "SETTINGS_INITIAL_WINDOW_SIZE too large");
        int64_t delta = int64_t(v) - int64_t(peerInitialWindow_);
        for (auto& [sid, s] : streams_) {
          s->sendWindow += delta;
          if (s->sendWindow > kMaxWindow)
            return connError(H2Error::kFlowControlError, "stream window overflow");
        }
        peerInitialWindow_ = v;
        break;
      }
      case SettingId::kMaxFrameSize:
        if (v < kDefaultMaxFrameSize || v > kMaxMaxFrameSize)
          return connError(H2Error::kProtocolError, "bad SETTINGS_MAX_FRAME_SIZE");
        peerMaxFrame_ = v;
        break;
      case SettingId::kMaxHeaderListSize: peerMaxHeaderList_ = v; break;
      default: break;  // unknown settings are ignored
    }
  }
  settingsReceived_ = true;
  appendSettingsAck(out_);
  return true;
}

bool Session::onPing(const FrameHeader& h, const uint8_t* p) {
  if (h.streamId != 0) return connError(H2Error::kProtocolError, "PING on a stream");
  if (h.length != 8) return connError(H2Error::kFrameSizeError, "PING length not 8");
  if (!(h.flags & flags::kAck)) appendPing(out_, true, p);
  return true;
}

bool Session::onGoaway(const FrameHeader& h, const uint8_t* p) {
  if (h.streamId != 0) return connError(H2Error::kProtocolError, "GOAWAY on a stream");
  if (h.length < 8) return connError(H2Error::kFrameSizeError, "GOAWAY shorter than 8 bytes");
  uint32_t last = readU32(p) & 0x7fffffffu;
  auto code = static_cast<H2Error>(readU32(p + 4));
  goawayReceived_ = true;
  peerGoawayLast_ = std::min(peerGoawayLast_, last);
  // Our streams above `last` were never processed: safe to retry elsewhere.
  for (auto it = streams_.begin(); it != streams_.end();) {
    if (!isPeerInitiated(it->first) && it->first > last) {
      events_.push_back({Event::kReset, it->first, H2Error::kRefusedStream, 0});
      it = streams_.erase(it);
    } else {
      ++it;
    }
  }
  events_.push_back({Event::kGoaway, last, code, 0});
  return true;
}

bool Session::onWindowUpdate(const FrameHeader& h, const uint8_t* p) {
  if (h.length != 4) return connError(H2Error::kFrameSizeError, "WINDOW_UPDATE length not 4");
  uint32_t inc = readU32(p) & 0x7fffffffu;
  if (h.streamId == 0) {
    if (inc == 0) return connError(H2Error::kProtocolError, "WINDOW_UPDATE of 0");
    sendWindow_ += inc;
    if (sendWindow_ > kMaxWindow) return connError(H2Error::kFlowControlError, "window overflow");
    return true;
  }
  bool idle = isPeerInitiated(h.streamId) ? h.streamId > lastPeerStream_
                                          : h.streamId >= nextStreamId_;
  if (idle) return connError(H2Error::kProtocolError, "WINDOW_UPDATE on an idle stream");
  auto it = streams_.find(h.streamId);
  if (it == streams_.end()) return true;
  if (inc == 0) {
    streamError(h.streamId, H2Error::kProtocolError);
    return true;
  }
  it->second->sendWindow += inc;
  if (it->second->sendWindow > kMaxWindow) streamError(h.streamId, H2Error::kFlowControlError);
  return true;
}

bool Session::onRstStream(const FrameHeader& h, const uint8_t* p) {
  if (h.streamId == 0) return connError(H2Error::kProtocolError, "RST_STREAM on stream 0");
  if (h.length != 4) return connError(H2Error::kFrameSizeError, "RST_STREAM length not 4");
  bool idle = isPeerInitiated(h.streamId) ? h.streamId > lastPeerStream_
                                          : h.streamId >= nextStreamId_;
  if (idle) return connError(H2Error::kProtocolError, "RST_STREAM on an idle stream");
  if (streams_.erase(h.streamId))
    events_.push_back({Event::kReset, h.streamId, static_cast<H2Error>(readU32(p)), 0});
  return true;
}

void Session::consumed(Stream* s, size_t n) {
  recvUnacked_ += int64_t(n);
  if (recvUnacked_ >= int64_t(opt_.connectionWindowSize / 2)) {
    appendWindowUpdate(out_, 0, uint32_t(recvUnacked_));
    recvWindow_ += recvUnacked_;
    recvUnacked_ = 0;
  }
  if (s) creditStream(*s, n);
}

void Session::creditStream(Stream& s, size_t n) {
  if (s.recvEnded) return;
  s.recvUnacked += int64_t(n);
  if (s.recvUnacked >= int64_t(opt_.initialWindowSize / 2)) {
    appendWindowUpdate(out_, s.id, uint32_t(s.recvUnacked));
    s.recvWindow += s.recvUnacked;
    s.recvUnacked = 0;
  }
}

bool Session::onData(const FrameHeader& h, const uint8_t* p) {
  if (h.streamId == 0) return connError(H2Error::kProtocolError, "DATA on stream 0");
  size_t off = 0, len = h.length;
  if (h.flags & flags::kPadded) {
    if (len < 1 || p[0] >= len) return connError(H2Error::kProtocolError, "bad DATA padding");
    off = 1;
    len = h.length - 1 - p[0];
  }
  if (int64_t(h.length) > recvWindow_)
    return connError(H2Error::kFlowControlError, "DATA beyond the connection window");
  recvWindow_ -= h.length;
  auto it = streams_.find(h.streamId);
  if (it == streams_.end()) {
    bool idle = isPeerInitiated(h.streamId) ? h.streamId > lastPeerStream_
                                            : h.streamId >= nextStreamId_;
    if (idle) return connError(H2Error::kProtocolError, "DATA on an idle stream");
    consumed(nullptr, h.length);
    if (!resetByUs_.count(h.streamId)) streamError(h.streamId, H2Error::kStreamClosed);
    return true;
  }
  Stream& s = *it->second;
  if (!s.recvHeadersDone || s.recvEnded) {
    consumed(nullptr, h.length);
    streamError(h.streamId, s.recvEnded ? H2Error::kStreamClosed : H2Error::kProtocolError);
    return true;
  }
  if (int64_t(h.length) > s.recvWindow) {
    consumed(nullptr, h.length);
    streamError(h.streamId, H2Error::kFlowControlError);
    return true;
  }
  s.recvWindow -= h.length;
  s.received += len;
  bool end = h.flags & flags::kEndStream;
  if (s.contentLength && (s.received > *s.contentLength || (end && s.received != *s.contentLength))) {
    consumed(nullptr, h.length);
    streamError(h.streamId, H2Error::kProtocolError);
    return true;
  }
  if (s.streamed) {  // the connection window opens now, the stream's as the data is taken
    s.in.body.append(reinterpret_cast<const char*>(p + off), len);
    consumed(nullptr, h.length);
    s.uncredited += h.length;
    if (end) s.recvEnded = true;
    events_.push_back({end ? Event::kMessage : Event::kData, s.id, H2Error::kNoError, 0});
    return true;
  }
  if (!s.rejected && s.in.body.size() + len > opt_.maxBodyBytes) {
    if (role_ == Role::kServer) {
      s.rejected = true;
      s.in.body.clear();
      events_.push_back({Event::kTooLarge, s.id, H2Error::kNoError, 413});
    } else {
      consumed(nullptr, h.length);
      streamError(h.streamId, H2Error::kCancel);
      return true;
    }
  }
  if (!s.rejected) s.in.body.append(reinterpret_cast<const char*>(p + off), len);
  if (end) s.recvEnded = true;
  consumed(&s, h.length);
  if (end) {
    if (!s.rejected) events_.push_back({Event::kMessage, s.id, H2Error::kNoError, 0});
    else maybeClose(s.id);
  }
  return true;
}

bool Session::onHeaders(const FrameHeader& h, const uint8_t* p) {
  if (h.streamId == 0) return connError(H2Error::kProtocolError, "HEADERS on stream 0");
  size_t off = 0, end = h.length;
  if (h.flags & flags::kPadded) {
    if (end < 1) return connError(H2Error::kProtocolError, "bad HEADERS padding");
    off = 1;
    if (p[0] > end - 1) return connError(H2Error::kProtocolError, "bad HEADERS padding");
    end -= p[0];
  }
  if (h.flags & flags::kPriority) {
    if (end < off + 5) return connError(H2Error::kProtocolError, "bad HEADERS priority");
    if ((readU32(p + off) & 0x7fffffffu) == h.streamId)
      return connError(H2Error::kProtocolError, "stream depends on itself");
    off += 5;
  }
  if (off > end) return connError(H2Error::kProtocolError, "bad HEADERS padding");
  headerBlock_.assign(reinterpret_cast<const char*>(p + off), end - off);
  contStream_ = h.streamId;
  contEndStream_ = h.flags & flags::kEndStream;
  if (h.flags & flags::kEndHeaders) return endHeaderBlock();
  return true;
}

bool Session::onContinuation(const FrameHeader& h, const uint8_t* p) {
  if (!contStream_) return connError(H2Error::kProtocolError, "CONTINUATION without HEADERS");
  headerBlock_.append(reinterpret_cast<const char*>(p), h.length);
  if (headerBlock_.size() > size_t(opt_.maxHeaderListSize) * 4)
    return connError(H2Error::kEnhanceYourCalm, "header block too large");
  if (h.flags & flags::kEndHeaders) return endHeaderBlock();
  return true;
}

bool Session::endHeaderBlock() {
  uint32_t id = contStream_;
  bool endStream = contEndStream_;
  contStream_ = 0;
  std::vector<HeaderField> fields;
  bool tooLarge = false;
  auto r = decoder_.decode(headerBlock_, fields, opt_.maxHeaderListSize, &tooLarge);
  if (!r) return connError(H2Error::kCompressionError, r.error().message());
  if (resetByUs_.count(id)) return true;  // late frames of a stream we reset
  auto it = streams_.find(id);
  Stream* s = it == streams_.end() ? nullptr : it->second.get();

  if (!s) {
    if (!isPeerInitiated(id)) {
      if (id >= nextStreamId_) return connError(H2Error::kProtocolError, "HEADERS on a stream we did not open");
      return true;  // a stream of ours that is already closed
    }
    if (role_ == Role::kClient) return connError(H2Error::kProtocolError, "server opened a stream");
    if (id <= lastPeerStream_) return connError(H2Error::kStreamClosed, "HEADERS on a closed stream");
    lastPeerStream_ = id;
    if (goawaySent_ || streams_.size() >= opt_.maxConcurrentStreams) {
      streamError(id, H2Error::kRefusedStream);
      return true;
    }
    auto ns = std::make_unique<Stream>();
    ns->id = id;
    ns->sendWindow = peerInitialWindow_;
    ns->recvWindow = opt_.initialWindowSize;
    s = ns.get();
    streams_.emplace(id, std::move(ns));
  }

  if (s->recvEnded) {
    streamError(id, H2Error::kStreamClosed);
    return true;
  }
  if (!s->recvHeadersDone) {
    if (std::string why = validateFields(fields, role_ == Role::kServer, false); !why.empty()) {
      streamError(id, H2Error::kProtocolError);
      return true;
    }
    if (role_ == Role::kClient && !fields.empty() && fields[0].value[0] == '1') {
      // Interim response (1xx): dropped; 101 is not allowed in HTTP/2.
      if (endStream || fields[0].value == "101") streamError(id, H2Error::kProtocolError);
      return true;
    }
    if (!parseContentLength(fields, s->contentLength)) {
      streamError(id, H2Error::kProtocolError);
      return true;
    }
    // RFC 9110 8.6: a response to HEAD, or a 304, states the length it would have had.
    if (role_ == Role::kClient && (s->headRequest || fields[0].value == "304"))
      s->contentLength = 0;
    s->recvHeadersDone = true;
    // (With headersEvents a long body may still be taken as a stream: the limit then applies
    // only if it is read whole, in onData.)
    if (tooLarge || (!opt_.headersEvents && s->contentLength && *s->contentLength > opt_.maxBodyBytes)) {
      if (role_ == Role::kClient) {
        streamError(id, H2Error::kCancel);
        return true;
      }
      s->rejected = true;
      s->recvEnded = endStream;
      events_.push_back({Event::kTooLarge, id, H2Error::kNoError, tooLarge ? 431 : 413});
      return true;
    }
    s->in.headers = std::move(fields);
    if (!endStream && opt_.headersEvents) events_.push_back({Event::kHeaders, id, H2Error::kNoError, 0});
    if (endStream) {
      if (s->contentLength && *s->contentLength != 0) {
        streamError(id, H2Error::kProtocolError);
        return true;
      }
      s->recvEnded = true;
      events_.push_back({Event::kMessage, id, H2Error::kNoError, 0});
    }
    return true;
  }
  // Trailers: must end the stream, no pseudo-headers.
  if (!endStream || !validateFields(fields, role_ == Role::kServer, true).empty() ||
      (s->contentLength && s->received != *s->contentLength)) {
    streamError(id, H2Error::kProtocolError);
    return true;
  }
  s->recvEnded = true;
  if (s->rejected) {
    maybeClose(id);
    return true;
  }
  s->in.trailers = std::move(fields);
  events_.push_back({Event::kMessage, id, H2Error::kNoError, 0});
  return true;
}

std::vector<HeaderField> Session::takeHeaders(uint32_t streamId) {
  auto it = streams_.find(streamId);
  if (it == streams_.end()) return {};
  return std::move(it->second->in.headers);
}

const std::vector<HeaderField>* Session::peekHeaders(uint32_t streamId) const {
  auto it = streams_.find(streamId);
  return it == streams_.end() ? nullptr : &it->second->in.headers;
}

std::optional<uint64_t> Session::declaredLength(uint32_t streamId) const {
  auto it = streams_.find(streamId);
  if (it == streams_.end()) return std::nullopt;
  return it->second->contentLength;
}

void Session::streamBody(uint32_t streamId) {
  auto it = streams_.find(streamId);
  if (it != streams_.end() && !it->second->rejected) it->second->streamed = true;
}

std::string Session::takeData(uint32_t streamId) {
  auto it = streams_.find(streamId);
  if (it == streams_.end()) return {};
  Stream& s = *it->second;
  std::string data = std::move(s.in.body);
  s.in.body.clear();
  if (s.uncredited) {
    creditStream(s, size_t(s.uncredited));
    s.uncredited = 0;
  }
  return data;
}

Message Session::takeMessage(uint32_t streamId) {
  auto it = streams_.find(streamId);
  if (it == streams_.end()) return {};
  Message m = std::move(it->second->in);
  it->second->in = {};
  if (role_ == Role::kClient) {
    if (!it->second->sendEnded) appendRstStream(out_, streamId, H2Error::kCancel);
    streams_.erase(it);
  }
  return m;
}

void Session::writeHeaders(uint32_t id, const std::vector<HeaderField>& fields, bool endStream) {
  std::string block;
  encoder_.begin(block);
  for (const auto& f : fields) {
    bool sensitive = f.name == "authorization" || f.name == "cookie" || f.name == "set-cookie" ||
                     f.name == "proxy-authorization";
    encoder_.encode(f.name, f.value, block, sensitive);
  }
  size_t pos = 0;
  bool first = true;
  do {
    size_t n = std::min<size_t>(block.size() - pos, peerMaxFrame_);
    bool last = pos + n == block.size();
    uint8_t fl = last ? flags::kEndHeaders : 0;
    if (first && endStream) fl |= flags::kEndStream;
    appendFrameHeader(out_, uint32_t(n), first ? FrameType::kHeaders : FrameType::kContinuation, fl, id);
    out_.append(block, pos, n);
    pos += n;
    first = false;
  } while (pos < block.size());
}

void Session::queueBody(Stream& s, const Message& m) {
  s.outBody = m.body;
  s.outOff = 0;
  s.outTrailers = m.trailers;
  s.outPending = true;
}

bool Session::canOpenStream() const {
  if (failed_ || goingAway() || nextStreamId_ > 0x7ffffffdu) return false;
  return streams_.size() < peerMaxStreams_;
}

uint32_t Session::submitRequest(const Message& m, bool more) {
  if (!canOpenStream()) return 0;
  uint32_t id = nextStreamId_;
  nextStreamId_ += 2;
  auto s = std::make_unique<Stream>();
  s->id = id;
  s->sendWindow = peerInitialWindow_;
  s->recvWindow = opt_.initialWindowSize;
  for (const auto& f : m.headers)
    if (f.name == ":method") s->headRequest = f.value == "HEAD";
  bool noBody = !more && m.body.empty() && m.trailers.empty();
  writeHeaders(id, m.headers, noBody);
  s->sendEnded = noBody;
  if (!noBody) queueBody(*s, m);
  s->outMore = more;
  streams_.emplace(id, std::move(s));
  flushData();
  return id;
}

void Session::submitResponse(uint32_t streamId, const Message& m, bool more) {
  auto it = streams_.find(streamId);
  if (it == streams_.end() || failed_) return;
  Stream& s = *it->second;
  if (s.sendEnded || s.outPending || s.outMore) return;
  bool noBody = !more && m.body.empty() && m.trailers.empty();
  writeHeaders(streamId, m.headers, noBody);
  if (noBody) {
    s.sendEnded = true;
    maybeClose(streamId);
    return;
  }
  queueBody(s, m);
  s.outMore = more;
  flushData();
}

bool Session::submitData(uint32_t streamId, std::string_view data, bool end,
                         std::vector<HeaderField> trailers) {
  auto it = streams_.find(streamId);
  if (it == streams_.end() || failed_) return false;
  Stream& s = *it->second;
  if (s.sendEnded || !s.outMore) return false;
  s.outBody.erase(0, s.outOff);  // what was sent goes (what is left waits for window)
  s.outOff = 0;
  s.outBody.append(data);
  if (end) {
    s.outMore = false;
    s.outTrailers = std::move(trailers);
  }
  s.outPending = true;
  flushData();
  return true;
}

size_t Session::unsent(uint32_t streamId) const {
  auto it = streams_.find(streamId);
  if (it == streams_.end()) return SIZE_MAX;
  return it->second->outBody.size() - it->second->outOff;
}

void Session::resetStream(uint32_t streamId, H2Error code) {
  if (!streams_.count(streamId)) return;
  appendRstStream(out_, streamId, code);
  resetByUs_.insert(streamId);
  streams_.erase(streamId);
}

void Session::maybeClose(uint32_t id) {
  auto it = streams_.find(id);
  if (it == streams_.end()) return;
  Stream& s = *it->second;
  if (!s.sendEnded) return;
  if (role_ == Role::kClient) return;  // closed when the response is taken
  if (!s.recvEnded) {  // answered before the request ended: the rest is not wanted
    appendRstStream(out_, id, H2Error::kNoError);
    resetByUs_.insert(id);
    streams_.erase(it);
    return;
  }
  if (s.recvEnded) streams_.erase(it);
}

void Session::flushData() {
  if (failed_) return;
  std::vector<uint32_t> done;
  for (auto& [id, sp] : streams_) {
    Stream& s = *sp;
    if (!s.outPending) continue;
    while (s.outOff < s.outBody.size() && sendWindow_ > 0 && s.sendWindow > 0) {
      size_t left = s.outBody.size() - s.outOff;
      size_t n = std::min<size_t>({left, size_t(sendWindow_), size_t(s.sendWindow), peerMaxFrame_});
      bool last = n == left && s.outTrailers.empty() && !s.outMore;
      appendFrameHeader(out_, uint32_t(n), FrameType::kData, last ? flags::kEndStream : 0, id);
      out_.append(s.outBody, s.outOff, n);
      s.outOff += n;
      sendWindow_ -= int64_t(n);
      s.sendWindow -= int64_t(n);
    }
    if (s.outOff < s.outBody.size()) continue;
    if (s.outMore) {  // all sent so far; more to come (submitData)
      s.outBody.clear();
      s.outOff = 0;
      s.outPending = false;
      continue;
    }
    if (!s.outTrailers.empty()) writeHeaders(id, s.outTrailers, true);
    else if (s.outBody.empty()) {  // trailers and body both empty cannot happen (noBody)
      appendFrameHeader(out_, 0, FrameType::kData, flags::kEndStream, id);
    }
    s.outPending = false;
    s.sendEnded = true;
    std::string().swap(s.outBody);
    s.outTrailers.clear();
    done.push_back(id);
  }
  for (uint32_t id : done) maybeClose(id);
}

}  // namespace berth::http::h2
