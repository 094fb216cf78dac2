#pragma once
/// OCI hooks: run a hook binary with the container state JSON on stdin, honouring its
/// timeout. Uses posix_spawn (safe in multi-threaded callers).

#include <string>
#include <vector>

#include "common/error.h"
#include "oci/runtime_spec.h"

namespace berth::runtime {

/// Errors: spawn failure, non-zero exit ("hook <kind>[i] <path>: exit status 3"), timeout
/// (the hook is killed).
Result<void> runHook(const oci::Hook& hook, std::string_view stateJson, std::string_view what);
/// Run each in order; stop at the first failure.
Result<void> runHooks(const std::vector<oci::Hook>& hooks, std::string_view stateJson,
                      std::string_view kind);

}  // namespace berth::runtime
