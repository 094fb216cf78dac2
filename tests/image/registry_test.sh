#!/usr/bin/env bash
# berth push/pull against Debian's docker-registry on loopback, read back by skopeo with the
# same digests; skopeo pushes, berth pulls; then the same with htpasswd auth and login/logout.
source "$(dirname "$0")/lib.sh"
need docker-registry; need skopeo
[[ -s "$FIX/busybox.tar" ]] || skip "fixture busybox.tar missing"
port=$(free_port)
start_registry "$port"
R="127.0.0.1:$port"
b import "$FIX/busybox.tar" busybox:latest >/dev/null
b tag busybox:latest "$R/test/busybox:1"
digest=$(b push --tls-verify=false -q "$R/test/busybox:1")
[[ "$digest" == sha256:* ]] || die "push printed '$digest'"
# skopeo sees the same manifest digest
sk=$(skopeo inspect --tls-verify=false --format '{{.Digest}}' "docker://$R/test/busybox:1")
[[ "$sk" == "$digest" ]] || die "skopeo digest $sk != berth $digest"
skopeo copy -q --preserve-digests --src-tls-verify=false "docker://$R/test/busybox:1" "oci:$T/sk-oci:x" >/dev/null
mdig=$(jq -r '.manifests[0].digest' "$T/sk-oci/index.json")
[[ "$mdig" == "$digest" ]] || die "skopeo copy got $mdig, want $digest"
# push again: every blob already exists; to another repo: blobs are mounted
b push --tls-verify=false "$R/test/busybox:1" 2>"$T/push2.log" >/dev/null
grep -q "already exists" "$T/push2.log" || die "second push re-uploaded blobs"
b tag busybox:latest "$R/other/bb:2"
b push --tls-verify=false "$R/other/bb:2" 2>"$T/push3.log" >/dev/null
grep -q "mounted from" "$T/push3.log" || die "cross-repo mount not used: $(cat "$T/push3.log")"
# skopeo pushes a 3-layer image (with whiteouts); berth pulls it and sees the merged content
if [[ -s "$FIX/layered-oci.tar" ]]; then
  skopeo copy -q --dest-tls-verify=false "oci-archive:$FIX/layered-oci.tar" "docker://$R/test/layered:latest"
  b pull --tls-verify=false -q "$R/test/layered:latest" >/dev/null
  b image inspect "$R/test/layered:latest" | jq -e '.[0].Layers | length == 3' >/dev/null || die "layered pull"
fi
# pull into a fresh root by digest, and by tag
rm -rf "$T/root"
id=$(b pull --tls-verify=false -q "$R/test/busybox@$digest")
b images | has "test/busybox" || die "pulled image not listed"
id2=$(b pull --tls-verify=false -q "$R/test/busybox:1")
[[ "$id" == "$id2" ]] || die "pull by digest and tag differ"
# errors: unknown tag, unreachable registry, bad name
if b pull --tls-verify=false -q "$R/test/busybox:nope" 2>"$T/err"; then die "pull of missing tag succeeded"; fi
grep -q "not found" "$T/err" || die "unclear error: $(cat "$T/err")"
if b pull -q "127.0.0.1:1/x:y" 2>/dev/null; then die "pull from closed port succeeded"; fi
if b pull -q "NotAName" 2>/dev/null; then die "bad name accepted"; fi

# --- htpasswd auth ---
htpasswd -Bbn alice s3cret >"$T/htpasswd"
port2=$(free_port)
start_registry "$port2" "$T/htpasswd"
R2="127.0.0.1:$port2"
b tag busybox:latest "$R2/priv/bb:1" 2>/dev/null || b tag "$id" "$R2/priv/bb:1"
if b push --tls-verify=false -q "$R2/priv/bb:1" 2>"$T/err"; then die "push without login succeeded"; fi
if b login --tls-verify=false -u alice -p wrong "$R2" 2>/dev/null; then die "login with a wrong password"; fi
b login --tls-verify=false -u alice -p s3cret "$R2" >/dev/null
[[ "$(stat -c %a "$T/root/auth.json")" == 600 ]] || die "auth file mode"
b push --tls-verify=false -q "$R2/priv/bb:1" >/dev/null
skopeo inspect --tls-verify=false --creds alice:s3cret "docker://$R2/priv/bb:1" >/dev/null
b rmi "$R2/priv/bb:1" >/dev/null
b pull --tls-verify=false -q "$R2/priv/bb:1" >/dev/null
b logout "$R2" >/dev/null
b rmi "$R2/priv/bb:1" >/dev/null
if b pull --tls-verify=false -q "$R2/priv/bb:1" 2>/dev/null; then die "pull after logout succeeded"; fi
echo PASS
