#pragma once
/// The admin API on a unix socket (`admin_socket: /run/berth/proxy.sock`): the same handler as
/// the loopback TCP admin, for callers (the engine, the stack orchestrator) that should not
/// need a port. One request per connection (answered with Connection: close), served on a
/// thread of its own; a client gets 2 s to send its request. The socket file is created with
/// mode 0600 (only its owner may drive the proxy) and removed on stop.

#include <functional>
#include <memory>
#include <string>

#include "common/error.h"
#include "http/message.h"

namespace berth::mesh {

class UnixAdmin {
 public:
  UnixAdmin(std::string path, std::function<http::Response(http::Request&)> handler);
  ~UnixAdmin();  ///< stop()
  /// Bind and start serving. Errors: a path that exists and is not a socket, bind errno.
  Result<void> start();
  void stop();
  const std::string& path() const { return path_; }

 private:
  void serve();
  void handle(int fd);
  std::string path_;
  std::function<http::Response(http::Request&)> handler_;
  struct State;
  std::unique_ptr<State> st_;
};

}  // namespace berth::mesh
