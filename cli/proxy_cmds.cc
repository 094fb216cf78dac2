#include <unistd.h>

#include <cstdlib>
#include <string>
#include <vector>

#include "cli/commands.h"
#include "common/fs.h"
#include "mesh/run.h"

namespace berth::cli {

namespace {
/// Run the berth-proxy installed beside this binary with the same options: its io_uring build
/// (and, where io_uring is refused, its epoll twin; http/io_backend.h) spends less CPU per
/// request than the proxy linked into this CLI, which is on epoll with the rest of berth. It
/// keeps berth's exit code for errors (BERTH_PROXY_ERROR_EXIT). Returns only if it cannot.
void execBesideProxy(const mesh::RunOptions& o) {
  auto exe = fs::siblingExe("berth-proxy");
  if (!exe || ::access(exe->c_str(), X_OK) != 0) return;
  std::vector<std::string> args = {*exe, "--config", o.configPath, "--log-level", o.logLevel,
                                   "--watch-ms", std::to_string(o.watchMs)};
  if (o.checkOnly) args.emplace_back("--check");
  if (o.logJson) args.emplace_back("--log-json");
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  ::setenv("BERTH_PROXY_ERROR_EXIT", std::to_string(kExitEngineError).c_str(), 1);
  ::execv(argv[0], argv.data());
  ::unsetenv("BERTH_PROXY_ERROR_EXIT");  // it did not run: serve from this process instead
}
}  // namespace

// `berth proxy --config mesh.yaml [--check]`: the same command as berth-proxy, which it runs
// when it is installed beside berth; otherwise the proxy runs in this process (on epoll).
void registerProxyCommands(CLI::App& app, Globals& g) {
  auto* cmd = app.add_subcommand("proxy", "run the service mesh proxy (same as berth-proxy)");
  auto o = std::make_shared<mesh::RunOptions>();
  mesh::addRunFlags(*cmd, *o);
  cmd->callback([o, &g] {
    execBesideProxy(*o);
    g.exitCode = mesh::runProxy(*o) == 0 ? 0 : kExitEngineError;
  });
}

}  // namespace berth::cli
