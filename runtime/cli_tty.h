#pragma once
/// The console for `run`/`exec --tty` when no --console-socket is given (a human at a
/// terminal): a private console socket receives the pty master, and the runtime proxies it to
/// its own stdin/stdout (raw mode, window size) until the container closes it.

#include <string>

#include "common/error.h"
#include "common/unique_fd.h"

namespace berth::runtime {

class ConsoleProxy {
 public:
  /// Listen on a fresh socket under `dir`; path() is what to pass as consoleSocket.
  static Result<ConsoleProxy> listen(const std::string& dir);
  ConsoleProxy(ConsoleProxy&&) = default;
  ~ConsoleProxy();
  const std::string& path() const { return path_; }
  /// After create/exec connected: receive the pty master.
  Result<void> acceptMaster();
  /// Copy stdin -> pty and pty -> stdout until the pty closes.
  void proxy();

 private:
  ConsoleProxy() = default;
  std::string dir_, path_;
  UniqueFd listen_, master_;
};

}  // namespace berth::runtime
