#!/usr/bin/env bash
# The main job, from a fresh Debian 12 machine as root: install dependencies, build berth,
# make the busybox base image, build the calc image from its Dockerfile, run it with a
# published port, and call POST /add. Leaves the container running; `berth stop calc` ends it.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
bash scripts/build.sh
B=./build/bin/berth
PORT="${PORT:-8080}"
bash tests/fixtures/busybox.sh build/fixtures/busybox.tar
$B import build/fixtures/busybox.tar busybox:latest >/dev/null
$B rm -f calc >/dev/null 2>&1 || true
$B build -t calc examples/calc
$B run -d -p "${PORT}:80" --name calc calc
add() {
  curl -fsS -X POST -H 'Content-Type: application/json' -d '{"a": 1, "b": 2}' \
    "http://127.0.0.1:${PORT}/add"
}
for _ in $(seq 1 100); do
  add >/dev/null 2>&1 && break
  sleep 0.1
done
echo "POST /add {\"a\": 1, \"b\": 2} ->"
add
echo
