#!/usr/bin/env bash
# create+start+wait+delete of /bin/true from one busybox bundle (`RUNTIME run`), N runs each,
# for berth-runtime, runc and crun; prints mean time per run, peak RSS, page faults and the
# berth/peer ratios. Then 50 concurrent berth-runtime runs: all must succeed and clean up.
#
# crun 1.8 refuses hybrid cgroups (v1 controllers + cgroup2 at /sys/fs/cgroup/unified), even
# with --cgroup-manager=disabled. So crun is timed in a private mount namespace where the
# unified mount is unmounted: crun then sees a pure cgroup v1 host and runs with its cgroupfs
# manager (real v1 cgroups, as berth and runc use). berth-runtime is timed both on the host
# (hybrid: v1 + unified dirs, eBPF device program) and in the same kind of namespace as crun
# (v1 only); berth/crun compares the two runs made under identical conditions.
#
# Usage: bench/runtime.sh [N]     (run as root; needs build/bin/berth-runtime or BERTH_RUNTIME)
set -euo pipefail
cd "$(dirname "$0")/.."

# --- Inner mode: time one runtime (called directly, or under `unshare -m` for the v1 view).
if [[ "${1:-}" == --inner ]]; then
  shift
  name=$1 bin=$2 root=$3 bundle=$4 n=$5 v1only=$6
  if [[ "$v1only" == 1 ]]; then
    umount /sys/fs/cgroup/unified 2>/dev/null || umount -l /sys/fs/cgroup/unified
  fi
  if ! err="$("$bin" --root "$root" run -b "$bundle" "probe-$name-$$" 2>&1 >/dev/null)"; then
    "$bin" --root "$root" delete -f "probe-$name-$$" >/dev/null 2>&1 || true
    echo "ERR cannot run here: $(echo "$err" | tail -1)"
    exit 0
  fi
  t0=$(date +%s%N)
  for ((i = 0; i < n; i++)); do "$bin" --root "$root" run -b "$bundle" "b-$name-$$-$i" >/dev/null; done
  t1=$(date +%s%N)
  m=0
  for i in 1 2 3 4 5; do
    r=$(/usr/bin/time -f %M "$bin" --root "$root" run -b "$bundle" "rss-$name-$$-$i" 2>&1 >/dev/null | tail -1)
    ((r > m)) && m=$r
  done
  pf=-
  if command -v perf >/dev/null; then
    pf=$(perf stat -x, -e page-faults -r 10 "$bin" --root "$root" run -b "$bundle" "pf-$name-$$" \
           2>&1 >/dev/null | awk -F, '/page-faults/ {printf "%d", $1}')
  fi
  echo "OK $(((t1 - t0) / n / 1000)) $m ${pf:--}"
  exit 0
fi

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
self="$PWD/bench/runtime.sh"
hybrid=0
[[ -f /sys/fs/cgroup/unified/cgroup.controllers ]] && mountpoint -q /sys/fs/cgroup/memory && hybrid=1

declare -A mean rss pf note how
bench() { # bench NAME BINARY V1ONLY HOW
  local name=$1 bin=$2 v1=$3 out
  how[$name]=$4
  if [[ "$v1" == 1 ]]; then
    out=$(unshare -m --propagation private bash "$self" --inner "$name" "$bin" "$T/root-$name" \
            "$T/bundle" "$N" 1)
  else
    out=$(bash "$self" --inner "$name" "$bin" "$T/root-$name" "$T/bundle" "$N" 0)
  fi
  if [[ "$out" == OK* ]]; then
    read -r _ mean[$name] rss[$name] pf[$name] <<<"$out"
  else
    note[$name]="${out#ERR }"
  fi
}

order=(berth runc)
bench berth "$berth" 0 "host cgroups (hybrid: v1 + unified, eBPF device program)"
if command -v runc >/dev/null; then
  bench runc "$(command -v runc)" 0 "host cgroups (runc's cgroupfs driver)"
else
  note[runc]="not installed"
fi
if command -v crun >/dev/null; then
  crun=$(command -v crun)
  order+=(crun)
  if [[ $hybrid == 1 ]]; then
    msg=$(cd "$T/bundle" && "$crun" --cgroup-manager=disabled --root "$T/root-crun-probe" run probe 2>&1 >/dev/null || true)
    echo "crun on this hybrid host: ${msg:-runs}"
    order+=(berth-v1)
    bench crun "$crun" 1 "private mount ns without /sys/fs/cgroup/unified: v1 cgroups (cgroupfs)"
    bench berth-v1 "$berth" 1 "same mount ns as crun: v1 cgroups"
  else
    bench crun "$crun" 0 "host cgroups"
  fi
else
  note[crun]="not installed"
fi

echo "runtime run of /bin/true, $N runs each ($(nproc) cores, load $(cut -d' ' -f1 /proc/loadavg))"
printf '%-9s %9s %12s %12s  %s\n' runtime "ms/run" "peak RSS KB" "faults/run" "ran with"
for r in "${order[@]}"; do
  if [[ -n "${mean[$r]:-}" ]]; then
    printf '%-9s %9.2f %12s %12s  %s\n' "$r" "$(echo "${mean[$r]} / 1000" | bc -l)" "${rss[$r]}" \
      "${pf[$r]}" "${how[$r]}"
  else
    printf '%-9s %s\n' "$r" "${note[$r]:-?}"
  fi
done
ratio() { echo "${mean[$1]:-}" "${mean[$2]:-}" | awk '$1 && $2 {printf "%.2f", $1 / $2}'; }
echo "berth/runc (both on host cgroups):            $(ratio berth runc)   goal <= 0.40"
if [[ -n "${mean[berth-v1]:-}" ]]; then
  echo "berth/crun (both v1 cgroups, same mount ns):  $(ratio berth-v1 crun)   goal <= 0.80"
  echo "berth(host, hybrid)/crun(v1):                 $(ratio berth crun)"
  [[ -n "${rss[crun]:-}" ]] && echo "peak RSS berth/crun: ${rss[berth-v1]}/${rss[crun]} KB (goal: berth <= crun)"
elif [[ -n "${mean[crun]:-}" ]]; then
  echo "berth/crun:                                   $(ratio berth crun)   goal <= 0.80"
  echo "peak RSS berth/crun: ${rss[berth]}/${rss[crun]} KB (goal: berth <= crun)"
fi

# 50 concurrent runs: all succeed, nothing of theirs left behind.
root="$T/root-conc"
tag="conc$$"
fails=0
for i in $(seq 50); do "$berth" --root "$root" run -b "$T/bundle" "$tag-$i" >/dev/null 2>"$T/err-$i" & done
for job in $(jobs -p); do wait "$job" || fails=$((fails + 1)); done
left=$( (ls "$root" 2>/dev/null || true) | wc -l)
cg=$( (ls -d /sys/fs/cgroup/*/berth/"$tag"-* 2>/dev/null || true) | wc -l)
echo "50 concurrent runs: $((50 - fails)) ok, $fails failed, $left state dirs and $cg cgroups left"
