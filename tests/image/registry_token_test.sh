#!/usr/bin/env bash
# The Bearer token flow: docker-registry with `auth: token:` trusting a certificate made here,
# and token_server.py (loopback) issuing scoped RS256 tokens: alice may pull+push priv/*,
# only pull ro/*. berth logs in, pushes and pulls with scoped tokens (one `scope` parameter per
# scope, cross-repository mount asks for two), is refused where the token does not grant
# push, and skopeo reads back the same digest.
source "$(dirname "$0")/lib.sh"
need docker-registry; need skopeo; need openssl; need python3
[[ -s "$FIX/busybox.tar" ]] || skip "fixture busybox.tar missing"
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$T/key.pem" -out "$T/cert.pem" -days 1 \
  -subj /CN=berth-test-token 2>/dev/null
tport=$(free_port)
python3 "$SRC/tests/image/token_server.py" "$tport" "$T/key.pem" "$T/cert.pem" berth-test-issuer \
  "$T/token.log" 2>"$T/token.err" &
PIDS+=($!)
wait_http "http://127.0.0.1:$tport/token" "token server" "$T/token.err"
port=$(free_port)
mkdir -p "$T/reg"
cat >"$T/reg/config.yml" <<YML
version: 0.1
log: {level: error}
storage: {filesystem: {rootdirectory: $T/reg/data}}
http: {addr: 127.0.0.1:$port}
auth:
  token:
    realm: http://127.0.0.1:$tport/token
    service: berth-test-registry
    issuer: berth-test-issuer
    rootcertbundle: $T/cert.pem
YML
docker-registry serve "$T/reg/config.yml" >"$T/reg/log" 2>&1 &
PIDS+=($!)
wait_http "http://127.0.0.1:$port/v2/" registry "$T/reg/log"
R="127.0.0.1:$port"
curl -s -D - -o /dev/null "http://$R/v2/" | has -i '^www-authenticate: bearer' ||
  die "registry does not ask for a bearer token"

b import "$FIX/busybox.tar" busybox:latest >/dev/null
b tag busybox:latest "$R/priv/bb:1"
# anonymous: the token grants nothing for priv/*, so the push is refused with a clear error
if b push --tls-verify=false -q "$R/priv/bb:1" 2>"$T/err"; then die "anonymous push succeeded"; fi
grep -qi "denied\|not authorized\|unauthorized\|401" "$T/err" || die "unclear error: $(cat "$T/err")"
if b login --tls-verify=false -u alice -p wrong "$R" 2>"$T/err"; then die "login with a wrong password"; fi
grep -qi "authentication failed\|invalid username" "$T/err" || die "unclear login error: $(cat "$T/err")"
b login --tls-verify=false -u alice -p s3cret "$R" >/dev/null
: >"$T/token.log"
digest=$(b push --tls-verify=false -q "$R/priv/bb:1")
[[ "$digest" == sha256:* ]] || die "push printed '$digest'"
jq -e 'select(.user=="alice" and (.scopes|index("repository:priv/bb:pull,push")) and
        (.granted[0].actions==["pull","push"]))' "$T/token.log" >/dev/null ||
  die "no scoped push token was asked for: $(cat "$T/token.log")"
sk=$(skopeo inspect --tls-verify=false --creds alice:s3cret --format '{{.Digest}}' "docker://$R/priv/bb:1")
[[ "$sk" == "$digest" ]] || die "skopeo digest $sk != berth $digest"
# cross-repository mount: one token request with two scope parameters
b tag busybox:latest "$R/priv/other:1"
: >"$T/token.log"
b push --tls-verify=false "$R/priv/other:1" 2>"$T/push2.log" >/dev/null
grep -q "mounted from priv/bb" "$T/push2.log" || die "cross-repo mount not used: $(cat "$T/push2.log")"
jq -e 'select((.scopes|length)==2 and (.scopes|index("repository:priv/bb:pull")))' "$T/token.log" \
  >/dev/null || die "mount token did not carry both scopes: $(cat "$T/token.log")"
# pull with a pull-scoped token into a fresh store (credentials kept in the auth file)
cp "$T/root/auth.json" "$T/auth.json"
rm -rf "$T/root"
b pull --tls-verify=false --authfile "$T/auth.json" -q "$R/priv/bb:1" >/dev/null
b image inspect "$R/priv/bb:1" | jq -e --arg d "$digest" '.[0].Digest == $d' >/dev/null ||
  die "pulled image has another digest"
jq -e 'select(.scopes==["repository:priv/bb:pull"] and .granted[0].actions==["pull"])' \
  "$T/token.log" >/dev/null || die "pull did not use a pull-only token: $(tail -3 "$T/token.log")"
# ro/*: alice may pull but not push
b tag "$R/priv/bb:1" "$R/ro/bb:1"
if b push --tls-verify=false --authfile "$T/auth.json" -q "$R/ro/bb:1" 2>"$T/err"; then
  die "push to a pull-only repository succeeded"
fi
grep -qi "denied\|not authorized\|unauthorized\|401\|403" "$T/err" || die "unclear error: $(cat "$T/err")"
echo PASS
