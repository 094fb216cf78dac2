#pragma once
/// The `berth` command line: global options and the registration hook of each verb group.
/// One file per verb group (runtime_cmds.cc, image_cmds.cc, ...); no policy lives in cli/:
/// each verb parses its flags, calls one layer's API and reports the result.

#include <CLI/CLI.hpp>
#include <string>

#include "common/error.h"

namespace berth::cli {

struct Globals {
  std::string root = "/var/lib/berth";  ///< images, records
  std::string runroot = "/run/berth";   ///< runtime state
  std::string logLevel = "warn";
  bool debug = false;
  int exitCode = 0;  ///< set by the verb that ran
};

/// Docker's exit codes for the CLI itself.
inline constexpr int kExitEngineError = 125;
inline constexpr int kExitCannotInvoke = 126;
inline constexpr int kExitNotFound = 127;

/// Print "Error: <message>" on one line to stderr; returns kExitEngineError.
int reportError(const Error& e);
/// Print "Error: <message>" on one line to stderr; returns kExitEngineError.
int reportError(const std::string& message);

void registerRuntimeCommands(CLI::App& app, Globals& g);    // runtime_cmds.cc   (issue 2)
void registerImageCommands(CLI::App& app, Globals& g);      // image_cmds.cc     (issue 3)
void registerBuildCommands(CLI::App& app, Globals& g);      // build_cmds.cc     (issue 4)
void registerContainerCommands(CLI::App& app, Globals& g);  // container_cmds.cc (issue 5)
void registerProxyCommands(CLI::App& app, Globals& g);      // proxy_cmds.cc     (issue 7)

/// Hidden entry points that must run before CLI11 parsing (e.g. the per-container monitor).
/// Return -1 if argv is not theirs.
int runInternalCommand(int argc, char** argv);  // internal_cmds.cc (issue 5)

}  // namespace berth::cli
