#pragma once
/// berth-proxy is built twice: on io_uring (Asio's io_uring backend; rings with cooperative
/// task running) and on epoll, the twin installed beside it as "berth-proxy-epoll". On these
/// VMs the io_uring build spends 13-28 % less CPU per proxied request (docs/benchmarks.md),
/// but io_uring is often unavailable: container seccomp profiles (Docker's default) refuse it,
/// kernel.io_uring_disabled, kernels before 5.19. Asio picks its backend at compile time,
/// hence the two builds. Any program linking the <lib>_uring libraries can do the same.

#include "common/error.h"

namespace berth::http {

/// Call first thing in main(), before any io_context exists. In the io_uring build: if
/// io_uring cannot be used here (a probe ring with one no-op) or BERTH_IO=epoll is set, exec
/// the epoll twin with the same argv and environment; returns only if this binary should go
/// on, or with an error naming why neither can run. In the epoll build: returns at once.
Result<void> ensureIoBackend(char** argv);

}  // namespace berth::http
