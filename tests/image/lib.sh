# Shared helpers for the image integration tests (sourced). Each test gets a temp dir with
# its own berth --root, removed on exit along with every process the test started.
set -euo pipefail
# `cmd | has PATTERN`: like `grep -q`, but reads all of cmd's output. grep -q exits at the first
# match, and a cmd still writing then dies of SIGPIPE, which pipefail turns into a failure.
has() { grep "$@" >/dev/null; }
SRC="${SRC:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}"
BERTH="${BERTH:?set BERTH to the berth binary}"
FIX="${FIX:-$SRC/build/fixtures}"
T="$(mktemp -d /tmp/berth-image-it-XXXXXX)"
PIDS=()
cleanup() {
  local rc=$? p
  set +e
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
  # podman may leave overlay mounts under its temp root
  { grep -o " $T[^ ]*" /proc/self/mounts 2>/dev/null || true; } | sort -r | while read -r m; do umount -l "$m" 2>/dev/null; done
  rm -rf "$T"
  exit "$rc"
}
trap cleanup EXIT
b() { "$BERTH" --root "$T/root" --runroot "$T/run" "$@"; }
die() { echo "FAIL: $*" >&2; exit 1; }
skip() { echo "SKIP: $*"; exit 77; }
need() { command -v "$1" >/dev/null || skip "$1 not installed"; }
# free_port: a loopback port below the kernel's ephemeral range (32768-60999), so no
# outgoing connection of a concurrent test can hold it, and in no socket state now.
free_port() {
  local p
  for _ in $(seq 1 50); do
    p=$((20000 + RANDOM % 12000))
    ss -tanH "( sport = :$p )" 2>/dev/null | has . || { echo "$p"; return; }
  done
  die "no free port"
}
# start_registry PORT [HTPASSWD]: Debian's docker-registry on 127.0.0.1:PORT
start_registry() {
  local port=$1 auth=${2:-}
  mkdir -p "$T/reg-$port"
  {
    echo "version: 0.1"
    echo "log: {level: error}"
    echo "storage: {filesystem: {rootdirectory: $T/reg-$port/data}, delete: {enabled: true}}"
    echo "http: {addr: 127.0.0.1:$port}"
    [[ -n "$auth" ]] && echo "auth: {htpasswd: {realm: berth-test, path: $auth}}"
  } >"$T/reg-$port/config.yml"
  docker-registry serve "$T/reg-$port/config.yml" >"$T/reg-$port/log" 2>&1 &
  PIDS+=($!)
  wait_http "http://127.0.0.1:$port/v2/" "registry on $port" "$T/reg-$port/log"
}
# wait_http URL WHAT [LOG]: wait up to 30 s (servers start slowly when ctest runs many tests
# at once) for URL to answer; else fail naming WHAT, with LOG's content.
wait_http() {
  for _ in $(seq 1 300); do
    curl -s -o /dev/null "$1" && return 0
    sleep 0.1
  done
  die "$2 did not start${3:+: $(cat "$3" 2>/dev/null)}"
}
# use_podman: podman in the test's temp dir as `p ...`: its own --root/--runroot, vfs storage,
# runc, and a CONTAINERS_CONF with ulimits these machines allow (see MACHINE.md).
use_podman() {
  cat >"$T/containers.conf" <<CONF
[containers]
default_ulimits = ["nofile=1024:1024", "nproc=4096:4096"]
netns = "none"
[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"
CONF
  export CONTAINERS_CONF="$T/containers.conf"
}
p() { podman --root "$T/proot" --runroot "$T/prun" --storage-driver vfs "$@"; }
