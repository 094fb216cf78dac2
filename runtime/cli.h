#pragma once
/// runc's command line over berth::runtime::Runtime. Used by `berth-runtime` (main.cc) and by
/// `berth runtime ...` (cli/runtime_cmds.cc), so both accept exactly the same verbs and flags:
///   [--root DIR] [--log FILE] [--log-format text|json] [--debug] [--systemd-cgroup]
///   create|start|run|state|kill|delete|exec|ps|list|pause|resume|update|spec|features ...
/// Returns the process exit code (for `run`: the container's exit code).

namespace berth::runtime {

int cliMain(int argc, char** argv);

}  // namespace berth::runtime
