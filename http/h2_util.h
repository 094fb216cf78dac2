#pragma once
/// Internal to berth_http: conversions between http::Request/Response and h2::Message.

#include <string>

#include "http/body_source.h"
#include "http/h2_session.h"
#include "http/message.h"

namespace berth::http::h2detail {

/// A received request message -> Request (method, target, Host from :authority, fields,
/// body, trailers). Returns why it cannot be served ("" if fine).
std::string fromRequestMessage(h2::Message m, Request& out);
/// Response -> message: :status, lower-cased fields without connection-specific ones,
/// content-length of the body (not for HEAD, 1xx, 204, 304), body, trailers.
/// With `streamed` (the body to come from r.bodySource), no body and the source's length.
h2::Message toResponseMessage(const Response& r, bool head, const BodySource* streamed = nullptr);
/// Request -> message for an upstream: :method, :scheme http, :authority (Host, else
/// `authority`), :path; "te: trailers" kept, other connection-specific fields and Host dropped.
/// With `streamed` (the body to come from r.bodySource), no body and the source's length.
h2::Message toRequestMessage(const Request& r, std::string_view authority,
                             const BodySource* streamed = nullptr);
/// Fields -> h2 fields for trailers: lower-cased, without connection-specific ones.
std::vector<h2::HeaderField> trailerFields(const Headers& h);
/// A received response message -> Response.
Response fromResponseMessage(h2::Message m);
/// Append `name` lower-cased.
void appendLower(std::string& out, std::string_view name);

}  // namespace berth::http::h2detail
