// Hidden entry points dispatched before CLI11 parsing.
//   berth __monitor ROOT RUNROOT ID attach|detach   the per-container monitor (engine/monitor.cc)
#include <cstring>

#include "cli/commands.h"
#include "engine/engine.h"

namespace berth::cli {

int runInternalCommand(int argc, char** argv) {
  if (argc >= 2 && std::strcmp(argv[1], "__monitor") == 0) {
    if (argc != 6) return 2;
    return berth::engine::runMonitor(argv[2], argv[3], argv[4], std::strcmp(argv[5], "attach") == 0);
  }
  return -1;
}

}  // namespace berth::cli
