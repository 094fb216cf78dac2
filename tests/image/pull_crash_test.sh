#!/usr/bin/env bash
# kill -9 of `berth pull` at points spread over the whole pull (before, during and after the
# blob downloads and the unpack): after each, the store still reads (`images`, `inspect`),
# the image is either absent or complete, and the next pull completes and unpacks it.
source "$(dirname "$0")/lib.sh"
need docker-registry; need python3
[[ -s "$FIX/layered-oci.tar" ]] || skip "fixture layered-oci.tar missing"
port=$(free_port); start_registry "$port"
b load -i "$FIX/layered-oci.tar" >/dev/null
src=$(b images --format json | jq -r '.[0].Names[0]')
ref="127.0.0.1:$port/c/layered:1"
b tag "$src" "$ref"
b push -q --tls-verify=false "$ref" >/dev/null
want=$(b image inspect "$ref" | jq -r '.[0].Id')
pport=$(free_port)
python3 "$(dirname "$0")/fault_proxy.py" "$pport" "$port" slow & PIDS+=($!)
wait_http "http://127.0.0.1:$pport/v2/" "fault proxy"
slow="127.0.0.1:$pport/c/layered:1"
complete() {  # the image is named, inspectable and every layer's snapshot is there
  local js n l
  js=$(b image inspect "$slow" 2>/dev/null) || return 1
  n=$(jq '.[0].RootFS.Layers | length' <<<"$js")
  for l in $(jq -r '.[0].RootFS.Layers[]' <<<"$js"); do
    [[ -d "$T/root/images/snapshots/${l#sha256:}" ]] || return 1
  done
  ((n > 0))
}
rm -rf "$T/root"
killed=0
for delay in 0.02 0.05 0.08 0.12 0.16 0.2 0.25 0.3 0.4 0.6; do
  b pull -q --tls-verify=false "$slow" >/dev/null 2>&1 & pid=$!
  sleep "$delay"
  if kill -9 "$pid" 2>/dev/null; then killed=$((killed + 1)); fi
  wait "$pid" 2>/dev/null || true
  b images >/dev/null || die "store unreadable after kill -9 at ${delay}s"
  if b image inspect "$slow" >/dev/null 2>&1; then
    complete || die "kill -9 at ${delay}s left the image named but incomplete"
    b rmi "$slow" >/dev/null || die "rmi after kill at ${delay}s"
  fi
done
((killed >= 3)) || die "only $killed pulls were still running when killed (proxy too fast?)"
b pull -q --tls-verify=false "$slow" >/dev/null || die "pull after the kills failed"
complete || die "final pull: image incomplete"
[[ "$(b image inspect "$slow" | jq -r '.[0].Id')" == "$want" ]] || die "final pull: another image id"
echo "PASS ($killed pulls killed mid-way)"
