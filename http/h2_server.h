#pragma once
/// HTTP/2 cleartext (h2c, prior knowledge) connections behind an AsyncHandler, on the worker
/// threads of an http::Server: set `ServerOptions::h2cHandoff` to `h2.handoff()` and the
/// server hands over each connection that starts with the HTTP/2 preface. Requests reach the
/// handler as http::Request (method, target = :path, a Host field from :authority, the other
/// fields, the whole body, and `trailers`, or a bodySource: see streamRequestBodiesAbove);
/// the handler's Response goes back as HEADERS, DATA and, if it has `trailers`, a trailing
/// HEADERS (gRPC's grpc-status). A Response::bodySource is sent as it yields, its trailers()
/// at the end (a relayed gRPC server stream). Streams of one connection are served
/// concurrently. Thread-safe: handoff() runs on each worker.

#include <boost/asio/any_io_executor.hpp>

#include <chrono>
#include <functional>
#include <memory>
#include <string_view>

#include "http/h2_session.h"
#include "http/server.h"

namespace berth::http {

struct H2ServerOptions {
  h2::SessionOptions session;
  std::chrono::milliseconds idleTimeout{60000};  ///< no open stream and no frame for this long
  /// A request body still to come when its headers arrive reaches the handler as
  /// Request::bodySource (read as it arrives) if its length is unknown or above this;
  /// otherwise it is read whole first. The default never streams.
  uint64_t streamRequestBodiesAbove = UINT64_MAX;
  /// A streamed request body that gets nothing for this long fails (Envoy's
  /// stream_idle_timeout default: a client stream may be quiet for minutes).
  std::chrono::milliseconds streamIdleTimeout{300000};
  /// drain(): streams still open this long after the GOAWAY are cut (a long-lived gRPC
  /// stream does not hold a shutdown).
  std::chrono::milliseconds drainTimeout{10000};
};

class H2Server {
 public:
  explicit H2Server(AsyncHandler handler, H2ServerOptions options = {});
  ~H2Server();  ///< closes what is left (call after the http::Server's workers have stopped)
  H2Server(const H2Server&) = delete;
  H2Server& operator=(const H2Server&) = delete;

  /// Serve `fd` (a connected TCP socket) on the calling worker's executor; `received` holds
  /// the bytes already read, starting with the preface.
  void serve(int fd, std::string_view received);
  /// The callback for ServerOptions::h2cHandoff (keeps this H2Server's state alive).
  std::function<void(int, std::string_view)> handoff();
  /// Send GOAWAY(NO_ERROR) on every connection; each closes when its streams are done.
  void drain();
  /// Open connections now.
  size_t connections() const;

  struct Shared;

 private:
  std::shared_ptr<Shared> shared_;
};

}  // namespace berth::http
