#include "sdk/json.h"

#include <array>
#include <charconv>
#include <cmath>

#include "http/parser.h"

namespace berth::sdk {

namespace {

/// nlohmann's DOM builder, plus notes on numbers it would silently round or reject as
/// "parse errors": both are input the client can fix, so they become 422, not 400.
class StrictSax : public nlohmann::detail::json_sax_dom_parser<Json> {
 public:
  using Base = nlohmann::detail::json_sax_dom_parser<Json>;
  explicit StrictSax(Json& j) : Base(j, false) {}

  bool number_float(double v, const std::string& lexeme) {
    if (lexeme.find_first_of(".eE") == std::string::npos) {
      bigInteger_ = lexeme;
      return false;  // stop: an integer we cannot hold exactly
    }
    return Base::number_float(v, lexeme);
  }

  template <class Exception>
  bool parse_error(std::size_t pos, const std::string& token, const Exception& ex) {
    if (ex.id == 406) overflow_ = token;
    errorPos_ = pos;
    message_ = ex.what();
    return Base::parse_error(pos, token, ex);
  }

  std::string bigInteger_, overflow_, message_;
  std::size_t errorPos_ = 0;
};

std::string shortMessage(const std::string& what) {
  // "[json.exception.parse_error.101] parse error at line 1, column 2: syntax error ..."
  size_t p = what.find("] ");
  std::string m = p == std::string::npos ? what : what.substr(p + 2);
  if (m.size() > 200) m.resize(200);
  return m;
}

struct FlatMember {
  std::string_view key;
  enum Kind { kUnsigned, kInteger, kFloat, kString, kTrue, kFalse, kNull } kind = kNull;
  uint64_t u = 0;
  int64_t i = 0;
  double d = 0;
  std::string_view str;

  void assignTo(Json& j) const {
    switch (kind) {
      case kUnsigned: j = u; break;
      case kInteger: j = i; break;
      case kFloat: j = d; break;
      case kString: j = str; break;
      case kTrue: j = true; break;
      case kFalse: j = false; break;
      case kNull: j = nullptr; break;
    }
  }
};

constexpr size_t kMaxFlatMembers = 16;

bool isWs(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

/// A string without escapes or non-ASCII bytes (those go to the full parser); p is past '"'.
bool plainString(std::string_view t, size_t& p, std::string_view& out) {
  size_t start = p;
  for (; p < t.size(); ++p) {
    unsigned char c = static_cast<unsigned char>(t[p]);
    if (c == '"') {
      out = t.substr(start, p - start);
      ++p;
      return true;
    }
    if (c < 0x20 || c >= 0x80 || c == '\\') return false;
  }
  return false;
}

bool isDigit(char c) { return c >= '0' && c <= '9'; }

/// RFC 8259 number, typed as nlohmann types it: no sign/fraction/exponent -> unsigned,
/// '-' without fraction/exponent -> integer, else float. Anything that does not fit -> false.
bool number(std::string_view t, size_t& p, FlatMember& m) {
  size_t start = p;
  bool neg = p < t.size() && t[p] == '-';
  if (neg) ++p;
  if (p >= t.size() || !isDigit(t[p])) return false;
  if (t[p] == '0') {
    ++p;
  } else {
    while (p < t.size() && isDigit(t[p])) ++p;
  }
  bool isFloat = false;
  if (p < t.size() && t[p] == '.') {
    isFloat = true;
    ++p;
    if (p >= t.size() || !isDigit(t[p])) return false;
    while (p < t.size() && isDigit(t[p])) ++p;
  }
  if (p < t.size() && (t[p] == 'e' || t[p] == 'E')) {
    isFloat = true;
    ++p;
    if (p < t.size() && (t[p] == '+' || t[p] == '-')) ++p;
    if (p >= t.size() || !isDigit(t[p])) return false;
    while (p < t.size() && isDigit(t[p])) ++p;
  }
  const char* b = t.data() + start;
  const char* e = t.data() + p;
  if (isFloat) {
    auto [q, ec] = std::from_chars(b, e, m.d);
    if (ec != std::errc() || q != e || !std::isfinite(m.d)) return false;
    m.kind = FlatMember::kFloat;
  } else if (neg) {
    auto [q, ec] = std::from_chars(b, e, m.i);
    if (ec != std::errc() || q != e) return false;
    m.kind = FlatMember::kInteger;
  } else {
    auto [q, ec] = std::from_chars(b, e, m.u);
    if (ec != std::errc() || q != e) return false;
    m.kind = FlatMember::kUnsigned;
  }
  return true;
}

bool literal(std::string_view t, size_t& p, std::string_view word) {
  if (t.substr(p, word.size()) != word) return false;
  p += word.size();
  return true;
}

}  // namespace

bool parseFlatObject(std::string_view t, Json& out) {
  std::array<FlatMember, kMaxFlatMembers> members;
  size_t n = 0;
  size_t p = 0;
  auto ws = [&] {
    while (p < t.size() && isWs(t[p])) ++p;
  };
  ws();
  if (p >= t.size() || t[p] != '{') return false;
  ++p;
  ws();
  if (p < t.size() && t[p] == '}') {
    ++p;
  } else {
    for (;;) {
      if (n == members.size()) return false;
      FlatMember& m = members[n++];
      if (p >= t.size() || t[p] != '"') return false;
      ++p;
      if (!plainString(t, p, m.key)) return false;
      ws();
      if (p >= t.size() || t[p] != ':') return false;
      ++p;
      ws();
      if (p >= t.size()) return false;
      char c = t[p];
      if (c == '"') {
        ++p;
        if (!plainString(t, p, m.str)) return false;
        m.kind = FlatMember::kString;
      } else if (c == '-' || isDigit(c)) {
        if (!number(t, p, m)) return false;
      } else if (c == 't') {
        if (!literal(t, p, "true")) return false;
        m.kind = FlatMember::kTrue;
      } else if (c == 'f') {
        if (!literal(t, p, "false")) return false;
        m.kind = FlatMember::kFalse;
      } else if (c == 'n') {
        if (!literal(t, p, "null")) return false;
        m.kind = FlatMember::kNull;
      } else {
        return false;  // nested object or array, or an error: the full parser decides
      }
      ws();
      if (p >= t.size()) return false;
      if (t[p] == ',') {
        ++p;
        ws();
        continue;
      }
      if (t[p] != '}') return false;
      ++p;
      break;
    }
  }
  ws();
  if (p != t.size()) return false;

  // Reuse out's nodes when it has exactly these keys (and the input repeats none).
  bool reuse = out.is_object() && out.size() == n;
  for (size_t k = 0; reuse && k < n; ++k) {
    for (size_t j = 0; j < k; ++j) reuse &= members[j].key != members[k].key;
  }
  if (reuse) {
    std::array<Json*, kMaxFlatMembers> slots;
    for (size_t k = 0; reuse && k < n; ++k) {
      auto it = out.find(members[k].key);
      if (it == out.end()) reuse = false;
      else slots[k] = &*it;
    }
    if (reuse) {
      for (size_t k = 0; k < n; ++k) members[k].assignTo(*slots[k]);
      return true;
    }
  }
  Json fresh = Json::object();
  for (size_t k = 0; k < n; ++k) members[k].assignTo(fresh[std::string(members[k].key)]);
  out = std::move(fresh);
  return true;
}

bool jsonContentType(std::string_view ct) {
  size_t semi = ct.find(';');
  std::string_view type = ct.substr(0, semi);
  while (!type.empty() && (type.back() == ' ' || type.back() == '\t')) type.remove_suffix(1);
  while (!type.empty() && (type.front() == ' ' || type.front() == '\t')) type.remove_prefix(1);
  if (type.empty()) return true;
  if (http::iequals(type, "application/json") ||
      http::iequals(type, "application/x-www-form-urlencoded")) {
    return true;
  }
  return type.size() > 17 && http::iequals(type.substr(0, 12), "application/") &&
         http::iequals(type.substr(type.size() - 5), "+json");
}

Json parseJson(std::string_view text) {
  Json out;
  if (parseFlatObject(text, out)) return out;
  StrictSax sax(out);
  bool ok = Json::sax_parse(text.begin(), text.end(), &sax, nlohmann::detail::input_format_t::json, true);
  if (!sax.bigInteger_.empty()) {
    throw unprocessable("number " + sax.bigInteger_.substr(0, 40) +
                        " is out of range (integers must fit in 64 bits)");
  }
  if (!sax.overflow_.empty()) {
    throw unprocessable("number " + sax.overflow_.substr(0, 40) + " is out of range for a double");
  }
  if (!ok || out.is_discarded()) {
    throw badRequest("malformed JSON: " + shortMessage(sax.message_));
  }
  return out;
}

void parseJsonBodyInto(const http::Request& req, Json& out) {
  std::string_view ct = req.headers.get("content-type");
  if (jsonContentType(ct) && parseFlatObject(req.body, out)) return;
  out = parseJsonBody(req);
}

Json parseJsonBody(const http::Request& req) {
  std::string_view ct = req.headers.get("content-type");
  if (!jsonContentType(ct)) {
    throw unsupportedMediaType("Content-Type " + std::string(ct.substr(0, 100)) +
                               " is not application/json");
  }
  if (req.body.empty()) throw badRequest("malformed JSON: empty body");
  return parseJson(req.body);
}

http::Response jsonResponse(int status, const Json& body) {
  return http::Response::json(status, body.dump());
}

}  // namespace berth::sdk
