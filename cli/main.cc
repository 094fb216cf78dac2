#include <malloc.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <initializer_list>
#include <string_view>

#include "cli/commands.h"
#include "common/log.h"

namespace berth::cli {

int reportError(const Error& e) { return reportError(e.message()); }

int reportError(const std::string& message) {
  std::fprintf(stderr, "Error: %s\n", message.c_str());
  return kExitEngineError;
}

namespace {

/// On the VMs berth runs on, a page fault costs ~30-50 us, and a `berth` command touches a
/// few hundred heap pages one fault at a time. Growing the heap once and populating it with
/// one madvise (a few us a page, no trap per page) makes short commands several ms faster.
/// The heap keeps that size (M_TRIM_THRESHOLD), so RSS grows by about 1 MiB.
/// A constructor of high priority: it runs before the static initializers that allocate.
__attribute__((constructor(101))) void prefaultHeap() {
#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23
#endif
  constexpr size_t kPad = 1 << 20;
  ::mallopt(M_TOP_PAD, static_cast<int>(kPad));
  ::mallopt(M_TRIM_THRESHOLD, static_cast<int>(4 * kPad));
  auto page = static_cast<uintptr_t>(::sysconf(_SC_PAGESIZE));
  auto lo = reinterpret_cast<uintptr_t>(::sbrk(0));
  // Below the mmap threshold: the heap grows by it + kPad. (volatile: the compiler may not
  // drop the malloc/free pair.)
  void* volatile block = ::malloc(64 << 10);
  ::free(block);
  auto hi = reinterpret_cast<uintptr_t>(::sbrk(0));
  lo &= ~(page - 1);
  if (hi > lo) (void)::madvise(reinterpret_cast<void*>(lo), hi - lo, MADV_POPULATE_WRITE);
}

/// The first positional argument: the verb ("run", "image", ...), or "" for `berth --help`.
std::string_view findVerb(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    std::string_view a = argv[i];
    if (a == "--root" || a == "--runroot" || a == "--log-level") {
      ++i;
      continue;
    }
    if (!a.empty() && a[0] == '-') {
      if (a.find('=') != std::string_view::npos || a == "--debug") continue;
      return {};  // --help, --version, ...: the whole tree
    }
    return a;
  }
  return {};
}

bool hasSubcommand(CLI::App& app, std::string_view name) {
  for (auto* c : app.get_subcommands([](CLI::App*) { return true; }))
    if (c->check_name(std::string(name))) return true;
  return false;
}

/// Build only the command tree of the group the verb belongs to: the whole tree is ~300 KB of
/// heap (~70 page faults, ~4 ms on these machines) that `berth ps` would build for nothing.
/// An unknown verb, or none, gets every group (for the help text and CLI11's error).
void registerVerbs(CLI::App& app, Globals& g, int argc, char** argv) {
  using Reg = void (*)(CLI::App&, Globals&);
  struct Group {
    Reg reg;
    std::initializer_list<std::string_view> verbs;
    bool done = false;
  };
  Group groups[] = {
      {registerRuntimeCommands, {"runtime"}},
      {registerBuildCommands, {"build"}},
      {registerProxyCommands, {"proxy"}},
      {registerImageCommands,
       {"image", "images", "rmi", "tag", "history", "import", "save", "load", "pull", "push",
        "login", "logout"}},
      {registerContainerCommands, {}},  // everything else
  };
  std::string_view verb = findVerb(argc, argv);
  if (!verb.empty()) {
    Group* pick = &groups[4];
    for (auto& gr : groups)
      for (auto v : gr.verbs)
        if (v == verb) pick = &gr;
    pick->reg(app, g);
    pick->done = true;
    if (hasSubcommand(app, verb)) return;
  }
  for (auto& gr : groups)
    if (!gr.done) gr.reg(app, g);
}

}  // namespace
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

  registerVerbs(app, g, argc, argv);

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
