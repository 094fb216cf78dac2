#include <cstdio>

#include "cli/commands.h"
#include "common/log.h"

namespace berth::cli {

int reportError(const Error& e) { return reportError(e.message()); }

int reportError(const std::string& message) {
  std::fprintf(stderr, "Error: %s\n", message.c_str());
  return kExitEngineError;
}

}  // namespace berth::cli

int main(int argc, char** argv) {
  using namespace berth::cli;
  if (int rc = runInternalCommand(argc, argv); rc >= 0) return rc;

  Globals g;
  CLI::App app{"berth: build, run and connect containerized microservices (daemonless)"};
  app.require_subcommand(1);
  app.fallthrough();
  app.add_option("--root", g.root, "storage root: images, container records")
      ->capture_default_str();
  app.add_option("--runroot", g.runroot, "runtime state root")->capture_default_str();
  app.add_option("--log-level", g.logLevel, "debug|info|warn|error")->capture_default_str();
  app.add_flag("--debug", g.debug, "debug logging");
  app.parse_complete_callback([&g] {
    using berth::log::Level;
    Level l = Level::kWarn;
    if (g.debug || g.logLevel == "debug") l = Level::kDebug;
    else if (g.logLevel == "info") l = Level::kInfo;
    else if (g.logLevel == "error") l = Level::kError;
    berth::log::init(l);
  });

  registerRuntimeCommands(app, g);
  registerImageCommands(app, g);
  registerBuildCommands(app, g);
  registerContainerCommands(app, g);
  registerProxyCommands(app, g);

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    std::fprintf(stderr, "Error: %s\n", e.what());
    return kExitEngineError;
  }
  return g.exitCode;
}
