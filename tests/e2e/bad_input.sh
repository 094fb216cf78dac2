#!/usr/bin/env bash
# Bad input: one clear line, exit 125, and no half-made container left.
source "$(dirname "$0")/lib.sh"
import_busybox
port=$(free_port)
python3 -c "import socket,time;s=socket.socket();s.setsockopt(socket.SOL_SOCKET,socket.SO_REUSEADDR,1);s.bind(('0.0.0.0',$port));s.listen();time.sleep(60)" &
holder=$!
trap 'kill $holder 2>/dev/null; cleanup' EXIT
sleep 0.3
b run -d --name taken busybox sleep 1 >/dev/null
check() {
  local want="$1"; shift
  set +e
  err=$(b "$@" 2>&1 >/dev/null); rc=$?
  set -e
  [[ $rc -eq 125 ]] || fail "'$*': exit $rc, want 125"
  [[ $(printf '%s\n' "$err" | wc -l) -eq 1 ]] || fail "'$*': more than one line: $err"
  [[ "$err" == *"$want"* ]] || fail "'$*': '$err' lacks '$want'"
}
check "Unable to find image" run --rm nosuchimage true
check "already allocated" run -d -p "$port:80" busybox sleep 5
check "invalid -p" run -d -p 80:80:80:80 busybox true
check "does not exist" run -d -v /no/such/dir:/x busybox true
check "--memory" run -d --memory 12q busybox true
check "already in use" run -d --name taken busybox true
check "No such container" exec nosuch true
b stop taken >/dev/null
check "not running" exec taken true
check "--restart" run --restart sometimes busybox true
n=$(b ps -aq | wc -l)
expect_eq "$n" 1 "only the 'taken' container exists"
b rm taken >/dev/null
echo "bad_input: ok"
