#include "runtime/cli.h"

int main(int argc, char** argv) { return berth::runtime::cliMain(argc, argv); }
