#pragma once
/// Named network namespaces: a new netns pinned by a bind mount on a file (like `ip netns add`),
/// so CNI plugins and the runtime can join it by path, and removal that unmounts and unlinks.

#include <functional>
#include <string>

#include "common/error.h"

namespace berth::network {

/// Create a fresh network namespace pinned at `path` (parent dirs are created) with its
/// loopback up. Fails with EEXIST if `path` already exists. On error nothing is left behind.
Result<void> createNetns(const std::string& path);

/// Unmount and unlink `path`. A missing path is fine (idempotent, for crash recovery).
Result<void> removeNetns(const std::string& path);

/// Run `fn` with the calling thread inside the netns at `path` (in a helper thread, so the
/// caller's own namespace never changes). Returns fn's result.
Result<void> inNetns(const std::string& path, const std::function<Result<void>()>& fn);

}  // namespace berth::network
