#!/usr/bin/env bash
# Image benchmarks, berth side by side with its peers in one run:
#   1. pull of a multi-layer image (the Debian+Flask rootfs split in 3 layers, ~220 MB
#      uncompressed) from a local docker-registry: berth pull vs skopeo copy (to an oci: dir)
#      vs podman pull (vfs storage, own temp root)
#   2. unpack of the same rootfs: berth import (unpack + blob in one pass) vs umoci raw unpack
#   3. `berth images` with 200 images (hyperfine)
# Usage: bench/image.sh [BERTH]   (needs BERTH_BENCH=1 scripts/install-deps.sh; root)
set -euo pipefail
SRC="$(cd "$(dirname "$0")/.." && pwd)"
BERTH="${1:-$SRC/build/bin/berth}"
FIX="${FIX:-$SRC/build/fixtures}"
bash "$SRC/tests/fixtures/make-debian-flask.sh" "$FIX"
T="$(mktemp -d /tmp/berth-bench-image-XXXXXX)"
REG_PID=""
cleanup() {
  set +e
  [[ -n "$REG_PID" ]] && kill "$REG_PID" 2>/dev/null
  { grep -o " $T[^ ]*" /proc/self/mounts || true; } | sort -r | while read -r m; do umount -l "$m"; done
  rm -rf "$T"
}
trap cleanup EXIT
now() { date +%s.%N; }
secs() { echo "$2 - $1" | bc; }
ratio() { echo "scale=2; $1 / $2" | bc; }

# A 3-layer OCI layout from the rootfs: usr/lib, the rest of usr, everything else.
mkdir -p "$T/rootfs" "$T/oci/blobs/sha256"
tar -C "$T/rootfs" -xf "$FIX/debian-flask.tar"
( cd "$T/rootfs" && tar --numeric-owner -cf "$T/l1.tar" usr/lib && tar --numeric-owner --exclude=usr/lib -cf "$T/l2.tar" usr &&
  tar --numeric-owner --exclude=./usr -cf "$T/l3.tar" . )
layers="" diffs=""
for l in l1 l2 l3; do
  diffs+="\"sha256:$(sha256sum "$T/$l.tar" | cut -d' ' -f1)\","
  gzip -1 -n "$T/$l.tar"
  d=$(sha256sum "$T/$l.tar.gz" | cut -d' ' -f1); mv "$T/$l.tar.gz" "$T/oci/blobs/sha256/$d"
  layers+="{\"mediaType\":\"application/vnd.oci.image.layer.v1.tar+gzip\",\"digest\":\"sha256:$d\",\"size\":$(stat -c %s "$T/oci/blobs/sha256/$d")},"
done
cfg="{\"architecture\":\"amd64\",\"os\":\"linux\",\"config\":{\"Cmd\":[\"python3\"]},\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[${diffs%,}]}}"
printf '%s' "$cfg" >"$T/c"; cd_=$(sha256sum "$T/c" | cut -d' ' -f1); mv "$T/c" "$T/oci/blobs/sha256/$cd_"
man="{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\",\"config\":{\"mediaType\":\"application/vnd.oci.image.config.v1+json\",\"digest\":\"sha256:$cd_\",\"size\":${#cfg}},\"layers\":[${layers%,}]}"
printf '%s' "$man" >"$T/m"; md=$(sha256sum "$T/m" | cut -d' ' -f1); mv "$T/m" "$T/oci/blobs/sha256/$md"
printf '{"imageLayoutVersion":"1.0.0"}' >"$T/oci/oci-layout"
printf '{"schemaVersion":2,"manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:%s","size":%d,"annotations":{"org.opencontainers.image.ref.name":"flask"}}]}' "$md" "${#man}" >"$T/oci/index.json"

port=$((40000 + RANDOM % 20000))
cat >"$T/reg.yml" <<YML
version: 0.1
log: {level: error}
storage: {filesystem: {rootdirectory: $T/regdata}}
http: {addr: 127.0.0.1:$port}
YML
docker-registry serve "$T/reg.yml" >/dev/null 2>&1 & REG_PID=$!
for _ in $(seq 50); do curl -s -o /dev/null "http://127.0.0.1:$port/v2/" && break; sleep 0.1; done
R="127.0.0.1:$port/bench/flask:1"
skopeo copy -q --dest-tls-verify=false "oci:$T/oci:flask" "docker://$R"

cat >"$T/containers.conf" <<CONF
[containers]
default_ulimits = ["nofile=1024:1024", "nproc=4096:4096"]
CONF
export CONTAINERS_CONF="$T/containers.conf"
sync
t0=$(now); "$BERTH" --root "$T/b1" pull -q --tls-verify=false "$R" >/dev/null; t1=$(now)
s0=$(now); skopeo copy -q --src-tls-verify=false "docker://$R" "oci:$T/sk:flask"; s1=$(now)
p0=$(now); podman --root "$T/p" --runroot "$T/pr" --storage-driver vfs pull -q --tls-verify=false "$R" >/dev/null; p1=$(now)
bp=$(secs "$t0" "$t1"); sp=$(secs "$s0" "$s1"); pp=$(secs "$p0" "$p1")

# Unpack: the same rootfs as one plain tar.
tar -C "$T/rootfs" --numeric-owner -cf "$T/flat.tar" .
u0=$(now); "$BERTH" --root "$T/b2" import "$T/flat.tar" flat:1 >/dev/null; u1=$(now)
mkdir -p "$T/um"; m0=$(now); umoci raw unpack --image "$T/oci:flask" "$T/um/rootfs" 2>/dev/null; m1=$(now)
bu=$(secs "$u0" "$u1"); mu=$(secs "$m0" "$m1")

# berth images with 200 images.
mkdir -p "$T/tiny"
for i in $(seq 1 200); do
  echo "$i" >"$T/tiny/f"; tar -C "$T/tiny" -cf "$T/tiny.tar" f
  "$BERTH" --root "$T/b3" import "$T/tiny.tar" "img$i:v1" >/dev/null
done
hyperfine -N --warmup 3 --runs 30 --export-json "$T/h.json" "$BERTH --help" "$BERTH --root $T/b3 images" >/dev/null
base=$(jq '.results[0].mean * 1000' "$T/h.json")
li=$(jq '.results[1].mean * 1000' "$T/h.json")

printf '\n%-44s %10s %10s\n' "work" "seconds" "berth/peer"
printf '%-44s %10.2f\n' "pull 3-layer flask image: berth" "$bp"
printf '%-44s %10.2f %10s\n' "pull: skopeo copy -> oci dir" "$sp" "$(ratio "$bp" "$sp")"
printf '%-44s %10.2f %10s\n' "pull: podman pull (vfs)" "$pp" "$(ratio "$bp" "$pp")"
printf '%-44s %10.2f\n' "unpack rootfs: berth import" "$bu"
printf '%-44s %10.2f %10s\n' "unpack rootfs: umoci raw unpack (3 layers)" "$mu" "$(ratio "$bu" "$mu")"
printf '%-44s %10.2f ms\n' "berth images, 200 images (mean)" "$li"
printf '%-44s %10.2f ms\n' "berth --help (process start, baseline)" "$base"
printf '%-44s %10.2f ms\n' "images minus baseline (the store's part)" "$(echo "$li - $base" | bc)"
