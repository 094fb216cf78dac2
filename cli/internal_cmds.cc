#include "cli/commands.h"

namespace berth::cli {

int runInternalCommand(int /*argc*/, char** /*argv*/) { return -1; }

}  // namespace berth::cli
