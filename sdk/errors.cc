#include "sdk/errors.h"

#include "common/log.h"

namespace berth::sdk {

std::string_view errorKind(int status) {
  switch (status) {
    case 400: return "malformed request";
    case 404: return "not found";
    case 405: return "method not allowed";
    case 408: return "request timeout";
    case 413: return "payload too large";
    case 414: return "URI too long";
    case 415: return "unsupported media type";
    case 417: return "expectation failed";
    case 422: return "invalid input";
    case 431: return "request header fields too large";
    case 501: return "not implemented";
    case 503: return "unavailable";
    case 505: return "HTTP version not supported";
    default: return status >= 500 ? "internal error" : "bad request";
  }
}

http::Response errorResponse(int status, std::string_view detail, std::string_view allow) {
  std::string kind(errorKind(status));
  if (status == 400 && detail.substr(0, 14) == "malformed JSON") kind = "malformed JSON";
  std::string body = "{\"error\":\"";
  body += log::jsonEscape(kind);
  body += "\",\"detail\":\"";
  body += log::jsonEscape(status == 500 ? std::string_view("internal error") : detail);
  body += "\"}";
  http::Response r = http::Response::json(status, std::move(body));
  if (status == 405 && !allow.empty()) r.headers.add("Allow", allow);
  return r;
}

}  // namespace berth::sdk
