#!/usr/bin/env bash
# Pull through a proxy that answers 500 once per manifest and drops every blob download half
# way once: berth retries and resumes, and the image arrives with every digest checked. Then a
# registry that is gone: the pull fails and leaves the store as it was.
source "$(dirname "$0")/lib.sh"
need docker-registry; need python3
[[ -s "$FIX/busybox.tar" ]] || skip "fixture busybox.tar missing"
port=$(free_port); start_registry "$port"
b import "$FIX/busybox.tar" bb:1 >/dev/null
b tag bb:1 "127.0.0.1:$port/f/bb:1"
b push -q --tls-verify=false "127.0.0.1:$port/f/bb:1" >/dev/null
pport=$(free_port)
python3 "$(dirname "$0")/fault_proxy.py" "$pport" "$port" & PIDS+=($!)
wait_http "http://127.0.0.1:$pport/v2/" "fault proxy"
rm -rf "$T/root"
b pull --tls-verify=false "127.0.0.1:$pport/f/bb:1" 2>"$T/log" >/dev/null || { cat "$T/log"; die "pull through faults failed"; }
b image inspect "127.0.0.1:$pport/f/bb:1" >/dev/null || die "image missing"
snap=$(b image inspect "127.0.0.1:$pport/f/bb:1" | jq -r '.[0].RootFS.Layers[0]')
[[ -x "$T/root/images/snapshots/${snap#sha256:}/bin/busybox" ]] || die "not unpacked"
# The registry goes away: a failed pull leaves nothing named and no partial blobs adopted.
kill "${PIDS[0]}"; wait "${PIDS[0]}" 2>/dev/null || true
before=$(b images -q | wc -l); nblobs=$(ls "$T/root/images/blobs/sha256" | wc -l)
if b pull -q --tls-verify=false "127.0.0.1:$port/f/other:1" 2>"$T/err"; then die "pull from a dead registry"; fi
grep -q "pull 127.0.0.1:$port/f/other:1" "$T/err" || die "error does not name the image: $(cat "$T/err")"
[[ "$(b images -q | wc -l)" == "$before" && "$(ls "$T/root/images/blobs/sha256" | wc -l)" == "$nblobs" ]] || die "store changed"
echo PASS
