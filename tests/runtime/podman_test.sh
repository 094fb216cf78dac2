#!/usr/bin/env bash
# podman drives berth-runtime: plain run, -d + exec + pause/unpause + stop, -t (console socket),
# --memory, --pids-limit, --read-only, --cap-drop. Temp --root/--runroot and a temp
# containers.conf (CONTAINERS_CONF) with ulimits this host allows; nothing in /etc is touched.
# Usage: podman_test.sh BERTH_RUNTIME_BINARY   (exit 77 = skipped)
set -euo pipefail
rt="${1:?usage: podman_test.sh BERTH_RUNTIME}"
src="$(cd "$(dirname "$0")/../.." && pwd)"
command -v podman >/dev/null || { echo "podman not installed: skipped"; exit 77; }
[[ -f "$src/build/fixtures/busybox.tar" ]] || { echo "no busybox fixture: skipped"; exit 77; }
T="$(mktemp -d /tmp/berth-podman-test-XXXXXX)"
# Work from the temp dir: podman's conmon leaves an empty `oom` marker file in its working
# directory when the memory-hog case below is OOM-killed (it landed in the source tree).
cd "$T"
export CONTAINERS_CONF="$T/containers.conf"
cat >"$CONTAINERS_CONF" <<'CONF'
[containers]
default_ulimits = ["nofile=1024:1024", "nproc=4096:4096"]
[engine]
cgroup_manager = "cgroupfs"
events_logger = "file"
CONF
P=(podman --root "$T/root" --runroot "$T/runroot" --storage-driver vfs --runtime "$rt"
   --cgroup-manager cgroupfs --events-backend file)
name="berth-pt-$$"
cleanup() {
  "${P[@]}" rm -af -t 0 >/dev/null 2>&1 || true
  "${P[@]}" rmi -af >/dev/null 2>&1 || true
  rm -rf "$T"
}
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
expect() { # expect NAME EXPECTED ACTUAL
  [[ "$3" == "$2" ]] || fail "$1: expected [$2], got [$3]"
  echo "ok: $1"
}

"${P[@]}" import -q "$src/build/fixtures/busybox.tar" localhost/berth-bb:test >/dev/null

out="$("${P[@]}" run --rm --network none localhost/berth-bb:test sh -c 'echo hi; hostname | wc -c')"
expect "run --rm" "hi
13" "$out"

"${P[@]}" run -d --name "$name" --network none localhost/berth-bb:test sleep 60 >/dev/null
expect "exec" "exec-ok" "$("${P[@]}" exec "$name" sh -c 'echo exec-ok')"
expect "exec sees pid 1" "sleep" "$("${P[@]}" exec "$name" sh -c 'cat /proc/1/comm')"
"${P[@]}" pause "$name" >/dev/null
expect "pause" "paused" "$("${P[@]}" inspect -f '{{.State.Status}}' "$name")"
"${P[@]}" unpause "$name" >/dev/null
expect "unpause" "running" "$("${P[@]}" inspect -f '{{.State.Status}}' "$name")"
"${P[@]}" stop -t 1 "$name" >/dev/null 2>&1
expect "stop" "exited" "$("${P[@]}" inspect -f '{{.State.Status}}' "$name")"
"${P[@]}" rm "$name" >/dev/null

expect "tty via console socket" "/dev/pts/0" \
  "$("${P[@]}" run --rm -t --network none localhost/berth-bb:test tty | tr -d '\r')"

out="$("${P[@]}" run --rm --network none --memory 32m --pids-limit 20 --read-only --cap-drop ALL \
  localhost/berth-bb:test sh -c 'cat /sys/fs/cgroup/memory/memory.limit_in_bytes /sys/fs/cgroup/pids/pids.max;
  touch /x 2>/dev/null || echo ro; grep CapEff /proc/self/status | tr -d "\t"')"
expect "limits, read-only, cap-drop" "33554432
20
ro
CapEff:0000000000000000" "$out"

set +e
"${P[@]}" run --rm --network none --memory 16m --memory-swap 16m localhost/berth-bb:test sh -c 'tail /dev/zero' >/dev/null 2>&1
rc=$?
set -e
expect "memory hog OOM-killed" "137" "$rc"
echo "podman: all ok"
