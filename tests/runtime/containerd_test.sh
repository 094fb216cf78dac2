#!/usr/bin/env bash
# containerd drives berth-runtime through its runc shim: `ctr run --runc-binary`, then a
# detached task with `ctr task exec` and `ctr task kill`. containerd runs with its own config,
# root, state and socket in a temp dir; the image is the busybox fixture imported with
# podman and saved as a docker-archive for `ctr image import`.
# Usage: containerd_test.sh BERTH_RUNTIME_BINARY   (exit 77 = skipped)
set -euo pipefail
rt="${1:?usage: containerd_test.sh BERTH_RUNTIME}"
src="$(cd "$(dirname "$0")/../.." && pwd)"
for b in containerd ctr containerd-shim-runc-v2 podman; do
  command -v "$b" >/dev/null || { echo "$b not installed: skipped"; exit 77; }
done
[[ -f "$src/build/fixtures/busybox.tar" ]] || { echo "no busybox fixture: skipped"; exit 77; }
T="$(mktemp -d /tmp/berth-ctrd-test-XXXXXX)"
ns="berth-ct-$$"
cpid=""
cleanup() {
  [[ -n "$cpid" ]] && { kill "$cpid" 2>/dev/null || true; wait "$cpid" 2>/dev/null || true; }
  # ctr puts tasks under a cgroup named after the namespace: remove ours (empty by now).
  for h in /sys/fs/cgroup/*/ /sys/fs/cgroup/unified/; do
    [[ -d "$h$ns" ]] && find "$h$ns" -depth -type d -exec rmdir {} \; 2>/dev/null
  done
  grep " $T" /proc/mounts | awk '{print $2}' | sort -r | xargs -r -n1 umount -l 2>/dev/null || true
  rm -rf "$T"
}
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; [[ -f "$T/containerd.log" ]] && tail -20 "$T/containerd.log" >&2; exit 1; }
expect() {
  [[ "$3" == "$2" ]] || fail "$1: expected [$2], got [$3]"
  echo "ok: $1"
}
cat >"$T/config.toml" <<CONF
version = 2
root = "$T/root"
state = "$T/state"
disabled_plugins = ["io.containerd.grpc.v1.cri"]
[grpc]
  address = "$T/c.sock"
[ttrpc]
  address = "$T/c.sock.ttrpc"
CONF
containerd --config "$T/config.toml" >"$T/containerd.log" 2>&1 &
cpid=$!
for _ in $(seq 100); do [[ -S "$T/c.sock" ]] && break; sleep 0.1; done
[[ -S "$T/c.sock" ]] || fail "containerd did not start"
C=(ctr -a "$T/c.sock" --namespace "$ns")

PD=(podman --root "$T/podman" --runroot "$T/podman-run" --storage-driver vfs)
CONTAINERS_CONF=/dev/null "${PD[@]}" import -q "$src/build/fixtures/busybox.tar" localhost/berth-bb:ctr >/dev/null
CONTAINERS_CONF=/dev/null "${PD[@]}" save -q -o "$T/bb.tar" localhost/berth-bb:ctr
CONTAINERS_CONF=/dev/null "${PD[@]}" rmi -af >/dev/null 2>&1 || true
"${C[@]}" image import "$T/bb.tar" >/dev/null

id="berth-ct-$$"
out="$(timeout 60 "${C[@]}" run --rm --runc-binary "$rt" localhost/berth-bb:ctr "$id-a" sh -c 'echo hello; echo pid=$$')"
expect "ctr run" "hello
pid=1" "$out"

"${C[@]}" run -d --runc-binary "$rt" localhost/berth-bb:ctr "$id-b" sleep 60 >/dev/null
expect "task running" "RUNNING" "$("${C[@]}" task ls | awk -v t="$id-b" '$1 == t {print $3}')"
expect "task exec" "exec-ok sleep" \
  "$(timeout 30 "${C[@]}" task exec --exec-id e1 "$id-b" sh -c 'echo exec-ok $(cat /proc/1/comm)')"
"${C[@]}" task kill -s SIGKILL "$id-b"
for _ in $(seq 50); do
  st="$("${C[@]}" task ls | awk -v t="$id-b" '$1 == t {print $3}')"
  [[ "$st" == STOPPED ]] && break
  sleep 0.1
done
expect "task kill" "STOPPED" "$st"
"${C[@]}" task rm "$id-b" >/dev/null 2>&1 || true
"${C[@]}" container rm "$id-b"
echo "containerd: all ok"
