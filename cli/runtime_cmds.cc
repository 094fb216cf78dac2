#include "cli/commands.h"

namespace berth::cli {

// Not implemented yet: the verbs of this group are added by its layer's work.
void registerRuntimeCommands(CLI::App& /*app*/, Globals& /*g*/) {}

}  // namespace berth::cli
