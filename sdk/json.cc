#include "sdk/json.h"

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

}  // namespace

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
