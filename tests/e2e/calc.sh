#!/usr/bin/env bash
# The issue's flow: build calc, run it with a published port, POST /add, logs, stop, rm.
source "$(dirname "$0")/lib.sh"
[[ -f "$SRC/examples/calc/Dockerfile" ]] || { echo "SKIP: examples/calc/Dockerfile missing"; exit 77; }
b build --help >/dev/null 2>&1 || { echo "SKIP: berth build not available"; exit 77; }
import_busybox
b build -t calc "$SRC/examples/calc" >/dev/null
port=$(free_port)
b run -d -p "$port:80" --name calc calc >/dev/null
wait_for curl -fsS -o /dev/null -X POST -H 'Content-Type: application/json' -d '{"a": 1, "b": 2}' "http://127.0.0.1:$port/add" || fail "calc did not answer"
out=$(curl -fsS -X POST -H 'Content-Type: application/json' -d '{"a": 1, "b": 2}' "http://127.0.0.1:$port/add")
expect_eq "$out" '{"result":3}' "POST /add"
wait_for sh -c "\"$BIN\" --root $ROOT --runroot $RUN logs calc 2>&1 | grep -q add" || fail "logs show the request"
b stop calc >/dev/null
b rm calc >/dev/null
echo "calc: ok"
