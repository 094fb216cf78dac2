#include "http/parser.h"

#include <array>
#include <cstring>

namespace berth::http {

namespace {

constexpr std::array<bool, 256> makeTokenTable() {
  std::array<bool, 256> t{};
  for (int c = '0'; c <= '9'; ++c) t[c] = true;
  for (int c = 'a'; c <= 'z'; ++c) t[c] = true;
  for (int c = 'A'; c <= 'Z'; ++c) t[c] = true;
  for (char c : std::string_view("!#$%&'*+-.^_`|~")) t[static_cast<unsigned char>(c)] = true;
  return t;
}
constexpr auto kToken = makeTokenTable();

// field-value octets: HTAB, SP, VCHAR, obs-text (RFC 9110 5.5). CR, LF, NUL, CTLs and DEL are not.
constexpr std::array<bool, 256> makeFieldTable() {
  std::array<bool, 256> t{};
  t['\t'] = true;
  for (int c = 0x20; c <= 0xff; ++c) t[c] = c != 0x7f;
  return t;
}
constexpr auto kField = makeFieldTable();

inline ParseResult error(int status, const char* msg) {
  ParseResult r;
  r.status = ParseStatus::kError;
  r.errorStatus = status;
  r.error = msg;
  return r;
}
inline ParseResult incomplete() { return ParseResult{}; }
inline ParseResult complete(size_t consumed) {
  ParseResult r;
  r.status = ParseStatus::kComplete;
  r.consumed = consumed;
  return r;
}

/// Finds the CRLF-terminated line at `pos`. kComplete: `line` is its text, `next` the offset
/// after CRLF. A LF not preceded by CR is an error; a CR elsewhere is caught by char checks.
ParseResult nextLine(std::string_view data, size_t pos, size_t limit, std::string_view& line,
                     size_t& next) {
  size_t end = data.size() < limit ? data.size() : limit;
  if (pos >= end) {
    return data.size() >= limit ? error(431, "request head too large") : incomplete();
  }
  const void* p = std::memchr(data.data() + pos, '\n', end - pos);
  if (!p) return data.size() >= limit ? error(431, "request head too large") : incomplete();
  size_t nl = static_cast<const char*>(p) - data.data();
  if (nl == pos || data[nl - 1] != '\r') return error(400, "bare LF in head");
  line = data.substr(pos, nl - 1 - pos);
  next = nl + 1;
  return complete(next);
}

inline std::string_view trimOws(std::string_view v) {
  while (!v.empty() && (v.front() == ' ' || v.front() == '\t')) v.remove_prefix(1);
  while (!v.empty() && (v.back() == ' ' || v.back() == '\t')) v.remove_suffix(1);
  return v;
}

/// Parses header field lines from `pos` until the empty line.
template <typename Msg>
ParseResult parseFields(std::string_view data, size_t pos, size_t limit, const Limits& limits,
                        Msg& out) {
  size_t count = 0;
  for (;;) {
    std::string_view line;
    size_t next = 0;
    ParseResult r = nextLine(data, pos, limit, line, next);
    if (!r.complete()) return r;
    pos = next;
    if (line.empty()) return complete(pos);
    if (line[0] == ' ' || line[0] == '\t') return error(400, "obs-fold or leading whitespace in field line");
    if (++count > limits.maxHeaders) return error(431, "too many header fields");
    size_t i = 0;
    while (i < line.size() && kToken[static_cast<unsigned char>(line[i])]) ++i;
    if (i == line.size() || line[i] != ':') {
      if (i < line.size() && (line[i] == ' ' || line[i] == '\t'))
        return error(400, "whitespace between field name and colon");
      if (i < line.size() && line[i] == '\r') return error(400, "bare CR in head");
      return error(400, "invalid field name");
    }
    if (i == 0) return error(400, "empty field name");
    std::string_view value = line.substr(i + 1);
    for (unsigned char c : value) {
      if (!kField[c]) return error(400, c == '\r' ? "bare CR in field value" : "control character in field value");
    }
    out.headers.add(line.substr(0, i), trimOws(value));
  }
}

/// "HTTP/1.1" -> 1, "HTTP/1.0" -> 0; -2 other well-formed versions (505); -1 junk (400).
int parseVersion(std::string_view v) {
  if (v.size() != 8 || v.substr(0, 5) != "HTTP/" || v[6] != '.') return -1;
  if (v[5] < '0' || v[5] > '9' || v[7] < '0' || v[7] > '9') return -1;
  if (v[5] == '1' && (v[7] == '1' || v[7] == '0')) return v[7] - '0';
  return -2;
}

bool validTargetChars(std::string_view t) {
  for (unsigned char c : t) {
    if (c <= 0x20 || c >= 0x7f || c == '#') return false;
  }
  return true;
}

bool startsWithNoCase(std::string_view s, std::string_view p) {
  return s.size() >= p.size() && iequals(s.substr(0, p.size()), p);
}

bool validHost(std::string_view h) {
  for (unsigned char c : h) {
    if (!(kToken[c] || c == ':' || c == '[' || c == ']' || c == '@' || c == '(' || c == ')' ||
          c == ',' || c == ';' || c == '=')) {
      return false;
    }
  }
  return true;
}

/// Parses Connection tokens into keepAlive.
void applyConnection(std::string_view value, bool& close, bool& keepAlive) {
  size_t start = 0;
  while (start <= value.size()) {
    size_t comma = value.find(',', start);
    if (comma == std::string_view::npos) comma = value.size();
    std::string_view tok = trimOws(value.substr(start, comma - start));
    if (iequals(tok, "close")) close = true;
    else if (iequals(tok, "keep-alive")) keepAlive = true;
    start = comma + 1;
  }
}

bool parseDigits(std::string_view v, uint64_t& out) {
  if (v.empty() || v.size() > 19) return false;
  uint64_t n = 0;
  for (char c : v) {
    if (c < '0' || c > '9') return false;
    n = n * 10 + static_cast<uint64_t>(c - '0');
  }
  out = n;
  return true;
}

}  // namespace

bool isTokenChar(unsigned char c) { return kToken[c]; }

bool isToken(std::string_view s) {
  if (s.empty()) return false;
  for (unsigned char c : s) {
    if (!kToken[c]) return false;
  }
  return true;
}

ParseResult parseRequestHead(std::string_view data, const Limits& limits, Request& out) {
  out.clear();
  size_t pos = 0;
  // RFC 9112 2.2: ignore empty lines before the request-line (bounded by the head limit).
  while (pos + 1 < data.size() && data[pos] == '\r' && data[pos + 1] == '\n') pos += 2;
  if (pos >= limits.maxHeadBytes) return error(400, "too many empty lines before request");
  if (pos < data.size() && data[pos] == '\n') return error(400, "bare LF in head");
  size_t limit = pos + limits.maxHeadBytes;

  std::string_view line;
  size_t next = 0;
  ParseResult r = nextLine(data, pos, limit, line, next);
  if (r.incomplete()) {
    if (data.size() - pos > limits.maxTargetBytes + 64) return error(414, "request-target too long");
    return r;
  }
  if (r.failed()) return r.errorStatus == 431 ? error(414, "request line too long") : r;

  size_t sp1 = line.find(' ');
  if (sp1 == std::string_view::npos) return error(400, "malformed request line");
  std::string_view method = line.substr(0, sp1);
  if (method.size() > 32 || !isToken(method)) return error(400, "invalid method");
  size_t sp2 = line.find(' ', sp1 + 1);
  if (sp2 == std::string_view::npos) return error(400, "malformed request line");
  std::string_view target = line.substr(sp1 + 1, sp2 - sp1 - 1);
  std::string_view version = line.substr(sp2 + 1);
  if (target.size() > limits.maxTargetBytes) return error(414, "request-target too long");
  if (target.empty() || !validTargetChars(target)) return error(400, "invalid request-target");
  int minor = parseVersion(version);
  if (minor == -1) return error(400, "malformed HTTP version");
  if (minor == -2) return error(505, "unsupported HTTP version");

  bool isConnect = method == "CONNECT";
  if (isConnect) {
    if (target.find('/') != std::string_view::npos || target.find(':') == std::string_view::npos)
      return error(400, "CONNECT needs authority-form target");
  } else if (target == "*") {
    if (method != "OPTIONS") return error(400, "asterisk-form target only for OPTIONS");
  } else if (target[0] != '/') {
    if (!(startsWithNoCase(target, "http://") || startsWithNoCase(target, "https://")))
      return error(400, "invalid request-target");
  }
  out.method.assign(method);
  out.target.assign(target);
  out.versionMinor = minor;

  r = parseFields(data, next, limit, limits, out);
  if (!r.complete()) return r;
  size_t consumed = r.consumed;

  const Header* te = nullptr;
  int hosts = 0;
  bool sawLength = false, close = false, keepAlive = false;
  for (const Header& h : out.headers) {
    const std::string& n = h.name;
    switch (n.size()) {
      case 4:
        if (iequals(n, "host")) {
          if (++hosts > 1) return error(400, "duplicate Host");
          if (!validHost(h.value)) return error(400, "invalid Host");
        }
        break;
      case 6:
        if (iequals(n, "expect")) {
          if (!iequals(h.value, "100-continue")) return error(417, "unsupported expectation");
          out.expectContinue = minor == 1;
        }
        break;
      case 10:
        if (iequals(n, "connection")) applyConnection(h.value, close, keepAlive);
        break;
      case 14:
        if (iequals(n, "content-length")) {
          if (sawLength) return error(400, "duplicate Content-Length");
          sawLength = true;
          uint64_t len = 0;
          if (!parseDigits(h.value, len)) return error(400, "invalid Content-Length");
          out.contentLength = len;
        }
        break;
      case 17:
        if (iequals(n, "transfer-encoding")) {
          if (te) return error(400, "duplicate Transfer-Encoding");
          te = &h;
        }
        break;
      default:
        break;
    }
  }
  if (minor == 1 && hosts == 0) return error(400, "missing Host");
  if (te) {
    if (minor == 0) return error(400, "Transfer-Encoding in HTTP/1.0");
    if (sawLength) return error(400, "both Content-Length and Transfer-Encoding");
    std::string_view v = te->value;
    size_t lastComma = v.rfind(',');
    std::string_view last = trimOws(lastComma == std::string_view::npos ? v : v.substr(lastComma + 1));
    if (!iequals(last, "chunked")) return error(400, "Transfer-Encoding without final chunked");
    if (lastComma != std::string_view::npos) return error(501, "unsupported transfer coding");
    out.chunked = true;
  }
  if (out.contentLength && *out.contentLength > limits.maxBodyBytes)
    return error(413, "body too large");
  out.keepAlive = minor == 1 ? !close : (keepAlive && !close);
  return complete(consumed);
}

ParseResult parseResponseHead(std::string_view data, const Limits& limits, Response& out) {
  out.clear();
  std::string_view line;
  size_t next = 0;
  ParseResult r = nextLine(data, 0, limits.maxHeadBytes, line, next);
  if (!r.complete()) return r;
  if (line.size() < 12 || line[8] != ' ' || (line.size() > 12 && line[12] != ' '))
    return error(400, "malformed status line");
  int minor = parseVersion(line.substr(0, 8));
  if (minor < 0) return error(400, "unsupported HTTP version in response");
  int status = 0;
  for (size_t i = 9; i < 12; ++i) {
    if (line[i] < '0' || line[i] > '9') return error(400, "malformed status code");
    status = status * 10 + (line[i] - '0');
  }
  if (status < 100) return error(400, "malformed status code");
  for (unsigned char c : line.substr(12)) {
    if (!kField[c]) return error(400, "control character in reason phrase");
  }
  out.status = status;
  out.versionMinor = minor;
  r = parseFields(data, next, limits.maxHeadBytes, limits, out);
  if (!r.complete()) return r;
  bool close = false, keepAlive = false;
  for (const Header& h : out.headers) {
    if (iequals(h.name, "connection")) applyConnection(h.value, close, keepAlive);
  }
  out.keepAlive = minor == 1 ? !close : (keepAlive && !close);
  return r;
}

ParseResult responseFraming(const Response& head, std::string_view requestMethod,
                            const Limits& limits, BodyFraming& out) {
  out = BodyFraming{};
  if (requestMethod == "HEAD" || head.status < 200 || head.status == 204 || head.status == 304 ||
      (requestMethod == "CONNECT" && head.status < 300)) {
    return complete(0);
  }
  const Header* te = nullptr;
  const Header* cl = nullptr;
  for (const Header& h : head.headers) {
    if (iequals(h.name, "transfer-encoding")) {
      if (te) return error(502, "duplicate Transfer-Encoding in response");
      te = &h;
    } else if (iequals(h.name, "content-length")) {
      if (cl) return error(502, "duplicate Content-Length in response");
      cl = &h;
    }
  }
  if (te) {
    if (cl) return error(502, "both Content-Length and Transfer-Encoding in response");
    std::string_view v = te->value;
    size_t lastComma = v.rfind(',');
    std::string_view last = trimOws(lastComma == std::string_view::npos ? v : v.substr(lastComma + 1));
    out.kind = iequals(last, "chunked") ? BodyFraming::kChunked : BodyFraming::kUntilClose;
    return complete(0);
  }
  if (cl) {
    uint64_t len = 0;
    if (!parseDigits(cl->value, len)) return error(502, "invalid Content-Length in response");
    if (len > limits.maxBodyBytes) return error(502, "response body too large");
    out.kind = BodyFraming::kLength;
    out.length = len;
    return complete(0);
  }
  out.kind = BodyFraming::kUntilClose;
  return complete(0);
}

void ChunkedDecoder::reset() {
  state_ = kSize;
  chunk_ = 0;
  digits_ = 0;
  extBytes_ = 0;
  trailerBytes_ = 0;
  trailerLine_ = 0;
  trailerColon_ = false;
  total_ = 0;
}

ParseResult ChunkedDecoder::decode(std::string_view in, std::string& out) {
  size_t i = 0;
  const size_t n = in.size();
  while (i < n) {
    unsigned char c = static_cast<unsigned char>(in[i]);
    switch (state_) {
      case kSize: {
        int v = (c >= '0' && c <= '9') ? c - '0'
                : (c >= 'a' && c <= 'f') ? c - 'a' + 10
                : (c >= 'A' && c <= 'F') ? c - 'A' + 10
                                         : -1;
        if (v >= 0) {
          if (digits_ == 16) return error(400, "chunk size too long");
          chunk_ = chunk_ * 16 + static_cast<uint64_t>(v);
          ++digits_;
          ++i;
          break;
        }
        if (digits_ == 0) return error(400, "invalid chunk size");
        if (c == ';') state_ = kExt;
        else if (c == '\r') state_ = kSizeLf;
        else return error(400, "invalid chunk size");
        ++i;
        break;
      }
      case kExt:
        if (c == '\r') {
          state_ = kSizeLf;
        } else if (c == '\t' || (c >= 0x20 && c != 0x7f)) {
          if (++extBytes_ > 4096) return error(400, "chunk extension too long");
        } else {
          return error(400, "invalid chunk extension");
        }
        ++i;
        break;
      case kSizeLf:
        if (c != '\n') return error(400, "bare CR after chunk size");
        ++i;
        digits_ = 0;
        extBytes_ = 0;
        if (chunk_ == 0) {
          state_ = kTrailerStart;
        } else {
          if (chunk_ > maxBody_ - total_) return error(413, "body too large");
          state_ = kData;
        }
        break;
      case kData: {
        size_t take = static_cast<size_t>(std::min<uint64_t>(chunk_, n - i));
        out.append(in.data() + i, take);
        i += take;
        chunk_ -= take;
        total_ += take;
        if (chunk_ == 0) state_ = kDataCr;
        break;
      }
      case kDataCr:
        if (c != '\r') return error(400, "chunk data not followed by CRLF");
        state_ = kDataLf;
        ++i;
        break;
      case kDataLf:
        if (c != '\n') return error(400, "chunk data not followed by CRLF");
        state_ = kSize;
        chunk_ = 0;
        ++i;
        break;
      case kTrailerStart:
        if (c == '\r') {
          state_ = kEndLf;
          ++i;
          break;
        }
        if (c == ' ' || c == '\t') return error(400, "obs-fold in trailer");
        state_ = kTrailer;
        trailerLine_ = 0;
        trailerColon_ = false;
        break;  // re-examine c in kTrailer
      case kTrailer:
        if (++trailerBytes_ > maxTrailer_) return error(431, "trailer section too large");
        if (c == '\r') {
          if (!trailerColon_ || trailerLine_ == 0) return error(400, "invalid trailer field");
          state_ = kTrailerLf;
        } else if (!trailerColon_) {
          if (c == ':') {
            if (trailerLine_ == 0) return error(400, "invalid trailer field");
            trailerColon_ = true;
          } else if (!kToken[c]) {
            return error(400, "invalid trailer field name");
          } else {
            ++trailerLine_;
          }
        } else if (!kField[c]) {
          return error(400, "control character in trailer");
        }
        ++i;
        break;
      case kTrailerLf:
        if (c != '\n') return error(400, "bare CR in trailer");
        state_ = kTrailerStart;
        ++i;
        break;
      case kEndLf:
        if (c != '\n') return error(400, "bare CR after last chunk");
        state_ = kDone;
        ++i;
        return complete(i);
      case kDone:
        return complete(i);
    }
  }
  if (state_ == kDone) return complete(i);
  ParseResult r;
  r.consumed = n;
  return r;
}

ParseResult parseRequest(std::string_view data, const Limits& limits, Request& out) {
  ParseResult head = parseRequestHead(data, limits, out);
  if (!head.complete()) return head;
  std::string_view rest = data.substr(head.consumed);
  if (out.chunked) {
    ChunkedDecoder dec(limits.maxBodyBytes, limits.maxHeadBytes);
    ParseResult r = dec.decode(rest, out.body);
    if (r.failed() || r.incomplete()) return r;
    return complete(head.consumed + r.consumed);
  }
  uint64_t len = out.contentLength.value_or(0);
  if (rest.size() < len) return incomplete();
  out.body.assign(rest.substr(0, static_cast<size_t>(len)));
  return complete(head.consumed + static_cast<size_t>(len));
}

}  // namespace berth::http
