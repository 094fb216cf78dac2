#pragma once
/// HTTP/2 cleartext client (prior knowledge, no Upgrade): requests to an endpoint share one
/// connection as concurrent streams (more connections only when the peer's
/// SETTINGS_MAX_CONCURRENT_STREAMS is reached). The Request's body and `trailers` go out (or
/// its bodySource, piece by piece as the peer's window allows, beside the wait for the
/// answer); the Response comes back whole with its body and `trailers`, or, where a StreamIf
/// says so, at its head with a bodySource that yields the body as it arrives (and the
/// trailers at its end). Same shape as http::Client: one H2Client per executor, not
/// thread-safe.

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>

#include <chrono>
#include <memory>
#include <optional>

#include "http/client.h"
#include "http/h2_session.h"

namespace berth::http {

struct H2ClientOptions {
  std::chrono::milliseconds connectTimeout{2000};
  std::chrono::milliseconds requestTimeout{30000};
  /// A streamed response body that gets nothing for this long fails (Envoy's
  /// stream_idle_timeout default).
  std::chrono::milliseconds streamIdleTimeout{300000};
  h2::SessionOptions session{.maxConcurrentStreams = 100,
                             .initialWindowSize = 1u << 20,
                             .connectionWindowSize = 16u << 20,
                             .maxFrameSize = h2::kDefaultMaxFrameSize,
                             .maxHeaderListSize = 64 * 1024,
                             .maxBodyBytes = 64ull << 20};
};

class H2Client {
 public:
  explicit H2Client(boost::asio::any_io_executor executor, H2ClientOptions options = {});
  ~H2Client();  ///< closes every connection; requests in flight fail
  H2Client(const H2Client&) = delete;
  H2Client& operator=(const H2Client&) = delete;

  /// Send `req` as one stream and wait for the whole response. Errors: "connect ...:" for
  /// connect failures (refused, timeout), ErrorCode::kTimeout for the request timeout (the
  /// stream is then cancelled), ECONNRESET "h2 stream reset: CODE" for a reset stream or a
  /// closed connection (REFUSED_STREAM and streams above a GOAWAY were not processed).
  /// A req.bodySource is read after this returns (a bidirectional call), so it must stay
  /// valid on its own (a server's streamed request body does: an HTTP/2 stream's, and an
  /// HTTP/1.1 connection's, whose reads fail once its handler has returned); its failure is
  /// ErrorCode::kRequestBody. `timeout`
  /// covers the wait for the response head; a streamed body then has streamIdleTimeout.
  boost::asio::awaitable<Result<Response>> request(Endpoint to, Request req,
                                                   std::optional<std::chrono::milliseconds>
                                                       timeout = std::nullopt,
                                                   const StreamIf* streamIf = nullptr);
  /// Close every connection (requests in flight fail).
  void close();
  /// Open connections (all endpoints).
  size_t connections() const;

  struct Impl;

 private:
  std::shared_ptr<Impl> impl_;
};

}  // namespace berth::http
