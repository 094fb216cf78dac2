#pragma once
/// berth's HTTP programs (berth-proxy, calc) are built twice: on io_uring (Asio's io_uring
/// backend; rings with cooperative task running) and on epoll, the twin installed beside the
/// first as "<name>-epoll". On this VM the io_uring build spends ~15-30 % less CPU per request
/// (docs/benchmarks.md), but io_uring is often unavailable: container seccomp profiles (Docker's
/// default) refuse it, kernel.io_uring_disabled, kernels before 5.19. Asio picks its backend at
/// compile time, hence the two builds.

#include "common/error.h"

namespace berth::http {

/// Call first thing in main(), before any io_context exists. In the io_uring build: if
/// io_uring cannot be used here (a probe ring with one no-op) or BERTH_IO=epoll is set, exec
/// the epoll twin with the same argv and environment; returns only if this binary should go
/// on, or with an error naming why neither can run. In the epoll build: returns at once.
Result<void> ensureIoBackend(char** argv);

/// "io_uring" or "epoll": what this binary was built on.
const char* ioBackendName();

}  // namespace berth::http
