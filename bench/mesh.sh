#!/usr/bin/env bash
# bench/mesh.sh: berth-proxy vs HAProxy in front of nginx on loopback, one worker thread each,
# wrk as the load generator. Prints throughput, latency (p50/p99), added latency vs calling
# nginx directly, RSS with 100 clusters, and (SOAK_SECONDS>0) a soak with RSS before/after.
#
#   BERTH_BENCH=1 bash scripts/install-deps.sh     # haproxy, nginx, wrk
#   bash bench/mesh.sh                              # uses build/bin/berth-proxy
#   PROXY_BIN=build-mesh/bin/berth-proxy DURATION=10 CONNS=32 ROUNDS=3 SOAK_SECONDS=120 bash bench/mesh.sh
#   BASE_BIN=/tmp/berth-proxy-old bash bench/mesh.sh   # also an older build, same rounds
#     (before/after ratios of a change measured in one run)
# CPU time per request (user + system, from /proc/PID/stat over the c=$CONNS runs) is printed
# for each proxy: unlike req/s it hardly moves when other work loads the machine.
#
# On two cores, wrk and nginx take ~27 us of CPU per request between them, so whichever proxy
# is in front, req/s stops near the load side's ceiling (~36k here; see docs/benchmarks.md).
# Two knobs show what the proxies themselves can do:
#   PIN=1        proxies on CPU 0, wrk and nginx on CPU 1: the split the scheduler settles on,
#                made fixed; the "busy" column then says how much of its core each proxy used.
#   PIPELINE=N   wrk sends N pipelined requests per connection on the c=$CONNS runs (the
#                proxies forward them one by one, unpipelined, to nginx): wrk's share drops,
#                and the proxy becomes what limits req/s.
set -euo pipefail
cd "$(dirname "$0")/.."
PROXY_BIN=${PROXY_BIN:-build/bin/berth-proxy}
DURATION=${DURATION:-10}
CONNS=${CONNS:-32}
ROUNDS=${ROUNDS:-3}
SOAK_SECONDS=${SOAK_SECONDS:-0}
BASE_BIN=${BASE_BIN:-}
PIN=${PIN:-0}
PIPELINE=${PIPELINE:-0}
on_load=() on_proxy=()
if [[ $PIN == 1 ]]; then on_load=(taskset -c 1) on_proxy=(taskset -c 0); fi
for t in nginx haproxy wrk "$PROXY_BIN" ${BASE_BIN:+"$BASE_BIN"}; do
  command -v "$t" >/dev/null || [[ -x "$t" ]] || { echo "bench/mesh.sh: missing $t (BERTH_BENCH=1 bash scripts/install-deps.sh; build first)" >&2; exit 1; }
done

work=$(mktemp -d /tmp/berth-bench-mesh.XXXXXX)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_port() { for _ in $(seq 100); do (exec 3<>/dev/tcp/127.0.0.1/"$1") 2>/dev/null && return 0; sleep 0.05; done; echo "port $1 did not open" >&2; exit 1; }
rss_kib() { awk '/VmRSS/ {print $2}' "/proc/$1/status"; }

NGINX=$(port); HAP=$(port); BERTH=$(port); ADMIN=$(port); BASE=$(port); BASE_ADMIN=$(port)

# --- nginx: the backend, one worker, `return 200`.
mkdir -p "$work/nginx/logs"
cat > "$work/nginx/nginx.conf" <<CONF
worker_processes 1;
daemon off;
error_log $work/nginx/logs/error.log;
pid $work/nginx/nginx.pid;
events { worker_connections 4096; }
http {
  access_log off;
  keepalive_requests 1000000;
  server { listen 127.0.0.1:$NGINX; location / { return 200 "ok\n"; } }
}
CONF
"${on_load[@]}" nginx -p "$work/nginx" -c "$work/nginx/nginx.conf" & pids+=($!)
wait_port "$NGINX"

# --- HAProxy: one thread, keep-alive to the server.
cat > "$work/haproxy.cfg" <<CONF
global
  nbthread 1
  maxconn 8000
defaults
  mode http
  timeout connect 5s
  timeout client 30s
  timeout server 30s
  option http-keep-alive
  http-reuse always
frontend f
  bind 127.0.0.1:$HAP
  default_backend b
backend b
  server s1 127.0.0.1:$NGINX maxconn 1000
CONF
"${on_proxy[@]}" haproxy -f "$work/haproxy.cfg" -db & pids+=($!)
wait_port "$HAP"

# --- berth-proxy: one worker, metrics and outlier detection on (the defaults).
cat > "$work/mesh.yaml" <<CONF
admin: 127.0.0.1:$ADMIN
workers: 1
clusters:
  - name: nginx
    endpoints: [127.0.0.1:$NGINX]
listeners:
  - address: 127.0.0.1:$BERTH
    routes: [{cluster: nginx}]
CONF
"${on_proxy[@]}" "$PROXY_BIN" --config "$work/mesh.yaml" --log-level warn & berth_pid=$!; pids+=($berth_pid)
wait_port "$BERTH"
targets="nginx:$NGINX haproxy:$HAP berth:$BERTH"
if [[ -n $BASE_BIN ]]; then
  sed -e "s/127.0.0.1:$ADMIN/127.0.0.1:$BASE_ADMIN/" -e "s/127.0.0.1:$BERTH/127.0.0.1:$BASE/" \
    "$work/mesh.yaml" > "$work/base.yaml"
  "${on_proxy[@]}" "$BASE_BIN" --config "$work/base.yaml" --log-level warn & base_pid=$!; pids+=($base_pid)
  wait_port "$BASE"
  targets+=" base:$BASE"
fi
hap_pid=$(pgrep -n -f "haproxy -f $work/haproxy.cfg")
declare -A PID=([haproxy]=$hap_pid [berth]=$berth_pid [base]=${base_pid:-})
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
declare -A TICKS REQS NGX_TICKS WRK_CPU
nginx_master=$(pgrep -n -f "nginx -p $work/nginx")
nginx_worker=$(pgrep -P "$nginx_master" | head -1)

# wrk output -> "rps p50_ms p99_ms errors"; LAST_REQS = requests completed
cat > "$work/pipeline.lua" <<'LUA'
init = function(args)
  local r = {}
  for i = 1, tonumber(args[1]) do r[i] = wrk.format(nil, "/") end
  req = table.concat(r)
end
request = function() return req end
LUA
run_wrk() { # url conns seconds [pipeline depth]
  local args=(-t1 -c"$2" -d"$3"s --latency "$1")
  [[ ${4:-0} -gt 1 ]] && args+=(-s "$work/pipeline.lua" -- "$4")
  local out; out=$( { TIMEFORMAT='%U %S'; time "${on_load[@]}" wrk "${args[@]}" 2>&1; } 2>"$work/wrk.time")
  LAST_REQS=$(awk '/requests in/ {print $1}' <<<"$out")
  LAST_WRK_CPU=$(awk '{print $1 + $2}' "$work/wrk.time")
  local rps p50 p99 errs
  rps=$(awk '/Requests\/sec/ {print $2}' <<<"$out")
  p50=$(awk '$1=="50%" {print $2}' <<<"$out")
  p99=$(awk '$1=="99%" {print $2}' <<<"$out")
  errs=$(awk '/Non-2xx/ {n+=$NF} /Socket errors/ {gsub(",", ""); n+=$4+$6+$8+$10} END {print n+0}' <<<"$out")
  # (wrk's high percentiles come out as 0 with pipelining: the p99 goal is judged without it.)
  [[ ${4:-0} -gt 1 ]] && p99=-
  echo "$rps $(to_ms "$p50") $(to_ms "$p99") ${errs:-0}"
}
to_ms() { # wrk prints 1.23ms / 512.00us / 1.02s
  local v=$1
  case $v in
    *us) awk -v x="${v%us}" 'BEGIN{printf "%.3f", x/1000}';;
    *ms) awk -v x="${v%ms}" 'BEGIN{printf "%.3f", x}';;
    *s) awk -v x="${v%s}" 'BEGIN{printf "%.3f", x*1000}';;
    *) echo "$v";;
  esac
}

shape=""
[[ $PIPELINE -gt 1 ]] && shape+=", $PIPELINE requests pipelined per connection"
[[ $PIN == 1 ]] && shape+=", proxies pinned to CPU 0, wrk and nginx to CPU 1"
echo "# mesh benchmark: wrk -t1 -c$CONNS -d${DURATION}s$shape, loopback, nginx 'return 200' backend, $(nproc) cores"
for u in "$NGINX" "$HAP" "$BERTH" ${BASE_BIN:+"$BASE"}; do "${on_load[@]}" wrk -t1 -c"$CONNS" -d2s "http://127.0.0.1:$u/" >/dev/null 2>&1; done  # warm-up

# Rounds alternate the targets so that load from elsewhere on the machine hits all of them
# alike; each figure is the median over the rounds.
median() { sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
declare -A R
for ((r = 1; r <= ROUNDS; r++)); do
  for t in $targets; do
    name=${t%%:*} p=${t##*:}
    pid=${PID[$name]:-}
    [[ -n $pid ]] && t0=$(cpu_ticks "$pid")
    ng0=$(cpu_ticks "$nginx_worker")
    run_wrk "http://127.0.0.1:$p/" "$CONNS" "$DURATION" "$PIPELINE" > "$work/out"
    R[$name.$r]=$(cat "$work/out")
    NGX_TICKS[$name]=$(( ${NGX_TICKS[$name]:-0} + $(cpu_ticks "$nginx_worker") - ng0 ))
    WRK_CPU[$name]=$(awk -v a="${WRK_CPU[$name]:-0}" -v b="$LAST_WRK_CPU" 'BEGIN{print a + b}')
    [[ -z $pid ]] && REQS[$name]=$(( ${REQS[$name]:-0} + LAST_REQS ))
    if [[ -n $pid ]]; then
      TICKS[$name]=$(( ${TICKS[$name]:-0} + $(cpu_ticks "$pid") - t0 ))
      REQS[$name]=$(( ${REQS[$name]:-0} + LAST_REQS ))
    fi
    R[$name.1c.$r]=$(run_wrk "http://127.0.0.1:$p/" 1 "$DURATION")
  done
done
col() { # name field(1 rps,2 p50,3 p99,4 err) [1c]
  for ((r = 1; r <= ROUNDS; r++)); do awk -v f="$2" '{print $f}' <<<"${R[$1${3:+.$3}.$r]}"; done | median
}
printf '\n| target (c=%s, median of %s runs) | req/s | p50 ms | p99 ms | errors | CPU us/req |\n|---|---|---|---|---|---|\n' "$CONNS" "$ROUNDS"
names="nginx haproxy berth"; [[ -n $BASE_BIN ]] && names+=" base"
cpu_us() { [[ -n ${TICKS[$1]:-} && -n ${REQS[$1]:-} && ${REQS[$1]} -gt 0 ]] && awk -v t="${TICKS[$1]}" -v n="${REQS[$1]}" -v hz="$(getconf CLK_TCK)" 'BEGIN{printf "%.1f", t / hz * 1e6 / n}' || echo -; }
for n in $names; do
  label=$n; [[ $n == nginx ]] && label="nginx direct"; [[ $n == haproxy ]] && label="haproxy 1 thread"; [[ $n == berth ]] && label="berth-proxy 1 worker"; [[ $n == base ]] && label="berth-proxy (BASE_BIN)"
  printf '| %s | %s | %s | %s | %s | %s |\n' "$label" "$(col $n 1)" "$(col $n 2)" "$(col $n 3)" "$(col $n 4)" "$(cpu_us $n)"
done
# Where the CPU of the whole chain goes per request (c=$CONNS runs): the proxies' share
# decides req/s only together with what wrk and nginx spend alongside them.
# "proxy busy": the share of one core the proxy used while wrk ran (a proxy near 100 % is what
# limits req/s; one well under it is waiting on wrk and nginx).
printf '\n| CPU us per request (c=%s) | proxy | nginx | wrk | total | proxy busy |\n|---|---|---|---|---|---|\n' "$CONNS"
for n in $names; do
  awk -v n="$n" -v p="$(cpu_us "$n")" -v t="${NGX_TICKS[$n]}" -v w="${WRK_CPU[$n]}" -v q="${REQS[$n]}" \
    -v pt="${TICKS[$n]:-}" -v secs="$((ROUNDS * DURATION))" \
    -v hz="$(getconf CLK_TCK)" 'BEGIN{ ng = t / hz * 1e6 / q; wk = w * 1e6 / q; pp = (p == "-" ? 0 : p)
      busy = (pt == "" ? "-" : sprintf("%.0f %%", pt / hz / secs * 100))
      printf "| %s | %s | %.1f | %.1f | %.1f | %s |\n", n, p, ng, wk, pp + ng + wk, busy }'
done
awk -v b="$(col berth 1)" -v h="$(col haproxy 1)" -v bp="$(col berth 3)" -v hp="$(col haproxy 3)" \
  -v bc="$(cpu_us berth)" -v hc="$(cpu_us haproxy)" \
  'BEGIN{p99 = (hp == "-" ? "-" : sprintf("%.2f", bp/hp))
    printf "\nberth/haproxy throughput ratio: %.2f (goal >= 1.2); p99 ratio: %s (goal <= 1.0); CPU per request ratio: %.2f\n", b/h, p99, bc/hc}'
if [[ -n $BASE_BIN ]]; then
  awk -v b="$(col berth 1)" -v o="$(col base 1)" -v bp="$(col berth 3)" -v op="$(col base 3)" \
    -v h="$(col haproxy 1)" -v hp="$(col haproxy 3)" -v bc="$(cpu_us berth)" -v oc="$(cpu_us base)" \
    'BEGIN{p99 = (hp == "-" ? "-" : sprintf("%.2f", op/hp))
      printf "BASE_BIN/haproxy throughput ratio: %.2f, p99 ratio: %s; berth/BASE_BIN throughput %.2f, CPU per request %.2f\n", o/h, p99, b/o, bc/oc}'
fi
printf '\n| one connection (median) | p50 ms | p99 ms | added p50 ms | added p99 ms |\n|---|---|---|---|---|\n'
dp=$(col nginx 2 1c); dq=$(col nginx 3 1c)
printf '| nginx direct | %s | %s | - | - |\n' "$dp" "$dq"
for n in ${names#nginx }; do
  awk -v n="$n" -v p="$(col $n 2 1c)" -v q="$(col $n 3 1c)" -v dp="$dp" -v dq="$dq" \
    'BEGIN{printf "| %s | %s | %s | %.3f | %.3f |\n", n, p, q, p-dp, q-dq}'
done
echo
echo "RSS after the runs: berth-proxy $(rss_kib "$berth_pid") KiB, haproxy $(rss_kib "$(pgrep -n -f "haproxy -f $work/haproxy.cfg")") KiB"
echo "load average during the run: $(cut -d' ' -f1-3 /proc/loadavg)"

# --- RSS with 100 clusters (each with 3 endpoints and a route), after some traffic.
P100=$(port); A100=$(port)
{
  echo "admin: 127.0.0.1:$A100"
  echo "clusters:"
  for i in $(seq 100); do echo "  - {name: svc$i, endpoints: [127.0.0.1:$NGINX, 127.0.0.2:$NGINX, 127.0.0.3:$NGINX]}"; done
  echo "listeners:"
  echo "  - address: 127.0.0.1:$P100"
  echo "    routes:"
  for i in $(seq 100); do echo "      - {match: {path_prefix: /svc$i/}, cluster: svc$i}"; done
} > "$work/mesh100.yaml"
"$PROXY_BIN" --config "$work/mesh100.yaml" --log-level error & p100=$!; pids+=($p100)
wait_port "$P100"
wrk -t1 -c8 -d3s "http://127.0.0.1:$P100/svc1/" >/dev/null 2>&1 || true
for i in $(seq 100); do curl -s -o /dev/null "http://127.0.0.1:$P100/svc$i/"; done
curl -s -o /dev/null "http://127.0.0.1:$A100/metrics"
echo "RSS with 100 clusters (300 endpoints, 100 routes), after traffic and a /metrics scrape: $(rss_kib "$p100") KiB (goal < 10240)"

# --- Soak: steady load through berth-proxy, errors and RSS before/after.
if (( SOAK_SECONDS > 0 )); then
  wrk -t1 -c16 -d5s "http://127.0.0.1:$BERTH/" >/dev/null 2>&1
  r0=$(rss_kib "$berth_pid")
  read -r s_rps s_p50 s_p99 s_err < <(run_wrk "http://127.0.0.1:$BERTH/" 16 "$SOAK_SECONDS")
  r1=$(rss_kib "$berth_pid")
  echo "soak ${SOAK_SECONDS}s c=16: $s_rps req/s, p99 $s_p99 ms, errors $s_err, RSS $r0 -> $r1 KiB"
fi
