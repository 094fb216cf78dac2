#include "runtime/sync.h"

#include <sys/socket.h>

#include <vector>

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
  std::vector<char> buf(1 << 16);
  for (;;) {
    ssize_t n = ::recv(fd, buf.data(), buf.size(), 0);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return failErrno("sync receive");
    if (n == 0) return fail(Error(EPIPE, "container init exited during setup"));
    return std::pair{static_cast<SyncMsg>(buf[0]), std::string(buf.data() + 1, n - 1)};
  }
}

}  // namespace berth::runtime
