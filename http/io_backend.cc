#include "http/io_backend.h"

#include <limits.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>

#if BERTH_IO_URING
#include <liburing.h>
#endif

#include "common/fs.h"

namespace berth::http {

namespace {
/// BERTH_IO: unset or empty, "io_uring" or "epoll"; anything else is an error.
Result<std::string_view> forcedBackend() {
  const char* force = std::getenv("BERTH_IO");
  std::string_view v = force ? force : "";
  if (!v.empty() && v != "epoll" && v != "io_uring")
    return fail(ErrorCode::kInvalidArgument,
                "BERTH_IO='" + std::string(v) + "': want io_uring or epoll");
  return v;
}
}  // namespace

#if BERTH_IO_URING

namespace {
// Rings with cooperative task running: completions are run when the thread next enters the
// kernel instead of interrupting it (the interrupts are what make Asio's default rings slower
// than epoll on these VMs: 24 vs 13 us of CPU per calc request; with these flags ~13 us).
constexpr unsigned kRingFlags = IORING_SETUP_COOP_TASKRUN | IORING_SETUP_TASKRUN_FLAG;

/// Empty if io_uring works here, else why not.
std::string probe() {
  io_uring ring;
  io_uring_params p{};
  p.flags = kRingFlags;
  int r = io_uring_queue_init_params(4, &ring, &p);
  if (r < 0) return std::string("io_uring_setup: ") + std::strerror(-r);
  std::string why;
  io_uring_sqe* sqe = io_uring_get_sqe(&ring);
  io_uring_prep_nop(sqe);
  r = io_uring_submit_and_wait(&ring, 1);
  io_uring_cqe* cqe = nullptr;
  if (r < 0)
    why = std::string("io_uring_enter: ") + std::strerror(-r);
  else if (io_uring_peek_cqe(&ring, &cqe) != 0 || !cqe)
    why = "io_uring: no completion for a no-op";
  io_uring_queue_exit(&ring);
  return why;
}
}  // namespace

// Asio's io_uring service creates its rings with io_uring_queue_init(16384, ring, 0); the
// programs are linked with --wrap=io_uring_queue_init so that they get here instead: the same
// ring with kRingFlags, 1024 submission entries (Asio submits when they run out) and room for
// 8192 completions, so an idle worker does not keep ~1.6 MiB of ring pages.
extern "C" int __wrap_io_uring_queue_init(unsigned entries, struct io_uring* ring, unsigned flags) {
  io_uring_params p{};
  p.flags = flags | kRingFlags | IORING_SETUP_CQSIZE;
  p.cq_entries = 8192;
  return io_uring_queue_init_params(entries < 1024 ? entries : 1024, ring, &p);
}

Result<void> ensureIoBackend(char** argv) {
  BERTH_ASSIGN(std::string_view force, forcedBackend());
  std::string why = force == "epoll" ? "BERTH_IO=epoll" : probe();
  if (why.empty()) return Result<void>();
  auto self = fs::selfExe();
  if (!self)
    return fail(Error(self.error().code(), "io_uring unusable (" + why + ") and " + self.error().message()));
  std::string twin = *self + "-epoll";
  execv(twin.c_str(), argv);
  return fail(Error(errno, "io_uring unusable (" + why + ") and the epoll build " + twin +
                               " cannot run: " + std::strerror(errno)));
}

#else

Result<void> ensureIoBackend(char**) {
  BERTH_TRY(forcedBackend());
  return Result<void>();
}

#endif

}  // namespace berth::http
