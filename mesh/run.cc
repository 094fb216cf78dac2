#include "mesh/run.h"

#include <csignal>
#include <cstdio>
#include <pthread.h>

#include "common/log.h"
#include "mesh/proxy.h"

namespace berth::mesh {

void addRunFlags(CLI::App& app, RunOptions& o) {
  app.add_option("-c,--config", o.configPath, "mesh config file (YAML)")->required();
  app.add_flag("--check", o.checkOnly, "validate the config and exit");
  app.add_option("--log-level", o.logLevel, "debug, info, warn or error");
  app.add_flag("--log-json", o.logJson, "log as JSON lines");
  app.add_option("--watch-ms", o.watchMs, "config file poll interval in ms")->check(CLI::Range(50, 600000));
}

int runProxy(const RunOptions& o) {
  log::Level lvl = log::Level::kInfo;
  if (o.logLevel == "debug") lvl = log::Level::kDebug;
  else if (o.logLevel == "warn") lvl = log::Level::kWarn;
  else if (o.logLevel == "error") lvl = log::Level::kError;
  log::init(lvl, o.logJson ? log::Format::kJson : log::Format::kText);

  auto cfg = loadConfigFile(o.configPath);
  if (!cfg) {
    std::fprintf(stderr, "Error: %s\n", cfg.error().message().c_str());
    return 1;
  }
  if (o.checkOnly) {
    size_t routes = 0;
    for (auto& l : cfg->listeners) routes += l.routes.size();
    std::printf("ok: %zu listeners, %zu routes, %zu clusters\n", cfg->listeners.size(), routes,
                cfg->clusters.size());
    return 0;
  }
  // Block the signals in every thread; this one waits for them.
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  std::signal(SIGPIPE, SIG_IGN);

  ProxyOptions po;
  po.configPath = o.configPath;
  po.watchInterval = std::chrono::milliseconds(o.watchMs);
  auto proxy = Proxy::create(std::move(*cfg), po);
  if (!proxy) {
    std::fprintf(stderr, "Error: %s\n", proxy.error().message().c_str());
    return 1;
  }
  if (auto s = (*proxy)->start(); !s) {
    std::fprintf(stderr, "Error: %s\n", s.error().message().c_str());
    return 1;
  }
  log::info("berth-proxy: serving (config " + o.configPath + ")");
  for (;;) {
    int sig = 0;
    if (sigwait(&set, &sig) != 0) continue;
    if (sig == SIGHUP) {
      auto r = (*proxy)->reload();
      if (!r) log::error("berth-proxy: reload: " + r.error().message());
      continue;
    }
    log::info("berth-proxy: draining");
    (*proxy)->drain();
    (*proxy)->wait();
    (*proxy)->stop();
    return 0;
  }
}

}  // namespace berth::mesh
