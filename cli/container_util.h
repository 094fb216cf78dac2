#pragma once
// Helpers shared by the container verbs (container_cmds.cc) and the volume/network/system
// verbs (resource_cmds.cc).

#include <memory>
#include <string>
#include <vector>

#include "cli/commands.h"
#include "engine/engine.h"

namespace berth::cli {

/// Open the engine for --root/--runroot; on failure prints the error, sets g.exitCode and
/// returns null.
std::unique_ptr<engine::Engine> openEngine(Globals& g);

/// Run `fn(engine, ref)` for each ref; each failure is printed and sets g.exitCode, and the
/// loop goes on (Docker's behaviour for `rm a b c`).
template <typename Fn>
void forEach(Globals& g, const std::vector<std::string>& refs, Fn fn) {
  auto e = openEngine(g);
  if (!e) return;
  for (auto& r : refs) {
    auto res = fn(*e, r);
    if (!res) g.exitCode = reportError(res.error());
  }
}

/// Bytes as "1.50MiB" (binary units, two decimals), or "512B".
std::string human(int64_t b);
/// Print rows as left-aligned columns, three spaces apart; row 0 is the header.
void printTable(const std::vector<std::vector<std::string>>& rows);

void registerVolumes(CLI::App& app, Globals& g);
void registerNetworks(CLI::App& app, Globals& g);
void registerSystem(CLI::App& app, Globals& g);

}  // namespace berth::cli
