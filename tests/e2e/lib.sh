# Shared helpers for the engine's end-to-end tests (sourced). Every test gets its own temp
# --root/--runroot and a trap that removes whatever it made, even when the test fails.
set -euo pipefail
# `cmd | has PATTERN`: like `grep -q`, but reads all of cmd's output. grep -q exits at the first
# match, and a cmd still writing then dies of SIGPIPE, which pipefail turns into a failure.
has() { grep "$@" >/dev/null; }
SRC="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
BIN="${BERTH_BIN:-$SRC/build/bin/berth}"
FIX="$SRC/build/fixtures"
[[ -x "$BIN" ]] || { echo "SKIP: $BIN not built"; exit 77; }
[[ -s "$FIX/busybox.tar" ]] || { echo "SKIP: $FIX/busybox.tar missing (tests/fixtures/make-all.sh)"; exit 77; }
T="$(mktemp -d /tmp/berth-e2e-XXXXXX)"
ROOT="$T/root"
RUN="$T/run"
mkdir -p "$ROOT" "$RUN"
b() { "$BIN" --root "$ROOT" --runroot "$RUN" "$@"; }

MAIN_PID=$BASHPID
cleanup() {
  local rc=$?
  [[ $BASHPID == "$MAIN_PID" ]] || return 0  # not in $(...) subshells
  set +e
  for id in $(b ps -aq --no-trunc 2>/dev/null); do b rm -f "$id" >/dev/null 2>&1; done
  for n in $(b network ls -q 2>/dev/null); do b network rm "$n" >/dev/null 2>&1; done
  local br
  br=$(b network inspect bridge 2>/dev/null | sed -n 's/.*"Bridge": "\(.*\)".*/\1/p' | head -1)
  # Anything still mounted under the temp dir (a failed test) goes too.
  grep -o " $T[^ ]*" /proc/self/mounts | sort -r | while read -r m; do umount -l "$m"; done
  [[ -n "$br" && "$br" != berth0 ]] && ip link del "$br" 2>/dev/null
  rm -rf "$T"
  exit $rc
}
trap cleanup EXIT

fail() { echo "FAIL: $*" >&2; exit 1; }
expect_eq() { [[ "$1" == "$2" ]] || fail "$3: expected '$2', got '$1'"; }

import_busybox() { b import "$FIX/busybox.tar" busybox:latest >/dev/null; }

# A TCP port in no socket state, below the kernel's ephemeral range (32768-60999), so that no
# outgoing connection of a concurrent test can take it before we publish it.
free_port() {
  local p
  for _ in $(seq 1 50); do
    p=$((20000 + RANDOM % 12000))
    ss -tanH "( sport = :$p )" 2>/dev/null | has . || { echo "$p"; return; }
  done
  echo "no free port" >&2
  return 1
}

# wait_for CMD...: retry up to ~10 s.
wait_for() {
  for _ in $(seq 1 100); do "$@" >/dev/null 2>&1 && return 0; sleep 0.1; done
  return 1
}
