#include "runtime/sync.h"

#include <sys/socket.h>

#include <string>

namespace berth::runtime {

Result<void> sendSync(int fd, SyncMsg type, std::string_view payload) {
  std::string buf;
  buf.reserve(payload.size() + 1);
  buf.push_back(static_cast<char>(type));
  buf.append(payload);
  for (;;) {
    ssize_t n = ::send(fd, buf.data(), buf.size(), MSG_NOSIGNAL);
    if (n >= 0) return {};
    if (errno != EINTR) return failErrno("sync send");
  }
}

Result<std::pair<SyncMsg, std::string>> recvSync(int fd) {
  // Peek at the message's size first (SOCK_SEQPACKET keeps boundaries; MSG_TRUNC reports the
  // full length): a fixed 64 KiB buffer cost 16 page faults per call, in parent and init.
  std::string buf;
  for (;;) {
    ssize_t len = ::recv(fd, nullptr, 0, MSG_PEEK | MSG_TRUNC);
    if (len < 0 && errno == EINTR) continue;
    if (len < 0) return failErrno("sync receive");
    buf.resize(static_cast<size_t>(len > 0 ? len : 1));
    ssize_t n = ::recv(fd, buf.data(), buf.size(), 0);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return failErrno("sync receive");
    if (n == 0) return fail(Error(EPIPE, "container init exited during setup"));
    return std::pair{static_cast<SyncMsg>(buf[0]), buf.substr(1, static_cast<size_t>(n) - 1)};
  }
}

}  // namespace berth::runtime
