#pragma once
/// HTTP/1.1 server on Asio with C++20 coroutines: one io_context per worker thread, each with
/// its own SO_REUSEPORT listening socket; keep-alive, pipelining (responses are batched into
/// one write), chunked bodies both ways, Expect: 100-continue, limits and timeouts, and a
/// graceful drain. Requests are parsed by http/parser.h (strict RFC 9112); a bad request gets
/// a 4xx/5xx from `ServerOptions::errorResponse` and the connection is closed.
///
/// Three handler shapes, set one:
///  - Handler:       Response(Request&)               full body, runs inline (fastest)
///  - AsyncHandler:  awaitable<Response>(Request&)     full body, may co_await (e.g. a Client)
///  - StreamHandler: awaitable<void>(Request&, BodyReader&, ResponseWriter&)
///                   the head only; the body is read and the response written piece by piece
///                   (a proxy). The handler runs on the worker's io_context.
///
/// Thread-safety: configure, then listen()/start() or run(); drain()/stop() from any thread.

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "common/error.h"
#include "http/message.h"
#include "http/parser.h"

namespace berth::http {

using Millis = std::chrono::milliseconds;

struct ServerOptions {
  std::string host = "0.0.0.0";  ///< numeric IPv4 or IPv6 address to bind
  uint16_t port = 80;            ///< 0 picks a free port (see Server::port())
  int workers = 1;               ///< threads, each with an io_context and a listening socket
  Limits limits;
  Millis idleTimeout{60000};     ///< keep-alive connection with no request, or no I/O progress
  Millis headerTimeout{10000};   ///< first byte of a request to the end of its head (slowloris)
  Millis bodyTimeout{60000};     ///< end of head to end of body
  Millis drainTimeout{10000};    ///< drain(): longest wait for in-flight requests
  size_t maxConnectionsPerWorker = 10000;  ///< beyond this, new connections are closed at once
  /// Builds the response for a request the server rejects itself (parse errors, limits,
  /// timeouts while reading). Default: text/plain "<status> <reason>: <detail>".
  std::function<Response(int status, std::string_view detail)> errorResponse;
  /// Called on the worker thread for every request the server answers itself (parse errors,
  /// limits, 408 timeouts), after errorResponse: the status, the detail, and what was parsed of
  /// the request (method and target are empty when the request line itself was bad;
  /// remoteAddr is set). For access logs.
  std::function<void(int status, std::string_view detail, const Request& partial)> onRejected;
  /// HTTP/2 with prior knowledge (h2c) on the same port: when set, a connection whose first
  /// bytes are the HTTP/2 preface is handed over on its worker thread: the socket's fd
  /// (ownership passes) and the bytes read so far. See http/h2_server.h.
  std::function<void(int fd, std::string_view received)> h2cHandoff;
  /// While draining, the workers also wait (up to drainTimeout) while this returns true:
  /// connections handed off by h2cHandoff (H2Server::connections() > 0). Polled every 20 ms.
  std::function<bool()> drainBusy;
  /// AsyncHandler: a request body longer than this, or chunked and not all in at once,
  /// reaches the handler as Request::bodySource, read as it arrives (Limits::maxBodyBytes does
  /// not apply to it; each wait for more is bounded by bodyTimeout). 0: never (the default).
  uint64_t streamRequestBodiesAbove = 0;
};

/// Reads the body of the current request (StreamHandler). Not thread-safe; use on the
/// handler's own coroutine.
class BodyReader {
 public:
  virtual ~BodyReader() = default;
  /// The next piece of the body (a view valid until the next call); empty view at the end.
  /// Errors: body timeout, connection closed, framing errors (the server then answers the
  /// status in the error's message if nothing was written yet, and closes).
  virtual boost::asio::awaitable<Result<std::string_view>> read() = 0;
  /// Read the rest of the body into `out` (appending), up to Limits::maxBodyBytes.
  virtual boost::asio::awaitable<Result<void>> readAll(std::string& out) = 0;
  /// True once the whole body has been read.
  virtual bool done() const = 0;
  /// Declared length, if the request had Content-Length.
  virtual std::optional<uint64_t> length() const = 0;
};

/// Writes the response of the current request (StreamHandler).
class ResponseWriter {
 public:
  virtual ~ResponseWriter() = default;
  /// Send the status line and headers. With `contentLength` the body must be exactly that
  /// long; without, it is sent chunked (HTTP/1.1) or until close (HTTP/1.0). Hop-by-hop
  /// framing fields in `headers` (Content-Length, Transfer-Encoding, Connection) are replaced.
  virtual boost::asio::awaitable<Result<void>> writeHead(int status, const Headers& headers,
                                                         std::optional<uint64_t> contentLength) = 0;
  /// Send a piece of the body (after writeHead).
  virtual boost::asio::awaitable<Result<void>> write(std::string_view data) = 0;
  /// End the body (the last chunk for chunked). Called by the server if the handler did not.
  virtual boost::asio::awaitable<Result<void>> finish() = 0;
  /// Send a whole response at once (head + body), as a Handler's return value would be.
  virtual boost::asio::awaitable<Result<void>> send(Response response) = 0;
  virtual bool headSent() const = 0;
};

using Handler = std::function<Response(Request&)>;
using AsyncHandler = std::function<boost::asio::awaitable<Response>(Request&)>;
using StreamHandler =
    std::function<boost::asio::awaitable<void>(Request&, BodyReader&, ResponseWriter&)>;

/// Live counters (approximate when read from another thread).
struct ServerStats {
  uint64_t connections = 0;      ///< open now
  uint64_t requests = 0;         ///< served since start
  uint64_t rejected = 0;         ///< answered by the server itself (parse errors, limits)
};

class Server {
 public:
  explicit Server(ServerOptions options);
  ~Server();  ///< stops and joins the workers
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  void setHandler(Handler h);
  void setAsyncHandler(AsyncHandler h);
  void setStreamHandler(StreamHandler h);

  /// Bind and listen on every worker's socket. Errors: bad address, bind/listen errno.
  Result<void> listen();
  /// The bound port (after listen()).
  uint16_t port() const;
  /// listen() if needed, then run the workers in background threads and return.
  Result<void> start();
  /// start(), then block until the server has stopped (after drain() or stop()).
  Result<void> run();
  /// Stop accepting, close idle connections, let in-flight requests finish (their responses
  /// carry Connection: close), then stop; in-flight work left after drainTimeout is cut.
  /// Returns at once; wait() blocks until done. Safe from any thread (not from a signal
  /// handler: use a signal thread or an asio::signal_set).
  void drain();
  /// Stop now, closing every connection.
  void stop();
  /// Block until every worker thread has ended.
  void wait();
  ServerStats stats() const;
  const ServerOptions& options() const;

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

/// Executor of the worker running the calling handler (valid inside handlers only); lets a
/// handler create a Client bound to its own worker.
boost::asio::any_io_executor currentWorkerExecutor();

}  // namespace berth::http
