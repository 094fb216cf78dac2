// berth build: Dockerfile -> image (issue 4). Flags only; the work is berth::build::buildImage.
#include "cli/commands.h"

#if defined(BERTH_BUILD_EXECUTOR)
#include "builder/builder.h"
#include "common/strings.h"
#endif

namespace berth::cli {

#if defined(BERTH_BUILD_EXECUTOR)
void registerBuildCommands(CLI::App& app, Globals& g) {
  struct Flags {
    std::vector<std::string> tags, buildArgs;
    std::string file, target, context;
    bool noCache = false, pull = false, quiet = false;
  };
  auto f = std::make_shared<Flags>();
  auto* cmd = app.add_subcommand(
      "build",
      "Build an image from a Dockerfile.\n"
      "RUN steps are containers of berth's runtime on an overlay of the previous step, with\n"
      "their own namespaces and cgroup, but the HOST's network namespace (host networking\n"
      "during builds, like `docker build --network=host`). Steps are cached by parent,\n"
      "instruction, build args and source checksums (content, mode, owner; not mtime).");
  cmd->add_option("-t,--tag", f->tags, "name[:tag] for the image (repeatable)");
  cmd->add_option("-f,--file", f->file, "Dockerfile path (default CONTEXT/Dockerfile)");
  cmd->add_option("--build-arg", f->buildArgs, "KEY=VALUE for an ARG (repeatable)");
  cmd->add_option("--target", f->target, "build up to this stage");
  cmd->add_flag("--no-cache", f->noCache, "do not use the build cache");
  cmd->add_flag("--pull", f->pull, "accepted for compatibility; builds never pull");
  cmd->add_flag("-q,--quiet", f->quiet, "print only the image id");
  cmd->add_option("context", f->context, "build context directory")->required();
  cmd->callback([f, &g] {
    build::BuildOptions o;
    o.root = g.root;
    o.runroot = g.runroot;
    o.contextDir = f->context;
    o.dockerfile = f->file;
    o.tags = f->tags;
    o.target = f->target;
    o.noCache = f->noCache;
    o.pull = f->pull;
    o.quiet = f->quiet;
    for (auto& kv : f->buildArgs) {
      auto [k, v] = str::splitOnce(kv, '=');
      if (k.empty()) {
        g.exitCode = reportError("--build-arg " + kv + ": expected KEY=VALUE");
        return;
      }
      if (v) {
        o.buildArgs[k] = *v;
      } else if (const char* env = std::getenv(k.c_str())) {
        o.buildArgs[k] = env;  // `--build-arg KEY` takes KEY from the environment, like Docker
      }
    }
    auto r = build::buildImage(o);
    if (!r) g.exitCode = reportError(r.error());
  });
}
#else
// The builder needs the runtime and the image store; until both are built, no `build` verb.
void registerBuildCommands(CLI::App& /*app*/, Globals& /*g*/) {}
#endif

}  // namespace berth::cli
