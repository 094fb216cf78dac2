// berth-proxy: the mesh proxy on its own (the same as `berth proxy`).
#include <CLI/CLI.hpp>

#include <cstdio>

#include "http/io_backend.h"
#include "mesh/run.h"

int main(int argc, char** argv) {
  // The io_uring build hands over to berth-proxy-epoll where io_uring is unusable
  // (http/io_backend.h).
  if (auto io = berth::http::ensureIoBackend(argv); !io) {
    std::fprintf(stderr, "berth-proxy: %s\n", io.error().message().c_str());
    return 1;
  }
  CLI::App app{"berth-proxy: L7 service mesh proxy"};
  berth::mesh::RunOptions o;
  berth::mesh::addRunFlags(app, o);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  return berth::mesh::runProxy(o);
}
