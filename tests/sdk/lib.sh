# Shared helpers for the tests/sdk scripts (sourced). Every test starts its own calc on a
# loopback port chosen by the kernel (PORT=0) and stops it on exit, even on failure.
set -euo pipefail
# `cmd | has PATTERN`: like `grep -q`, but reads all of cmd's output. grep -q exits at the first
# match, and a cmd still writing then dies of SIGPIPE, which pipefail turns into a failure.
has() { grep "$@" >/dev/null; }

fails=0
passes=0
check() {  # check NAME EXPECTED ACTUAL
  if [[ "$2" == "$3" ]]; then
    passes=$((passes + 1))
  else
    fails=$((fails + 1))
    echo "FAIL: $1: expected [$2], got [$3]" >&2
  fi
}
check_contains() {  # check_contains NAME NEEDLE HAYSTACK
  if [[ "$3" == *"$2"* ]]; then
    passes=$((passes + 1))
  else
    fails=$((fails + 1))
    echo "FAIL: $1: [$3] does not contain [$2]" >&2
  fi
}
finish() {
  echo "$passes passed, $fails failed"
  [[ $fails -eq 0 ]]
}

TMP=$(mktemp -d /tmp/berth-sdk-test.XXXXXX)
CALC_PID=
cleanup() {
  if [[ -n "$CALC_PID" ]] && kill -0 "$CALC_PID" 2>/dev/null; then
    kill -KILL "$CALC_PID" 2>/dev/null || true
    wait "$CALC_PID" 2>/dev/null || true
  fi
  for p in ${EXTRA_PIDS:-}; do kill -KILL "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
  rm -rf "$TMP"
}
trap cleanup EXIT

# start_calc BINARY [ENV=VALUE...]: starts calc on 127.0.0.1 with a kernel-chosen port and
# sets CALC_PID and CALC_URL.
start_calc() {
  local bin=$1
  shift
  env HOST=127.0.0.1 PORT=0 "$@" "$bin" >"$TMP/calc.out" 2>"$TMP/calc.err" &
  CALC_PID=$!
  local port=
  for _ in $(seq 1 100); do
    port=$(sed -n 's/.*"msg":"listening".*"port":\([0-9]*\).*/\1/p' "$TMP/calc.out" | head -1)
    [[ -n "$port" ]] && break
    sleep 0.05
  done
  if [[ -z "$port" ]]; then
    echo "calc did not start:" >&2
    cat "$TMP/calc.err" >&2
    exit 1
  fi
  CALC_URL="http://127.0.0.1:$port"
}

# free_port: a loopback TCP port in no socket state, below the kernel's ephemeral range
# (32768-60999) so a concurrent test's outgoing connection cannot take it (for peers that
# cannot take port 0).
free_port() {
  local p
  for _ in $(seq 1 50); do
    p=$((20000 + RANDOM % 12000))
    if ! ss -tanH "sport = :$p" | has .; then
      echo "$p"
      return
    fi
  done
  echo "no free port" >&2
  exit 1
}
