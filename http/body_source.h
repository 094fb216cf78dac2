#pragma once
/// A response body produced piece by piece: a proxy relaying an upstream body as it arrives
/// (server-sent events, long downloads) instead of holding all of it. See Response::bodySource.

#include <boost/asio/awaitable.hpp>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "common/error.h"
#include "http/message.h"

namespace berth::http {

class BodySource {
 public:
  virtual ~BodySource() = default;
  /// The next piece of the body, valid until the next call; an empty view at the end. An
  /// error ends the body early: an HTTP/1.1 server then closes the connection without ending
  /// the body, so the client sees it cut short.
  virtual boost::asio::awaitable<Result<std::string_view>> next() = 0;
  /// The whole length, when known up front (sent as Content-Length; otherwise chunked).
  virtual std::optional<uint64_t> length() const = 0;
  /// Trailer fields that came after the body (an HTTP/2 stream's, e.g. gRPC's grpc-status),
  /// once next() has returned the end; null if none. HTTP/2 sends them on; HTTP/1.1 drops them.
  virtual const Headers* trailers() const { return nullptr; }
  /// The reader is giving up (its connection closed): a next() that is waiting should return
  /// an error soon rather than when more data comes. Optional.
  virtual void cancel() {}
};

/// Read the rest of `src` into `out` (appending). Errors: the source's, or kInvalidArgument
/// past `limit` bytes.
boost::asio::awaitable<Result<void>> drainBody(BodySource& src, std::string& out, uint64_t limit);

}  // namespace berth::http
