#pragma once
/// The berth-proxy command, shared by the `berth-proxy` binary and `berth proxy`.

#include <CLI/CLI.hpp>

#include <string>

namespace berth::mesh {

struct RunOptions {
  std::string configPath;
  bool checkOnly = false;   ///< validate the config, print a summary, exit
  std::string logLevel = "info";
  bool logJson = false;
  int watchMs = 1000;       ///< config file poll interval
};

/// Add berth-proxy's flags to `app`, writing into `o`.
void addRunFlags(CLI::App& app, RunOptions& o);

/// Run until SIGTERM/SIGINT (graceful drain) ; SIGHUP reloads the config. Returns the exit
/// code: 0 after a clean stop, 1 for a bad config or a bind failure (one line on stderr).
int runProxy(const RunOptions& o);

}  // namespace berth::mesh
