#!/usr/bin/env bash
# Interchange with podman: podman save (docker-archive, oci-archive) -> berth load;
# berth save (both) -> podman load -> podman run. podman runs in its own temp --root/--runroot
# with a CONTAINERS_CONF of its own (vfs storage, runc, low ulimits: see MACHINE.md).
source "$(dirname "$0")/lib.sh"
need podman; need runc
[[ -s "$FIX/busybox.tar" ]] || skip "fixture busybox.tar missing"
use_podman
p import -q "$FIX/busybox.tar" localhost/pbb:1 >/dev/null
p save -q --format docker-archive -o "$T/p-docker.tar" localhost/pbb:1
p save -q --format oci-archive -o "$T/p-oci.tar" localhost/pbb:1
pid=$(p image inspect --format '{{.Id}}' localhost/pbb:1)
out=$(b load -i "$T/p-docker.tar")
echo "$out" | has "pbb:1" || die "docker-archive load: $out"
[[ "$(b image inspect localhost/pbb:1 | jq -r '.[0].Id')" == "sha256:$pid" ]] || die "docker-archive image id differs from podman's"
b rmi localhost/pbb:1 >/dev/null
b load -i "$T/p-oci.tar" >/dev/null
b image inspect "sha256:$pid" >/dev/null || die "oci-archive load: id differs"
[[ "$(b images -q | wc -l)" == 1 ]] || die "expected one image"
# berth runs the image podman saved (when the engine is built)
if "$BERTH" run --help >/dev/null 2>&1; then
  out=$(b run --rm "sha256:$pid" /bin/echo hello-from-podman-image 2>&1) || die "berth run: $out"
  [[ "$out" == hello-from-podman-image ]] || die "berth run printed: $out"
fi

# berth -> podman, both formats, and podman runs the result
b import "$FIX/busybox.tar" berthbb:1 >/dev/null
b save --format oci-archive -o "$T/b-oci.tar" berthbb:1
b save --format docker-archive -o "$T/b-docker.tar" berthbb:1
bid=$(b image inspect berthbb:1 | jq -r '.[0].Id')
p load -q -i "$T/b-docker.tar" >/dev/null
[[ "sha256:$(p image inspect --format '{{.Id}}' berthbb:1)" == "$bid" ]] || die "podman sees another id (docker-archive)"
[[ "$(p run --rm berthbb:1 /bin/echo hi-docker)" == hi-docker ]] || die "podman run of docker-archive"
p rmi -f berthbb:1 >/dev/null
p load -q -i "$T/b-oci.tar" >/dev/null
[[ "$(p run --rm "$bid" /bin/echo hi-oci)" == hi-oci ]] || die "podman run of oci-archive"
# bad input: truncated archive, not an archive; the store stays as it was
before=$(ls "$T/root/images/blobs/sha256" | wc -l)
head -c 5000 "$T/b-docker.tar" >"$T/trunc.tar"
if b load -i "$T/trunc.tar" 2>"$T/err"; then die "truncated archive loaded"; fi
echo garbage >"$T/junk.tar"
if b load -i "$T/junk.tar" 2>/dev/null; then die "junk loaded"; fi
[[ "$(ls "$T/root/images/blobs/sha256" | wc -l)" == "$before" ]] || die "failed load changed the store"
echo PASS
