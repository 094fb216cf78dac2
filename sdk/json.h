#pragma once
/// JSON request/response helpers on nlohmann::json.

#include <nlohmann/json.hpp>

#include <string_view>

#include "http/message.h"
#include "sdk/errors.h"

namespace berth::sdk {

using Json = nlohmann::json;

/// True when a Content-Type may carry JSON: absent, application/json, application/*+json, or
/// application/x-www-form-urlencoded (what `curl -d` sends by default; the body must still
/// parse as JSON).
bool jsonContentType(std::string_view contentType);

/// Parse text as JSON, strictly: throws HttpError 400 (malformed, with the byte offset) or
/// 422 (a number that does not fit: an integer literal beyond 64 bits, or a float that
/// overflows a double).
Json parseJson(std::string_view text);

/// The request's body as JSON: 415 for a non-JSON Content-Type, 400 for an empty body, then
/// parseJson's errors.
Json parseJsonBody(const http::Request& req);
/// parseJsonBody into `out`. When the body is a flat object of plain strings, numbers and
/// literals (the usual request) and `out` already holds an object with the same keys, the
/// values are replaced in place: a service that parses one request after another into the
/// same Json allocates nothing. Same results and errors as parseJsonBody.
void parseJsonBodyInto(const http::Request& req, Json& out);

/// The fast path of parseJson: parses `text` into `out` and returns true when it is a flat
/// object (no nesting, no escapes, ASCII keys and strings, numbers that fit); returns false
/// and leaves `out` untouched otherwise (the full parser then decides). Exposed for tests.
bool parseFlatObject(std::string_view text, Json& out);

/// A response with `body.dump()` and Content-Type application/json.
http::Response jsonResponse(int status, const Json& body);

}  // namespace berth::sdk
