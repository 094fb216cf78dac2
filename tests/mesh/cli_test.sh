#!/usr/bin/env bash
# e2e: the proxy command as a user types it. `berth-proxy` and `berth proxy` validate a config
# with --check, and a bad config fails with one line naming the key (berth: exit 125); the
# io_uring build's epoll twin and its errors; `berth proxy` running the berth-proxy beside it,
# or serving in its own process where there is none.
#   cli_test.sh BERTH_PROXY_BIN BERTH_BIN
set -euo pipefail
proxy=$1 berth=$2
dir=$(mktemp -d /tmp/berth-mesh-cli.XXXXXX)
trap 'rm -rf "$dir"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

cat > "$dir/good.yaml" <<'YAML'
clusters: [{name: calc, endpoints: [127.0.0.1:8081, 127.0.0.1:8082]}]
listeners: [{address: 127.0.0.1:10000, routes: [{cluster: calc}]}]
YAML
cat > "$dir/bad.yaml" <<'YAML'
clusters: [{name: calc, lb: fastest}]
listeners: [{address: 127.0.0.1:10000, routes: [{cluster: calc}]}]
YAML

out=$("$proxy" --config "$dir/good.yaml" --check) || fail "berth-proxy --check good config"
[[ $out == "ok: 1 listeners, 1 routes, 1 clusters" ]] || fail "unexpected summary: $out"

set +e
err=$("$proxy" --config "$dir/bad.yaml" 2>&1 >/dev/null); rc=$?
set -e
(( rc == 1 )) || fail "berth-proxy bad config exit $rc"
[[ $(wc -l <<<"$err") == 1 ]] || fail "error is not one line: $err"
[[ $err == *"clusters[0].lb: unknown policy 'fastest'"* ]] || fail "error does not name the key: $err"

set +e
err=$("$proxy" --config "$dir/missing.yaml" 2>&1 >/dev/null); rc=$?
set -e
(( rc == 1 )) && [[ $err == *"missing.yaml"* ]] || fail "missing file: rc=$rc $err"

# The io_uring build (it has a berth-proxy-epoll twin) runs the twin when told to, and a bad
# BERTH_IO, or a missing twin, is a one-line error (http/io_backend.h).
set +e
err=$(BERTH_IO=kqueue "$proxy" --config "$dir/good.yaml" --check 2>&1 >/dev/null); rc=$?
set -e
(( rc == 1 )) && [[ $err == "berth-proxy: BERTH_IO='kqueue': want io_uring or epoll" ]] || fail "bad BERTH_IO: rc=$rc $err"
if [[ -x "$proxy-epoll" ]]; then
  out=$(BERTH_IO=epoll "$proxy" --config "$dir/good.yaml" --check) || fail "BERTH_IO=epoll --check"
  [[ $out == "ok: 1 listeners, 1 routes, 1 clusters" ]] || fail "twin summary: $out"
  cp "$proxy" "$dir/berth-proxy"  # alone, without its twin
  set +e
  err=$(BERTH_IO=epoll "$dir/berth-proxy" --config "$dir/good.yaml" --check 2>&1 >/dev/null); rc=$?
  set -e
  (( rc == 1 )) && [[ $(wc -l <<<"$err") == 1 && $err == *"$dir/berth-proxy-epoll"* ]] || fail "missing twin: rc=$rc $err"
fi

out=$("$berth" proxy --config "$dir/good.yaml" --check) || fail "berth proxy --check"
[[ $out == ok:* ]] || fail "berth proxy summary: $out"
set +e
err=$("$berth" proxy --config "$dir/bad.yaml" 2>&1 >/dev/null); rc=$?
set -e
(( rc == 125 )) || fail "berth proxy bad config exit $rc (want 125)"
[[ $err == *"unknown policy 'fastest'"* ]] || fail "berth proxy error: $err"

# `berth proxy` runs the berth-proxy beside it (the io_uring build and its twin), keeping
# berth's exit code: its BERTH_IO check answers, with 125.
set +e
err=$(BERTH_IO=kqueue "$berth" proxy --config "$dir/good.yaml" --check 2>&1 >/dev/null); rc=$?
set -e
(( rc == 125 )) && [[ $err == "berth-proxy: BERTH_IO='kqueue': want io_uring or epoll" ]] ||
  fail "berth proxy did not run berth-proxy: rc=$rc $err"
# Without berth-proxy beside it, berth serves the proxy from its own process.
mkdir "$dir/alone" && cp "$berth" "$dir/alone/berth"
out=$(BERTH_IO=kqueue "$dir/alone/berth" proxy --config "$dir/good.yaml" --check) ||
  fail "berth proxy alone --check"
[[ $out == "ok: 1 listeners, 1 routes, 1 clusters" ]] || fail "berth proxy alone summary: $out"
set +e
err=$("$dir/alone/berth" proxy --config "$dir/bad.yaml" 2>&1 >/dev/null); rc=$?
set -e
(( rc == 125 )) && [[ $err == *"unknown policy 'fastest'"* ]] || fail "berth proxy alone bad config: rc=$rc $err"
echo "ok"
