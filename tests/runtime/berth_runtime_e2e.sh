#!/usr/bin/env bash
# `berth runtime ...` as a user types it: spec, run, list, state of a missing id.
# Usage: berth_runtime_e2e.sh BERTH_BINARY
set -euo pipefail
berth="${1:?usage: berth_runtime_e2e.sh BERTH}"
src="$(cd "$(dirname "$0")/../.." && pwd)"
[[ -f "$src/build/fixtures/busybox.tar" ]] || { echo "no busybox fixture: skipped"; exit 77; }
T="$(mktemp -d /tmp/berth-rt-e2e-XXXXXX)"
trap 'rm -rf "$T"' EXIT
mkdir -p "$T/b/rootfs"
tar -xf "$src/build/fixtures/busybox.tar" -C "$T/b/rootfs"
"$berth" runtime spec -b "$T/b"
sed -i -e 's/"terminal": true/"terminal": false/' -e 's/"sh"$/"sh", "-c", "echo e2e-ok; exit 4"/' "$T/b/config.json"
set +e
out="$("$berth" --runroot "$T/run" runtime run -b "$T/b" "e2e-$$")"
rc=$?
set -e
[[ "$out" == "e2e-ok" && $rc == 4 ]] || { echo "FAIL: run gave [$out] rc=$rc" >&2; exit 1; }
[[ -z "$(ls "$T/run/runtime")" ]] || { echo "FAIL: state left behind" >&2; exit 1; }
err="$("$berth" --runroot "$T/run" runtime state nope 2>&1 || true)"
[[ "$err" == 'berth-runtime: container "nope" does not exist' ]] || { echo "FAIL: [$err]" >&2; exit 1; }
echo "berth runtime: ok"
