#!/usr/bin/env bash
# N run/rm cycles (default 20; BERTH_CYCLES=200 for the long version) leave the same number of
# mounts, cgroups, netns files, veths, IP leases and files as before. Also: kill -9 of the
# monitor, then ps tells the truth and rm cleans up.
source "$(dirname "$0")/lib.sh"
import_busybox
N="${BERTH_CYCLES:-20}"
count() {
  local mounts netns veths leases files cgroups
  mounts=$(grep -c "$T" /proc/self/mounts || true)
  netns=$(ls "$RUN/netns" 2>/dev/null | wc -l)
  veths=$(ip -o link show master "$BR" type veth 2>/dev/null | wc -l)
  leases=$(find "$RUN/cni" -type f 2>/dev/null | grep -vc -e lock -e last_reserved_ip || true)
  files=$(find "$ROOT/containers" -mindepth 1 2>/dev/null | wc -l)
  # only our own containers' cgroups: other tests may run at the same time
  cgroups=0
  for id in "${IDS[@]}"; do
    for c in /sys/fs/cgroup/*/berth/"$id"; do [[ -d "$c" ]] && cgroups=$((cgroups + 1)); done
  done
  echo "mounts=$mounts netns=$netns veths=$veths leases=$leases files=$files cgroups=$cgroups"
}
IDS=()
# One container first so the default network exists before we count.
b run --rm busybox true
BR=$(b network inspect bridge | sed -n 's/.*"Bridge": "\(.*\)".*/\1/p' | head -1)
before=$(count)
for i in $(seq 1 "$N"); do
  IDS+=("$(b run -d --name c$i busybox sleep 600)")
  b rm -f c$i >/dev/null
done
after=$(count)
expect_eq "$after" "$before" "resources after $N cycles"

# kill -9 of the monitor: the container keeps running and ps says so; rm -f cleans up.
IDS+=("$(b run -d --name orphan busybox sleep 600)")
mon=$(pgrep -f "berth-monitor root=$ROOT runroot=$RUN " | head -1)
[[ -n "$mon" ]] || fail "no monitor process"
# The monitor of a running container is the lean berth-monitor: under 2 MiB resident.
rss=$(awk '/^VmRSS/{print $2}' "/proc/$mon/status")
(( rss < 2048 )) || fail "monitor RSS ${rss} KiB, expected < 2048"
kill -9 "$mon"
sleep 0.2
b ps | has orphan || fail "ps after monitor kill"
b rm -f orphan >/dev/null
expect_eq "$(count)" "$before" "resources after monitor kill + rm"

# kill -9 of the monitor and the container: ps says exited, rm cleans up.
IDS+=("$(b run -d --name gone busybox sleep 600)")
pid=$(b inspect gone | sed -n 's/.*"Pid": \([0-9]*\).*/\1/p')
mon=$(pgrep -f "berth-monitor root=$ROOT runroot=$RUN " | head -1)
kill -9 "$mon" "$pid"
sleep 0.3
b ps -a | grep gone | has Exited || fail "ps after kill -9 of monitor and init"
b rm gone >/dev/null
expect_eq "$(count)" "$before" "resources after crash + rm"
echo "cycles: ok ($N)"
