#pragma once
/// Typed errors of the SDK. A handler throws one (or returns the Response from
/// `errorResponse`); the Service turns it into the status code and a JSON body
/// `{"error": "<short kind>", "detail": "<what was wrong>"}`. Anything else a handler throws
/// becomes a 500 whose body says only "internal error" (the details go to the log).
/// Exceptions stay inside the SDK's request dispatch: they never cross into other layers.

#include <stdexcept>
#include <string>
#include <string_view>

#include "http/message.h"

namespace berth::sdk {

class HttpError : public std::runtime_error {
 public:
  HttpError(int status, std::string detail, std::string allow = {})
      : std::runtime_error(detail), status_(status), detail_(std::move(detail)),
        allow_(std::move(allow)) {}
  int status() const { return status_; }
  const std::string& detail() const { return detail_; }
  /// For 405: the Allow header value ("GET, HEAD").
  const std::string& allow() const { return allow_; }

 private:
  int status_;
  std::string detail_;
  std::string allow_;
};

/// 400: the body is not valid JSON (or the request is otherwise malformed).
inline HttpError badRequest(std::string detail) { return HttpError(400, std::move(detail)); }
/// 422: valid JSON with wrong, missing or out-of-range fields.
inline HttpError unprocessable(std::string detail) { return HttpError(422, std::move(detail)); }
inline HttpError notFound(std::string detail) { return HttpError(404, std::move(detail)); }
inline HttpError methodNotAllowed(std::string allow) {
  return HttpError(405, "allowed: " + allow, allow);
}
inline HttpError payloadTooLarge(std::string detail) { return HttpError(413, std::move(detail)); }
inline HttpError unsupportedMediaType(std::string detail) {
  return HttpError(415, std::move(detail));
}

/// The short "error" string for a status ("malformed JSON" for 400, "invalid input" for 422,
/// "not found", ...).
std::string_view errorKind(int status);

/// The JSON error response for a status and detail (a 500's detail is replaced by
/// "internal error"). Adds Allow for 405 when `allow` is set.
http::Response errorResponse(int status, std::string_view detail, std::string_view allow = {});
inline http::Response errorResponse(const HttpError& e) {
  return errorResponse(e.status(), e.detail(), e.allow());
}

}  // namespace berth::sdk
