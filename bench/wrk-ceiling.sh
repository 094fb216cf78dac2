#!/usr/bin/env bash
# bench/wrk-ceiling.sh: how many non-pipelined requests per second one wrk thread can issue on
# this machine, against the cheapest servers we can write (bench/wrk-ceiling/*.c: a fixed 200
# per request, on epoll and on io_uring), with the same pinning as bench/http.sh (server on
# cpu 0, wrk -t1 -c32 on cpu 1). When wrk's core is at ~100 % against these, their req/s is the
# ceiling for any server measured by bench/http.sh here (see docs/benchmarks.md, "http").
# Also prints the responders' CPU per request: epoll vs io_uring rings with and without
# cooperative task running (docs/design/http.md, "I/O backends").
#   bash bench/wrk-ceiling.sh            (DURATION=5s ROUNDS=2)
set -euo pipefail
cd "$(dirname "$0")"
DURATION=${DURATION:-5s}
ROUNDS=${ROUNDS:-2}
command -v wrk >/dev/null || { echo "bench/wrk-ceiling.sh: wrk missing (BERTH_BENCH=1 bash scripts/install-deps.sh)" >&2; exit 1; }
TMP=$(mktemp -d /tmp/berth-wrk-ceiling.XXXXXX)
PID=
cleanup() { [[ -n $PID ]] && kill "$PID" 2>/dev/null; wait 2>/dev/null || true; rm -rf "$TMP"; }
trap cleanup EXIT
gcc -O2 -D_GNU_SOURCE -o "$TMP/epoll" wrk-ceiling/epoll_responder.c
gcc -O2 -o "$TMP/uring" wrk-ceiling/uring_responder.c -l:liburing.a
free_port() {
  local p
  while :; do
    p=$((20000 + RANDOM % 12000))
    ss -tanH "sport = :$p" | grep -q . || { echo "$p"; return; }
  done
}
measure() {  # NAME BINARY [MODE]
  local name=$1 bin=$2 mode=${3:-} port
  port=$(free_port)
  taskset -c 0 "$bin" "$port" $mode &
  PID=$!
  for _ in $(seq 50); do (exec 3<>/dev/tcp/127.0.0.1/"$port") 2>/dev/null && break; sleep 0.05; done
  local t0 s0 out t1 s1
  t0=$(awk '{print $14 + $15}' "/proc/$PID/stat"); s0=$(grep '^cpu1 ' /proc/stat)
  out=$(taskset -c 1 wrk -t1 -c32 -d"$DURATION" "http://127.0.0.1:$port/")
  t1=$(awk '{print $14 + $15}' "/proc/$PID/stat"); s1=$(grep '^cpu1 ' /proc/stat)
  kill "$PID"; wait "$PID" 2>/dev/null || true; PID=
  local n rps busy
  n=$(awk '/requests in/ {print $1}' <<<"$out"); rps=$(awk '/Requests\/sec/ {print $2}' <<<"$out")
  busy=$(paste <(echo "$s0") <(echo "$s1") | awk '{ n = NF / 2; b = 0; t = 0
      for (i = 2; i <= n; i++) { d = $(i + n) - $i; t += d; if (i != 5 && i != 6) b += d }
      printf "%.0f", 100 * b / t }')
  printf '%-34s %10s req/s   server %5s us/req   wrk core %s %%\n' "$name" "$rps" \
    "$(awk -v t=$((t1 - t0)) -v n="$n" -v hz="$(getconf CLK_TCK)" 'BEGIN{printf "%.2f", t / hz * 1e6 / n}')" "$busy"
}
echo "bench/wrk-ceiling.sh: wrk -t1 -c32 -d$DURATION, responder on cpu 0, wrk on cpu 1, load average $(cut -d' ' -f1 /proc/loadavg)"
for ((r = 1; r <= ROUNDS; r++)); do
  measure "epoll" "$TMP/epoll"
  measure "io_uring, COOP_TASKRUN" "$TMP/uring" 2
  measure "io_uring, DEFER_TASKRUN" "$TMP/uring" 1
  measure "io_uring, plain rings" "$TMP/uring" 0
done
