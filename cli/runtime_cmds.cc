// `berth runtime ...`: the OCI runtime's verbs (runc's command line), the same code as
// `berth-runtime`. The state root defaults to <runroot>/runtime.
#include <string>
#include <vector>

#include "cli/commands.h"
#include "runtime/cli.h"

namespace berth::cli {

void registerRuntimeCommands(CLI::App& app, Globals& g) {
  auto* cmd = app.add_subcommand(
      "runtime", "OCI runtime verbs (runc's command line): create start run state kill delete "
                 "exec ps list pause resume update spec features");
  cmd->prefix_command();
  cmd->fallthrough(false);
  cmd->allow_extras();
  cmd->set_help_flag();
  cmd->callback([cmd, &g] {
    std::vector<std::string> args = {"berth runtime", "--root", g.runroot + "/runtime"};
    if (g.debug) args.push_back("--debug");
    for (const auto& a : cmd->remaining()) args.push_back(a);
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    g.exitCode = berth::runtime::cliMain(static_cast<int>(args.size()), argv.data());
  });
}

}  // namespace berth::cli
