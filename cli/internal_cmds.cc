// Hidden entry points dispatched before CLI11 parsing.
//   berth __monitor-exit ROOT RUNROOT ID attach|attach-stdin|detach CODE BACKOFF STARTED UNHEALTHY
//       the container monitor once its init exited (exec'd by berth-monitor; engine/monitor.cc)
#include <cstdlib>
#include <cstring>

#include "cli/commands.h"
#include "engine/engine.h"

namespace berth::cli {

int runInternalCommand(int argc, char** argv) {
  if (argc >= 2 && std::strcmp(argv[1], "__monitor-exit") == 0) {
    if (argc != 10) return 2;
    return berth::engine::runMonitorExit(argv[2], argv[3], argv[4],
                                         std::strncmp(argv[5], "attach", 6) == 0,
                                         std::strcmp(argv[5], "attach-stdin") == 0,
                                         std::atoi(argv[6]), std::atoll(argv[7]),
                                         std::atoll(argv[8]), std::strcmp(argv[9], "1") == 0);
  }
  return -1;
}

}  // namespace berth::cli
