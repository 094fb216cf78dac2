#!/usr/bin/env bash
# Engine benchmark, side by side in one run: `run --rm IMAGE true` with --network none and on
# the default bridge, for berth and podman (and docker when dockerd answers), and `berth ps`
# with 100 containers (wall and CPU time), and the RSS of an idle container's monitor. Prints
# a table with ratios to podman. Needs root, a built berth and
# BERTH_BENCH=1 bash scripts/install-deps.sh (podman, hyperfine; perf for CPU times).
# Usage: bench/engine.sh [RUNS]       (default 20 runs per case)
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS="${1:-20}"
B="${BERTH_BIN:-./build/bin/berth}"
[[ -x $B ]] || { echo "build berth first (scripts/build.sh)"; exit 1; }
bash tests/fixtures/busybox.sh build/fixtures/busybox.tar
T=$(mktemp -d /tmp/berth-bench-XXXXXX)
b() { $B --root "$T/root" --runroot "$T/run" "$@"; }
cleanup() {
  set +e
  for id in $(b ps -aq --no-trunc 2>/dev/null); do b rm -f "$id" >/dev/null 2>&1; done
  grep -o " $T[^ ]*" /proc/self/mounts | sort -r | while read -r m; do umount -l "$m"; done
  if command -v podman >/dev/null; then podman rmi -f berth-bench-busybox >/dev/null 2>&1; fi
  rm -rf "$T"
}
trap cleanup EXIT
b import build/fixtures/busybox.tar busybox:latest >/dev/null

# mean wall time in ms of RUNS executions of "$@" (after 2 warm-ups)
time_ms() {
  "$@" >/dev/null 2>"$T/err" || { echo "fail: $* : $(head -c 200 "$T/err")" >&2; echo "fail"; return; }
  "$@" >/dev/null 2>&1
  local s e
  s=$(date +%s%N)
  for _ in $(seq 1 "$RUNS"); do "$@" >/dev/null 2>&1; done
  e=$(date +%s%N)
  echo $(( (e - s) / RUNS / 1000000 ))
}

declare -A R
R[berth_none]=$(time_ms b run --rm --network none busybox true)
R[berth_bridge]=$(time_ms b run --rm busybox true)
if command -v podman >/dev/null; then
  # This host: hybrid cgroups (crun refuses) and no CAP_SYS_RESOURCE (podman's nofile default
  # fails); a private containers.conf fixes both without touching /etc.
  printf '[containers]\ndefault_ulimits = ["nofile=1024:1024","nproc=4096:4096"]\n[engine]\nruntime = "runc"\n' >"$T/containers.conf"
  export CONTAINERS_CONF="$T/containers.conf"
  podman import -q build/fixtures/busybox.tar berth-bench-busybox >/dev/null 2>&1 || true
  R[podman_none]=$(time_ms podman run --rm --network none berth-bench-busybox true)
  R[podman_bridge]=$(time_ms podman run --rm berth-bench-busybox true)
fi
if command -v docker >/dev/null && docker info >/dev/null 2>&1; then
  docker import build/fixtures/busybox.tar berth-bench-busybox >/dev/null 2>&1 || true
  R[docker_none]=$(time_ms docker run --rm --network none berth-bench-busybox true)
  R[docker_bridge]=$(time_ms docker run --rm berth-bench-busybox true)
fi
for i in $(seq 1 100); do b create --name ps$i --network none busybox true >/dev/null; done
R[berth_ps100]=$(time_ms b ps -a)
# CPU time (perf's task-clock) of ps with 100 containers against the binary's bare start-up
# (`berth --help`): under load wall time mostly measures waiting for a CPU.
cpu_ms() { perf stat -x, -e task-clock -r "$RUNS" "$@" 2>&1 >/dev/null | awk -F, '/task-clock/{printf "%.1f", $1}'; }
if command -v perf >/dev/null; then
  R[berth_ps100_cpu]=$(cpu_ms $B --root "$T/root" --runroot "$T/run" ps -a)
  R[berth_help_cpu]=$(cpu_ms $B --root "$T/root" --runroot "$T/run" --help)
fi
# Resident memory of the monitor of an idle detached container (VmRSS), and podman's conmon.
b run -d --name idle --network none busybox sleep 600 >/dev/null
sleep 0.5
mon=$(pgrep -f "berth-monitor root=$T/root " | head -1)
R[berth_mon_rss]=$(awk '/VmRSS/{print $2}' "/proc/$mon/status" 2>/dev/null || echo fail)
b rm -f idle >/dev/null
if command -v podman >/dev/null; then
  cid=$(podman run -d --network none berth-bench-busybox sleep 600 2>/dev/null || true)
  if [[ -n "$cid" ]]; then
    sleep 0.5
    cpid=$(pgrep -f "conmon.*$cid" | head -1)
    [[ -n "$cpid" ]] && R[podman_mon_rss]=$(awk '/VmRSS/{print $2}' "/proc/$cpid/status")
    podman rm -f "$cid" >/dev/null 2>&1
  fi
fi

ratio() { [[ -n "${2:-}" && "$2" != fail && "$2" != 0 && "$1" != fail ]] && awk -v a="$1" -v b="$2" 'BEGIN{printf "%.2f", a/b}' || echo "-"; }
printf "%-34s %10s %10s %10s %14s\n" "case" "berth ms" "podman ms" "docker ms" "berth/podman"
printf "%-34s %10s %10s %10s %14s\n" "run --rm true, --network none" "${R[berth_none]}" "${R[podman_none]:--}" "${R[docker_none]:--}" "$(ratio "${R[berth_none]}" "${R[podman_none]:-}")"
printf "%-34s %10s %10s %10s %14s\n" "run --rm true, default bridge" "${R[berth_bridge]}" "${R[podman_bridge]:--}" "${R[docker_bridge]:--}" "$(ratio "${R[berth_bridge]}" "${R[podman_bridge]:-}")"
printf "%-34s %10s %10s %10s %14s\n" "ps -a with 100 containers" "${R[berth_ps100]}" "-" "-" "-"
printf "%-34s %10s %10s %10s %14s\n" "ps -a, 100 containers: CPU ms" "${R[berth_ps100_cpu]:--}" "-" "-" "-"
printf "%-34s %10s %10s %10s %14s\n" "berth --help (start-up): CPU ms" "${R[berth_help_cpu]:--}" "-" "-" "-"
printf "%-34s %10s %10s %10s %14s\n" "monitor RSS KiB (conmon for podman)" "${R[berth_mon_rss]}" "${R[podman_mon_rss]:--}" "-" "$(ratio "${R[berth_mon_rss]}" "${R[podman_mon_rss]:-}")"
