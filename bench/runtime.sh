#!/usr/bin/env bash
# create+start+wait+delete of /bin/true from one busybox bundle (`RUNTIME run`), N runs each,
# for berth-runtime, runc and crun; prints mean time per run, ratios and peak RSS. Then 50
# concurrent berth-runtime runs: all must succeed and clean up.
# Usage: bench/runtime.sh [N]     (run as root; needs build/bin/berth-runtime or BERTH_RUNTIME)
set -euo pipefail
cd "$(dirname "$0")/.."
N="${1:-100}"
berth="${BERTH_RUNTIME:-$PWD/build/bin/berth-runtime}"
[[ -x "$berth" ]] || { echo "build berth-runtime first ($berth)" >&2; exit 1; }
[[ -f build/fixtures/busybox.tar ]] || bash tests/fixtures/make-all.sh
T="$(mktemp -d /tmp/berth-bench-rt-XXXXXX)"
trap 'rm -rf "$T"' EXIT
mkdir -p "$T/bundle/rootfs"
tar -xf build/fixtures/busybox.tar -C "$T/bundle/rootfs"
"$berth" spec -b "$T/bundle"
sed -i -e 's/"terminal": true/"terminal": false/' -e 's/"sh"$/"\/bin\/true"/' "$T/bundle/config.json"
grep -q '"/bin/true"' "$T/bundle/config.json" || { echo "could not edit config.json" >&2; exit 1; }

now() { date +%s%N; }
declare -A mean rss note
bench() { # bench NAME BINARY
  local name=$1 bin=$2 root="$T/root-$1" err
  if ! err="$("$bin" --root "$root" run -b "$T/bundle" "probe-$name" 2>&1 >/dev/null)"; then
    "$bin" --root "$root" delete -f "probe-$name" >/dev/null 2>&1 || true
    note[$name]="cannot run here: $(echo "$err" | tail -1)"
    return
  fi
  local t0 t1 i
  t0=$(now)
  for ((i = 0; i < N; i++)); do "$bin" --root "$root" run -b "$T/bundle" "b-$name-$i" >/dev/null; done
  t1=$(now)
  mean[$name]=$(( (t1 - t0) / N / 1000 ))  # microseconds
  local m=0 r
  for i in 1 2 3 4 5; do
    r=$(/usr/bin/time -f %M "$bin" --root "$root" run -b "$T/bundle" "rss-$name-$i" 2>&1 >/dev/null | tail -1)
    (( r > m )) && m=$r
  done
  rss[$name]=$m
}

bench berth "$berth"
command -v runc >/dev/null && bench runc "$(command -v runc)" || note[runc]="not installed"
command -v crun >/dev/null && bench crun "$(command -v crun)" || note[crun]="not installed"

echo "runtime run of /bin/true, $N runs each ($(nproc) cores, load $(cut -d' ' -f1 /proc/loadavg))"
printf '%-8s %12s %14s %14s\n' runtime "ms/run" "peak RSS KB" "berth/this"
for r in berth runc crun; do
  if [[ -n "${mean[$r]:-}" ]]; then
    printf '%-8s %12.2f %14s %14.2f\n' "$r" "$(echo "${mean[$r]} / 1000" | bc -l)" "${rss[$r]}" \
      "$(echo "${mean[berth]} / ${mean[$r]}" | bc -l)"
  else
    printf '%-8s %s\n' "$r" "${note[$r]}"
  fi
done

# 50 concurrent runs: all succeed, nothing left behind.
root="$T/root-conc"
fails=0
for i in $(seq 50); do "$berth" --root "$root" run -b "$T/bundle" "conc-$i" >/dev/null 2>"$T/err-$i" & done
for job in $(jobs -p); do wait "$job" || fails=$((fails + 1)); done
left=$( (ls "$root" 2>/dev/null || true) | wc -l)
cg=$( (ls -d /sys/fs/cgroup/*/berth/conc-* 2>/dev/null || true) | wc -l)
echo "50 concurrent runs: $((50 - fails)) ok, $fails failed, $left state dirs and $cg cgroups left"
