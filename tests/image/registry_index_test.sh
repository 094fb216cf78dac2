#!/usr/bin/env bash
# Multi-platform images: skopeo pushes an OCI image index (another platform listed first, then
# the host's); `berth pull` picks the host's manifest. An index without the host's platform
# fails with one clear line and leaves the store as it was.
source "$(dirname "$0")/lib.sh"
need docker-registry; need skopeo; need jq; need python3
[[ -s "$FIX/busybox.tar" ]] || skip "fixture busybox.tar missing"
port=$(free_port); start_registry "$port"; R="127.0.0.1:$port"
b import "$FIX/busybox.tar" busybox:latest >/dev/null
host_cfg=$(b image inspect busybox:latest | jq -r '.[0].Id')
arch=$(b image inspect busybox:latest | jq -r '.[0].Architecture')
b save --format oci-archive -o "$T/bb.tar" busybox:latest
mkdir -p "$T/lay" && tar -C "$T/lay" -xf "$T/bb.tar"
# Two indexes in the layout: "multi" (s390x first, then the host's arch) and "other" (s390x only).
python3 - "$T/lay" "$arch" <<'PY'
import hashlib, json, os, sys
lay, arch = sys.argv[1], sys.argv[2]
def put(obj):
    data = json.dumps(obj, separators=(",", ":")).encode()
    d = hashlib.sha256(data).hexdigest()
    open(os.path.join(lay, "blobs/sha256", d), "wb").write(data)
    return {"digest": "sha256:" + d, "size": len(data)}
def blob(desc):
    return json.load(open(os.path.join(lay, "blobs/sha256", desc["digest"].split(":")[1])))
idx = json.load(open(os.path.join(lay, "index.json")))
host_m = idx["manifests"][0]
man = blob(host_m)
cfg = blob(man["config"]); cfg["architecture"] = "s390x"
man2 = dict(man); man2["config"] = dict(man["config"], **put(cfg))
other = dict(put(man2), mediaType="application/vnd.oci.image.manifest.v1+json",
             platform={"os": "linux", "architecture": "s390x"})
host = {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": host_m["digest"],
        "size": host_m["size"], "platform": {"os": "linux", "architecture": arch}}
def index(ms, name):
    d = put({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json", "manifests": ms})
    return dict(d, mediaType="application/vnd.oci.image.index.v1+json",
                annotations={"org.opencontainers.image.ref.name": name})
idx["manifests"] = [index([other, host], "multi"), index([other], "other")]
json.dump(idx, open(os.path.join(lay, "index.json"), "w"))
PY
skopeo copy -q --all --dest-tls-verify=false "oci:$T/lay:multi" "docker://$R/test/multi:1" >/dev/null
skopeo copy -q --all --dest-tls-verify=false "oci:$T/lay:other" "docker://$R/test/other:1" >/dev/null
rm -rf "$T/root"
out=$(b pull --tls-verify=false "$R/test/multi:1" 2>&1) || die "pull of an index: $out"
grep -q "Selected linux/$arch" <<<"$out" || die "no platform selection reported: $out"
[[ "$(b image inspect "$R/test/multi:1" | jq -r '.[0].Id')" == "$host_cfg" ]] || die "picked the wrong platform"
[[ "$(b image inspect "$R/test/multi:1" | jq -r '.[0].Architecture')" == "$arch" ]] || die "architecture"
nblobs=$(ls "$T/root/images/blobs/sha256" | wc -l)
if b pull -q --tls-verify=false "$R/test/other:1" 2>"$T/err"; then die "pulled an index without the host's platform"; fi
[[ "$(wc -l <"$T/err")" == 1 ]] || die "error is not one line: $(cat "$T/err")"
grep -q "no manifest for linux/$arch" "$T/err" || die "unclear error: $(cat "$T/err")"
[[ "$(ls "$T/root/images/blobs/sha256" | wc -l)" == "$nblobs" ]] || die "failed pull changed the store"
echo PASS
