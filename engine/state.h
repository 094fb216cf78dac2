#pragma once
/// Container states as the engine records them, and the lifecycle predicates every verb
/// checks first (youki's habit): `if (!rec.state.canStop()) return fail(...)`.

#include <optional>
#include <string>
#include <string_view>

namespace berth::engine {

enum class State {
  kCreating,    ///< a CLI is building the container (owner pid recorded); not usable yet
  kCreated,     ///< record, rootfs dir and config exist; never started (or reset)
  kRunning,     ///< a monitor runs the init
  kPaused,      ///< cgroup frozen
  kRestarting,  ///< the monitor waits out a restart backoff
  kExited,      ///< stopped; exit code and time recorded
  kRemoving,    ///< a CLI is tearing it down (owner pid recorded)
  kDead,        ///< a create/remove was interrupted (kill -9): only `rm` is allowed
};

std::string_view stateName(State s);
std::optional<State> parseState(std::string_view s);

/// Lifecycle predicates. `State` is a plain enum; these are the rules.
struct Lifecycle {
  State s;
  bool canStart() const { return s == State::kCreated || s == State::kExited; }
  bool canStop() const {
    return s == State::kRunning || s == State::kPaused || s == State::kRestarting;
  }
  bool canKill() const { return s == State::kRunning || s == State::kPaused; }
  bool canPause() const { return s == State::kRunning; }
  bool canUnpause() const { return s == State::kPaused; }
  bool canExec() const { return s == State::kRunning; }
  bool canRename() const { return s != State::kRemoving && s != State::kCreating; }
  /// Without force only stopped containers go; force also stops running ones first.
  bool canRemove(bool force) const {
    if (s == State::kExited || s == State::kCreated || s == State::kDead) return true;
    return force && s != State::kCreating && s != State::kRemoving;
  }
  bool isActive() const { return canStop(); }
};

}  // namespace berth::engine
