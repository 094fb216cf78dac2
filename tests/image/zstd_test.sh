#!/usr/bin/env bash
# zstd layers (application/vnd.oci.image.layer.v1.tar+zstd, made by tests/fixtures/make-zstd.sh
# with the zstd CLI): berth load of the oci-archive, and berth pull of the same image pushed by
# skopeo to a local docker-registry (layers kept as zstd). Both unpack the layers (the file of
# layer 2, its whiteout of /bin/true) and keep the blobs byte for byte (same digests); berth
# push sends them back unchanged.
source "$(dirname "$0")/lib.sh"
[[ -s "$FIX/zstd-oci.tar" ]] || skip "fixture zstd-oci.tar missing"
zmt=application/vnd.oci.image.layer.v1.tar+zstd
check() {  # check IMAGE: both layers kept as zstd blobs
  b image inspect "$1" | jq -e --arg m "$zmt" '.[0].Layers | length == 2 and all(.MediaType == $m)' \
    >/dev/null || die "$1: layers are not zstd: $(b image inspect "$1" | jq -c '.[0].Layers')"
}
b load -i "$FIX/zstd-oci.tar" >"$T/load.out" || die "load of a zstd oci-archive failed"
grep -q "zstd:latest" "$T/load.out" || die "load output: $(cat "$T/load.out")"
mdig=$(tar -xOf "$FIX/zstd-oci.tar" ./index.json | jq -r '.manifests[0].digest')
[[ "$(b image inspect zstd:latest | jq -r '.[0].Digest')" == "$mdig" ]] || die "manifest digest changed on load"
check zstd:latest
# docker-archive holds decompressed layers: berth reads the zstd blobs (diffIDs checked)
b save --format docker-archive -o "$T/d.tar" zstd:latest
mkdir -p "$T/d" && tar -C "$T/d" -xf "$T/d.tar"
l2=$(jq -r '.[0].Layers[1]' "$T/d/manifest.json")
[[ "$(tar -xOf "$T/d/$l2" ./zstd/hello)" == "hello from a zstd layer" ]] || die "layer 2 content via save"
tar -tf "$T/d/$l2" | has '^./bin/.wh.true$' || die "whiteout lost"
need docker-registry; need skopeo
port=$(free_port)
start_registry "$port"
R="127.0.0.1:$port"
skopeo copy -q --dest-tls-verify=false "oci-archive:$FIX/zstd-oci.tar" "docker://$R/z/img:1"
[[ "$(skopeo inspect --tls-verify=false --raw "docker://$R/z/img:1" | jq -r '.layers[0].mediaType')" == "$zmt" ]] ||
  skip "skopeo recompressed the layers"
rm -rf "$T/root"
b pull --tls-verify=false -q "$R/z/img:1" >/dev/null || die "pull of zstd layers failed"
j=$(b image inspect "$R/z/img:1")
echo "$j" | jq -e --arg m "$zmt" '.[0].Layers | all(.MediaType == $m)' >/dev/null || die "pulled layers not zstd"
l2=$(echo "$j" | jq -r '.[0].RootFS.Layers[1]')
s2="$T/root/images/snapshots/${l2#sha256:}"
[[ "$(cat "$s2/zstd/hello")" == "hello from a zstd layer" ]] || die "layer 2 not unpacked by pull"
[[ "$(stat -c %F "$s2/bin/true")" == "character special file" ]] || die "whiteout not in overlay form"
l1=$(echo "$j" | jq -r '.[0].RootFS.Layers[0]')
[[ -x "$T/root/images/snapshots/${l1#sha256:}/bin/busybox" ]] || die "layer 1 not unpacked by pull"
# push back: the registry gets the very same blobs and manifest
b tag "$R/z/img:1" "$R/z/back:1"
d=$(b push --tls-verify=false -q "$R/z/back:1")
[[ "$d" == "$(echo "$j" | jq -r '.[0].Digest')" ]] || die "push changed the manifest digest"
echo PASS
