// berth-proxy: the mesh proxy on its own (the same as `berth proxy`).
#include <CLI/CLI.hpp>

#include <cstdio>
#include <cstdlib>

#include "http/io_backend.h"
#include "mesh/run.h"

namespace {
/// The exit code for a failure: 1, or BERTH_PROXY_ERROR_EXIT where `berth proxy` ran this
/// binary (berth's 125 for errors; cli/proxy_cmds.cc).
int errorExit() {
  const char* v = std::getenv("BERTH_PROXY_ERROR_EXIT");
  int code = v ? std::atoi(v) : 0;
  return code > 0 && code < 256 ? code : 1;
}
}  // namespace

int main(int argc, char** argv) {
  // The io_uring build hands over to berth-proxy-epoll where io_uring is unusable
  // (http/io_backend.h).
  if (auto io = berth::http::ensureIoBackend(argv); !io) {
    std::fprintf(stderr, "berth-proxy: %s\n", io.error().message().c_str());
    return errorExit();
  }
  CLI::App app{"berth-proxy: L7 service mesh proxy"};
  berth::mesh::RunOptions o;
  berth::mesh::addRunFlags(app, o);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  int rc = berth::mesh::runProxy(o);
  return rc == 0 ? 0 : errorExit();
}
