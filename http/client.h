#pragma once
/// Async HTTP/1.1 client on Asio coroutines with a per-endpoint connection pool, per-request
/// timeouts, chunked and Content-Length bodies both ways, and the strict response parser of
/// http/parser.h. One Client belongs to one executor (one worker's io_context); it is not
/// thread-safe. `fetch()` is a blocking one-shot helper for tests, exporters and the CLI.

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "common/error.h"
#include "http/message.h"
#include "http/parser.h"

namespace berth::http {

/// Where to send: a host name or numeric address, and a port.
struct Endpoint {
  std::string host;
  uint16_t port = 80;
  std::string key() const;  ///< "host:port", the pool key
};

/// "http://host[:port][/path?query]" split up. Errors: other schemes, bad ports, junk.
struct Url {
  Endpoint endpoint;
  std::string target = "/";
};
Result<Url> parseUrl(std::string_view url);

struct ClientOptions {
  std::chrono::milliseconds connectTimeout{2000};
  std::chrono::milliseconds requestTimeout{30000};  ///< default for request()
  std::chrono::milliseconds idleTimeout{30000};     ///< pooled connections older are closed
  size_t maxIdlePerEndpoint = 64;
  Limits limits{.maxHeadBytes = 64 * 1024, .maxHeaders = 200, .maxTargetBytes = 8 * 1024,
                .maxBodyBytes = 64ull << 20};
};

/// Decides, once a response head is in, whether its body is handed over as
/// Response::bodySource (read piece by piece by the caller, e.g. relayed by a proxy as it
/// arrives) instead of being read whole. Asked only for responses that have a body; `length`
/// is the Content-Length, if any. A plain function and context: no allocation per request.
struct StreamIf {
  bool (*decide)(const void* ctx, const Response& head, std::optional<uint64_t> length) = nullptr;
  const void* ctx = nullptr;
};

class Client {
 public:
  explicit Client(boost::asio::any_io_executor executor, ClientOptions options = {});
  ~Client();
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  /// Send `req` to `to` and read the whole response. Adds Host (if missing) and frames the
  /// body with Content-Length (or passes Transfer-Encoding: chunked through if the caller set
  /// it; the body is then chunk-encoded). Reuses a pooled connection when one is idle; a
  /// request on a reused connection that fails before any response byte is retried once on a
  /// new connection if the method is idempotent (GET, HEAD, PUT, DELETE, OPTIONS, TRACE).
  /// `timeout` (default ClientOptions::requestTimeout) bounds connect + write + read.
  /// Errors: resolve/connect errno, ErrorCode::kTimeout, kCorrupt for a malformed response.
  boost::asio::awaitable<Result<Response>> request(Endpoint to, Request req,
                                                   std::optional<std::chrono::milliseconds>
                                                       timeout = std::nullopt);
  /// request() for a caller that keeps its request: `req` is serialized before this returns
  /// (the caller may change or re-send it at once, e.g. a proxy's retry), and nothing of it is
  /// copied otherwise. The connection pool reuses a connection idle for less than a second
  /// without probing it when the method is idempotent (a dead one is then retried as above);
  /// others are probed with a non-blocking MSG_PEEK first.
  ///
  /// With `streamIf`, a response it chooses comes back with its head only and the body in
  /// `bodySource` (no size limit; the connection goes back to the pool once the body has been
  /// read to its end, and is closed if the source is dropped before). The timeout then
  /// bounds the exchange up to the head, and each wait for a further piece of the body.
  boost::asio::awaitable<Result<Response>> send(const Endpoint& to, const Request& req,
                                                std::optional<std::chrono::milliseconds>
                                                    timeout = std::nullopt,
                                                const StreamIf* streamIf = nullptr);
  /// Close every pooled idle connection.
  void closeIdle();
  size_t idleConnections() const;

  struct Impl;

 private:
  std::shared_ptr<Impl> impl_;
};

/// Blocking request on a private io_context: `fetch("http://127.0.0.1:8080/add", req)`.
/// req.target is taken from the URL.
Result<Response> fetch(std::string_view url, Request req,
                       std::chrono::milliseconds timeout = std::chrono::milliseconds(10000));

}  // namespace berth::http
