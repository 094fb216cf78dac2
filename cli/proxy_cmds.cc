#include "cli/commands.h"
#include "mesh/run.h"

namespace berth::cli {

// `berth proxy --config mesh.yaml [--check]`: the same command as berth-proxy.
void registerProxyCommands(CLI::App& app, Globals& g) {
  auto* cmd = app.add_subcommand("proxy", "run the service mesh proxy (same as berth-proxy)");
  auto o = std::make_shared<mesh::RunOptions>();
  mesh::addRunFlags(*cmd, *o);
  cmd->callback([o, &g] { g.exitCode = mesh::runProxy(*o) == 0 ? 0 : kExitEngineError; });
}

}  // namespace berth::cli
