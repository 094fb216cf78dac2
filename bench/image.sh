#!/usr/bin/env bash
# Image benchmarks, berth side by side with its peers in one run:
#   1. pull of a multi-layer image (the Debian+Flask rootfs split in 3 gzip layers, ~220 MB
#      unpacked, ~86 MB compressed) from a local docker-registry, ROUNDS rounds, alternating
#      tools, median reported, each into a fresh store:
#        berth pull                        download + verify + unpack to snapshots (ready to run)
#        skopeo copy -> containers-storage: the same work: download + verify + unpack into
#                                          local storage (overlay driver, own temp root)
#        podman pull                       same library as the line above (overlay, temp root)
#        skopeo copy -> oci: dir           download + verify only, no unpack (a lower bound)
#   2. unpack of the same rootfs: berth import (unpack + blob in one pass) vs umoci raw unpack
#   3. `berth images` with 200 images: perf stat (task-clock, page faults, wall) and hyperfine,
#      next to `berth --help` (process start) and `podman images` listing 200 names
# Usage: bench/image.sh [BERTH]   (needs BERTH_BENCH=1 scripts/install-deps.sh; root)
#   ROUNDS=3 (pull rounds)   FIX=build/fixtures   SKIP_PODMAN_LIST=1 (skip the podman listing)
set -euo pipefail
SRC="$(cd "$(dirname "$0")/.." && pwd)"
BERTH="${1:-$SRC/build/bin/berth}"
FIX="${FIX:-$SRC/build/fixtures}"
ROUNDS="${ROUNDS:-3}"
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
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
echo "load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"

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
csize=$(du -cb "$T"/oci/blobs/sha256/* | tail -1 | cut -f1)

port=$((20000 + RANDOM % 12000))   # below the ephemeral range (32768-60999)
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
cs() { echo "containers-storage:[overlay@$T/$1/root+$T/$1/run]bench/flask:1"; }
# Every round pulls into fresh dirs and nothing is deleted until the end: this ext4 has no
# journal, and creating files right after deleting thousands is slow (ext4 skips recently
# deleted inodes), which would charge one tool for another's cleanup.
: >"$T/t-berth" >"$T/t-skcs" >"$T/t-podman" >"$T/t-skoci"
for r in $(seq 1 "$ROUNDS"); do
  sync
  t0=$(now); "$BERTH" --root "$T/b1-$r" pull -q --tls-verify=false "$R" >/dev/null; t1=$(now)
  secs "$t0" "$t1" >>"$T/t-berth"
  sync
  t0=$(now); skopeo copy -q --src-tls-verify=false "docker://$R" "$(cs "skcs-$r")"; t1=$(now)
  secs "$t0" "$t1" >>"$T/t-skcs"
  sync
  t0=$(now); podman --root "$T/p-$r/root" --runroot "$T/p-$r/run" --storage-driver overlay pull -q --tls-verify=false "$R" >/dev/null; t1=$(now)
  secs "$t0" "$t1" >>"$T/t-podman"
  sync
  t0=$(now); skopeo copy -q --src-tls-verify=false "docker://$R" "oci:$T/sk-$r:flask"; t1=$(now)
  secs "$t0" "$t1" >>"$T/t-skoci"
done
bp=$(median <"$T/t-berth"); cp_=$(median <"$T/t-skcs"); pp=$(median <"$T/t-podman"); op=$(median <"$T/t-skoci")
# what berth left is ready to run: every snapshot is there
nsnap=$(ls "$T/b1-1/images/snapshots" | wc -l)
echo "load average after pulls: $(cut -d' ' -f1-3 /proc/loadavg)"

# Unpack: the same rootfs as one plain tar.
tar -C "$T/rootfs" --numeric-owner -cf "$T/flat.tar" .
u0=$(now); "$BERTH" --root "$T/b2" import "$T/flat.tar" flat:1 >/dev/null; u1=$(now)
mkdir -p "$T/um"; m0=$(now); umoci raw unpack --image "$T/oci:flask" "$T/um/rootfs" 2>/dev/null; m1=$(now)
bu=$(secs "$u0" "$u1"); mu=$(secs "$m0" "$m1")

# berth images with 200 images (one tiny layer each).
mkdir -p "$T/tiny"
for i in $(seq 1 200); do
  echo "$i" >"$T/tiny/f"; tar -C "$T/tiny" -cf "$T/tiny.tar" f
  "$BERTH" --root "$T/b3" import "$T/tiny.tar" "img$i:v1" >/dev/null
done
[[ "$("$BERTH" --root "$T/b3" images -q | wc -l)" == 200 ]] || { echo "expected 200 images" >&2; exit 1; }
pstat() {  # pstat CMD...: "<wall ms> <task-clock ms> <page faults>" over 30 runs
  perf stat -x, -r 30 -e task-clock,page-faults "$@" 2>&1 >/dev/null | awk -F, '
    /task-clock/ {tc=$1} /page-faults/ {pf=$1} END {printf "%.2f %.0f", tc, pf}'
}
hyperfine -N --warmup 3 --runs 30 --export-json "$T/h.json" "$BERTH --help" "$BERTH --root $T/b3 images" >/dev/null
base=$(jq '.results[0].mean * 1000' "$T/h.json")
li=$(jq '.results[1].mean * 1000' "$T/h.json")
read -r tc_i pf_i <<<"$(pstat "$BERTH" --root "$T/b3" images)"
read -r tc_h pf_h <<<"$(pstat "$BERTH" --help)"
pl="" tc_p="" pf_p=""
if [[ -z "${SKIP_PODMAN_LIST:-}" ]]; then
  P=(podman --root "$T/pl/root" --runroot "$T/pl/run" --storage-driver overlay)
  "${P[@]}" import -q "$T/tiny.tar" localhost/img0:v1 >/dev/null
  names=(); for i in $(seq 1 199); do names+=("localhost/img$i:v1"); done
  "${P[@]}" tag localhost/img0:v1 "${names[@]}"
  hyperfine -N --warmup 2 --runs 10 --export-json "$T/hp.json" "${P[*]} images" >/dev/null
  pl=$(jq '.results[0].mean * 1000' "$T/hp.json")
fi

printf '\n%-52s %10s %10s\n' "work (load avg $(cut -d' ' -f1 /proc/loadavg) at end)" "seconds" "berth/peer"
printf '%-52s %10.2f\n' "pull 3-layer flask ($((csize / 1000000)) MB gz): berth, $nsnap snapshots" "$bp"
printf '%-52s %10.2f %10s\n' "pull: skopeo copy -> containers-storage (overlay)" "$cp_" "$(ratio "$bp" "$cp_")"
printf '%-52s %10.2f %10s\n' "pull: podman pull (overlay)" "$pp" "$(ratio "$bp" "$pp")"
printf '%-52s %10.2f %10s\n' "pull: skopeo copy -> oci: dir (no unpack)" "$op" "$(ratio "$bp" "$op")"
printf '%-52s %10s\n' "  (berth rounds: $(tr '\n' ' ' <"$T/t-berth"))" ""
printf '%-52s %10.2f\n' "unpack rootfs: berth import" "$bu"
printf '%-52s %10.2f %10s\n' "unpack rootfs: umoci raw unpack (3 layers)" "$mu" "$(ratio "$bu" "$mu")"
printf '%-52s %10.2f ms\n' "berth images, 200 images (hyperfine mean)" "$li"
printf '%-52s %10.2f ms\n' "berth --help (process start, hyperfine mean)" "$base"
printf '%-52s %10.2f ms %6s faults\n' "berth images: task-clock (perf stat)" "$tc_i" "$pf_i"
printf '%-52s %10.2f ms %6s faults\n' "berth --help: task-clock (perf stat)" "$tc_h" "$pf_h"
[[ -n "$pl" ]] && printf '%-52s %10.2f ms %10s\n' "podman images, 200 names (hyperfine mean)" "$pl" "$(ratio "$li" "$pl")"
true
