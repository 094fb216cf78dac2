#!/usr/bin/env bash
# HTTP benchmark, side by side in one run, wrk on loopback (one core for the server, one for
# wrk): calc `POST /add` (berth SDK, 1 worker) vs the same /add in Flask (dev server) vs nginx
# answering a fixed 200 (1 worker, keep-alive unlimited like calc's). Each server runs alone
# on cpu 0 with wrk -t1 -c32 on cpu 1, no pipelining. calc and nginx are measured twice,
# interleaved (calc, nginx, calc, nginx), and the better run of each counts, so that a burst of
# load from elsewhere does not decide the ratio. Prints req/s, p50/p99, ratios, calc's RSS at
# idle and after load, calc's CPU time per request, the load average before and after, and
# how busy each core was during each run (wrk at ~100% of its core means wrk is the ceiling).
# Peers: BERTH_BENCH=1 bash scripts/install-deps.sh.
# Usage: bench/http.sh [path/to/calc]   (DURATION=10s CONNECTIONS=32 to change the load)
# RT=1 runs every server and wrk as SCHED_FIFO (chrt -f 10), all alike: on a machine shared
# with compiles, this shields the measured processes from them (nice does not help when the
# compiles sit in other cgroups). The kernel's RT throttling and kernel threads starved by RT
# then put ~30-50 ms stalls into every server's p99 (nginx's too): read p90 in that mode.
set -euo pipefail
cd "$(dirname "$0")/.."
CALC=${1:-build/bin/calc}
DURATION=${DURATION:-10s}
PRIO=()
[[ "${RT:-0}" == 1 ]] && PRIO=(chrt -f 10)
CONNS=${CONNECTIONS:-32}
for tool in wrk nginx python3; do
  command -v "$tool" >/dev/null || { echo "bench/http.sh: $tool missing (BERTH_BENCH=1 bash scripts/install-deps.sh)" >&2; exit 1; }
done
[[ -x "$CALC" ]] || { echo "bench/http.sh: $CALC not built (bash scripts/build.sh)" >&2; exit 1; }

LOAD0=$(cut -d' ' -f1 /proc/loadavg)
TMP=$(mktemp -d /tmp/berth-bench-http.XXXXXX)
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
  rm -rf "$TMP"
}
trap cleanup EXIT

free_port() {
  local p
  while :; do
    p=$((20000 + RANDOM % 12000))   # below the ephemeral range
    ss -tanH "sport = :$p" | grep -q . || { echo "$p"; return; }
  done
}
wait_port() {
  for _ in $(seq 1 100); do
    curl -s -o /dev/null "http://127.0.0.1:$1/" && return 0
    sleep 0.1
  done
  echo "server on port $1 did not start" >&2
  exit 1
}

cat >"$TMP/add.lua" <<'LUA'
wrk.method = "POST"
wrk.body = '{"a": 1, "b": 2}'
wrk.headers["Content-Type"] = "application/json"
LUA

# run NAME URL [script] -> "reqs p50 p99" (latencies in ms)
run_wrk() {
  local url=$1 script=${2:-}
  local args=(-t1 -c"$CONNS" -d"$DURATION" --latency)
  [[ -n "$script" ]] && args+=(-s "$script")
  local s0 s1
  s0=$(grep -E '^cpu[01] ' /proc/stat)
  "${PRIO[@]}" taskset -c 1 wrk "${args[@]}" "$url" >"$TMP/wrk.out" 2>&1
  s1=$(grep -E '^cpu[01] ' /proc/stat)
  # busy share of each core over the run (everything but idle and iowait): "server% client%"
  paste <(echo "$s0") <(echo "$s1") | awk '{ n = NF / 2; b = 0; t = 0
      for (i = 2; i <= n; i++) { d = $(i + n) - $i; t += d; if (i != 5 && i != 6) b += d }
      printf "%s%.0f", (NR > 1 ? " " : ""), (t > 0 ? 100 * b / t : 0) } END { print "" }' >"$TMP/cores"
  local rps p50 p99 n
  rps=$(awk '/Requests\/sec/ {print $2}' "$TMP/wrk.out")
  p50=$(awk '$1=="50%" {print $2}' "$TMP/wrk.out")
  p99=$(awk '$1=="99%" {print $2}' "$TMP/wrk.out")
  p90=$(awk '$1=="90%" {print $2}' "$TMP/wrk.out")
  n=$(awk '/requests in/ {print $1}' "$TMP/wrk.out")
  echo "$rps $(to_ms "$p50") $(to_ms "$p99") $n $(to_ms "$p90")"
}
to_ms() {  # wrk prints 512.00us / 1.23ms / 1.02s
  local v=$1
  case "$v" in
    *us) awk -v x="${v%us}" 'BEGIN{printf "%.3f", x/1000}' ;;
    *ms) awk -v x="${v%ms}" 'BEGIN{printf "%.3f", x}' ;;
    *s) awk -v x="${v%s}" 'BEGIN{printf "%.3f", x*1000}' ;;
    *) echo "?" ;;
  esac
}
rss_kib() { awk '/^VmRSS/ {print $2}' "/proc/$1/status"; }
hwm_kib() { awk '/^VmHWM/ {print $2}' "/proc/$1/status"; }

# --- calc (access log on, to /dev/null, as a real deployment would log) -------------------
CP=$(free_port)
HOST=127.0.0.1 PORT=$CP WORKERS=1 "${PRIO[@]}" taskset -c 0 "$CALC" >/dev/null 2>&1 &
PIDS+=($!)
CALC_PID=$!
wait_port "$CP"
curl -s -o /dev/null -X POST -d '{"a":1,"b":2}' "http://127.0.0.1:$CP/add"
sleep 0.5
calc_idle=$(rss_kib "$CALC_PID")
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
calc_ticks0=$(cpu_ticks "$CALC_PID")
read -r calc_rps calc_p50 calc_p99 calc_n calc_p90 < <(run_wrk "http://127.0.0.1:$CP/add" "$TMP/add.lua")
CORES="calc $(cat "$TMP/cores")"
calc_ticks1=$(cpu_ticks "$CALC_PID")
check=$(curl -s -X POST -d '{"a":1,"b":2}' "http://127.0.0.1:$CP/add")
[[ "$check" == '{"result":3}' ]] || { echo "calc answered $check" >&2; exit 1; }

# --- Flask, the same /add ----------------------------------------------------------------
FP=$(free_port)
cat >"$TMP/flask_add.py" <<PY
from flask import Flask, request, jsonify
app = Flask(__name__)
@app.post("/add")
def add():
    body = request.get_json(force=True)
    return jsonify(result=body["a"] + body["b"])
@app.get("/")
def root():
    return "ok"
app.run(host="127.0.0.1", port=$FP, threaded=True)
PY
"${PRIO[@]}" taskset -c 0 python3 "$TMP/flask_add.py" >/dev/null 2>&1 &
PIDS+=($!)
wait_port "$FP"
read -r flask_rps flask_p50 flask_p99 _ flask_p90 < <(run_wrk "http://127.0.0.1:$FP/add" "$TMP/add.lua")
CORES+=", Flask $(cat "$TMP/cores")"

# --- nginx: return 200, one worker ----------------------------------------------------------
NP=$(free_port)
mkdir -p "$TMP/nginx"
cat >"$TMP/nginx.conf" <<NGX
worker_processes 1;
daemon off;
pid $TMP/nginx/nginx.pid;
error_log $TMP/nginx/error.log;
events { worker_connections 1024; }
http {
  access_log off;
  client_body_temp_path $TMP/nginx;
  proxy_temp_path $TMP/nginx;
  fastcgi_temp_path $TMP/nginx;
  uwsgi_temp_path $TMP/nginx;
  scgi_temp_path $TMP/nginx;
  keepalive_requests 100000000;
  server { listen 127.0.0.1:$NP; location / { return 200 "ok"; } }
}
NGX
"${PRIO[@]}" taskset -c 0 nginx -c "$TMP/nginx.conf" -p "$TMP/nginx" >/dev/null 2>&1 &
PIDS+=($!)
wait_port "$NP"
read -r nginx_rps nginx_p50 nginx_p99 _ nginx_p90 < <(run_wrk "http://127.0.0.1:$NP/")
CORES+=", nginx $(cat "$TMP/cores")"

# --- second round, interleaved: the better run of each server counts ------------------------
better() {  # better "rps p50 p99" "rps p50 p99" -> the one with more req/s
  awk -v a="$1" -v b="$2" 'BEGIN{ split(a, x, " "); split(b, y, " "); print (y[1] > x[1] ? b : a) }'
}
read -r r2 p502 p992 n2 p902 < <(run_wrk "http://127.0.0.1:$CP/add" "$TMP/add.lua")
CORES+=", calc $(cat "$TMP/cores")"
calc_ticks2=$(cpu_ticks "$CALC_PID")
calc_load=$(hwm_kib "$CALC_PID")
calc_runs="$calc_rps/$r2"
read -r calc_rps calc_p50 calc_p99 calc_p90 < <(better "$calc_rps $calc_p50 $calc_p99 $calc_p90" "$r2 $p502 $p992 $p902")
read -r r2 p502 p992 _ p902 < <(run_wrk "http://127.0.0.1:$NP/")
CORES+=", nginx $(cat "$TMP/cores")"
nginx_runs="$nginx_rps/$r2"
read -r nginx_rps nginx_p50 nginx_p99 nginx_p90 < <(better "$nginx_rps $nginx_p50 $nginx_p99 $nginx_p90" "$r2 $p502 $p992 $p902")
# calc's CPU time (user + system, in clock ticks) per request over its two runs.
calc_us=$(awk -v t="$((calc_ticks1 - calc_ticks0 + calc_ticks2 - calc_ticks1))" -v n="$((calc_n + n2))" \
  -v hz="$(getconf CLK_TCK)" 'BEGIN{ if (n > 0) printf "%.1f", t * 1e6 / hz / n; else print "?" }')

ratio() { awk -v a="$1" -v b="$2" 'BEGIN{ if (b > 0) printf "%.2f", a/b; else print "?" }'; }
mode=$([[ ${#PRIO[@]} -gt 0 ]] && echo ", all SCHED_FIFO (RT=1)" || true)
echo "bench/http.sh: wrk -t1 -c$CONNS -d$DURATION, server pinned to cpu 0, wrk to cpu 1$mode, load average $LOAD0 at start, $(cut -d' ' -f1 /proc/loadavg) at end"
printf '%-28s %12s %9s %9s %9s\n' "server" "req/s" "p50 ms" "p90 ms" "p99 ms"
printf '%-28s %12s %9s %9s %9s   (runs: %s)\n' "calc POST /add (1 worker)" "$calc_rps" "$calc_p50" "$calc_p90" "$calc_p99" "$calc_runs"
printf '%-28s %12s %9s %9s %9s\n' "Flask POST /add (dev)" "$flask_rps" "$flask_p50" "$flask_p90" "$flask_p99"
printf '%-28s %12s %9s %9s %9s   (runs: %s)\n' "nginx return 200 (1 worker)" "$nginx_rps" "$nginx_p50" "$nginx_p90" "$nginx_p99" "$nginx_runs"
echo "calc / Flask throughput: $(ratio "$calc_rps" "$flask_rps")x (goal >= 100x)"
echo "calc / nginx throughput: $(ratio "$calc_rps" "$nginx_rps")x (goal >= 0.7x)"
echo "calc p99 at $CONNS connections: ${calc_p99} ms (goal < 1 ms)"
echo "calc CPU time per request: ${calc_us} us (user + system)"
# When wrk's own core is (nearly) all busy, wrk is the ceiling of that run, not the server.
echo "busy % of cpu 0 (server) / cpu 1 (wrk) per run: $(sed -E 's/([a-zA-Z]+) ([0-9]+) ([0-9]+)/\1 \2\/\3/g' <<<"$CORES")"
echo "calc RSS idle: $((calc_idle / 1024)).$(((calc_idle % 1024) * 10 / 1024)) MiB (goal < 5), under load (peak): $((calc_load / 1024)).$(((calc_load % 1024) * 10 / 1024)) MiB (goal < 20)"
