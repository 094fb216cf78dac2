// berth-proxy: the mesh proxy on its own (the same as `berth proxy`).
#include <CLI/CLI.hpp>

#include "mesh/run.h"

int main(int argc, char** argv) {
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
