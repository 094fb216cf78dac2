#include "engine/state.h"

#include <array>
#include <utility>

namespace berth::engine {

namespace {
constexpr std::array<std::pair<State, std::string_view>, 8> kNames{{
    {State::kCreating, "creating"},
    {State::kCreated, "created"},
    {State::kRunning, "running"},
    {State::kPaused, "paused"},
    {State::kRestarting, "restarting"},
    {State::kExited, "exited"},
    {State::kRemoving, "removing"},
    {State::kDead, "dead"},
}};
}  // namespace

std::string_view stateName(State s) {
  for (auto& [st, n] : kNames)
    if (st == s) return n;
  return "unknown";
}

std::optional<State> parseState(std::string_view s) {
  for (auto& [st, n] : kNames)
    if (n == s) return st;
  return std::nullopt;
}

}  // namespace berth::engine
