#pragma once
/// Helpers shared by the Runtime verbs (create.cc, runtime.cc, exec.cc). Not a public API.

#include <string>

#include "runtime/runtime.h"
#include "runtime/state_store.h"

namespace berth::runtime {

/// The State fields of a record (status left as stopped; see computeStatus).
State recordToState(const Record& r);
/// Live status: stopped if the init is gone (or its pid was recycled), created while the exec
/// fifo exists, paused if the cgroup is frozen, else running.
Status computeStatus(const std::string& dir, const Record& r);

}  // namespace berth::runtime
