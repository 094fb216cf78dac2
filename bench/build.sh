#!/usr/bin/env bash
# berth build vs podman build, same Dockerfile and context, in one run.
#   cold    : --no-cache rebuild of every step (base image already present)
#   cached  : unchanged Dockerfile and context, everything from the cache
#   one-file: one source file changed: the steps from its COPY on rerun
# Workloads: "busybox" (a small service shape on the busybox fixture) and "flask"
# (examples/flask on the Debian + python3-flask fixture, when build/fixtures has it).
# Usage: bench/build.sh [RUNS]     (needs root; BERTH_BENCH=1 scripts/install-deps.sh for podman)
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS="${1:-5}"
BERTH="${BERTH:-build/bin/berth}"
[[ -x "$BERTH" ]] || { echo "bench/build.sh: $BERTH missing (bash scripts/build.sh)" >&2; exit 1; }
bash tests/fixtures/busybox.sh build/fixtures/busybox.tar
HAVE_PODMAN=0
command -v podman >/dev/null && HAVE_PODMAN=1

tmp="$(mktemp -d /tmp/berth-bench-build.XXXXXX)"
cleanup() {
  if ((HAVE_PODMAN)); then podman_ system prune -af >/dev/null 2>&1 || true; fi
  grep -o " $tmp[^ ]*" /proc/self/mountinfo | sort -r | xargs -r -n1 umount -l 2>/dev/null || true
  rm -rf "$tmp"
}
trap cleanup EXIT

# podman in its own storage, runc (crun refuses hybrid cgroups), ulimits this sandbox allows.
cat >"$tmp/containers.conf" <<'EOF'
[containers]
default_ulimits = ["nofile=1024:1024", "nproc=4096:4096"]
EOF
export CONTAINERS_CONF="$tmp/containers.conf"
podman_() {
  podman --root "$tmp/podman-root" --runroot "$tmp/podman-run" --runtime runc \
    --cgroup-manager cgroupfs --storage-driver overlay "$@"
}
berth_() { "$BERTH" --root "$tmp/berth-root" --runroot "$tmp/berth-run" "$@"; }

now() { date +%s%N; }
# median of RUNS timings of "$@", in milliseconds
measure() {
  local ts=() t0 t1
  for ((i = 0; i < RUNS; i++)); do
    t0=$(now); "$@" >/dev/null 2>&1 || { echo "FAILED: $*" >&2; return 1; }; t1=$(now)
    ts+=($(((t1 - t0) / 1000)))
  done
  printf '%s\n' "${ts[@]}" | sort -n | awk '{a[NR]=$1} END {printf "%.1f", a[int((NR+1)/2)]/1000}'
}

row() {  # name berth_ms podman_ms
  local ratio="-"
  [[ "$3" != "-" ]] && ratio=$(awk -v b="$2" -v p="$3" 'BEGIN {printf "%.2f", b/p}')
  printf '| %-28s | %10s | %10s | %6s |\n' "$1" "$2" "$3" "$ratio"
}

bench_workload() {  # name context base-tar base-name
  local name="$1" ctx="$2" tar="$3" base="$4"
  berth_ import "$tar" "$base:latest" >/dev/null
  if ((HAVE_PODMAN)); then podman_ import "$tar" "$base:latest" >/dev/null 2>&1; fi
  cp -a "$ctx" "$tmp/ctx-$name"
  local c="$tmp/ctx-$name" f
  f="$(cd "$c" && ls *.py *.txt 2>/dev/null | head -1 || true)"
  local pm="-" pc="-" po="-"
  local bm bc bo
  bm=$(measure berth_ build --no-cache -t "bench-$name" "$c")
  berth_ build -t "bench-$name" "$c" >/dev/null
  bc=$(measure berth_ build -t "bench-$name" "$c")
  bo=$(measure bash -c "echo \"# \$RANDOM\" >> '$c/$f' && $(declare -f berth_); BERTH='$BERTH' tmp='$tmp' berth_ build -t bench-$name '$c'")
  if ((HAVE_PODMAN)); then
    pm=$(measure podman_ build --no-cache --network host -t "bench-$name" "$c")
    podman_ build --network host -t "bench-$name" "$c" >/dev/null
    pc=$(measure podman_ build --network host -t "bench-$name" "$c")
    po=$(measure bash -c "echo \"# \$RANDOM\" >> '$c/$f' && $(declare -f podman_); tmp='$tmp' podman_ build --network host -t bench-$name '$c'")
  fi
  row "$name: cold (--no-cache)" "$bm" "$pm"
  row "$name: fully cached" "$bc" "$pc"
  row "$name: one file changed" "$bo" "$po"
}

mkdir -p "$tmp/busybox-ctx"
cat >"$tmp/busybox-ctx/Dockerfile" <<'EOF'
FROM busybox
WORKDIR /app
COPY . /app
RUN sha256sum /app/* > /app/SUMS && ls -l /app > /app/listing
EXPOSE 80
CMD ["httpd", "-f", "-p", "80", "-h", "/app"]
EOF
echo "hello" >"$tmp/busybox-ctx/index.txt"

echo "berth build vs podman build, median of $RUNS runs, milliseconds ($(date -u +%FT%TZ), $(nproc) cores)"
echo
printf '| %-28s | %10s | %10s | %6s |\n' "work" "berth ms" "podman ms" "ratio"
printf '|%s|%s|%s|%s|\n' "------------------------------" "------------" "------------" "--------"
bench_workload busybox "$tmp/busybox-ctx" build/fixtures/busybox.tar busybox
flask_tar="$(ls "${BERTH_FIXTURES_DIR:-build/fixtures}"/debian-flask*.tar* 2>/dev/null | head -1 || true)"
if [[ -n "$flask_tar" ]]; then
  bench_workload flask examples/flask "$flask_tar" debian-flask
else
  echo "(flask workload skipped: build/fixtures/debian-flask*.tar missing; run tests/fixtures/make-all.sh)"
fi
((HAVE_PODMAN)) || echo "(podman not installed: BERTH_BENCH=1 bash scripts/install-deps.sh)"
