#!/usr/bin/env bash
# Port publishing on 127.0.0.1 and two containers on one user network reaching each other by
# name.
source "$(dirname "$0")/lib.sh"
import_busybox
port=$(free_port)
net="e2enet$$"
b network create "$net" >/dev/null
mkdir -p "$T/www" && echo "hello from berth" > "$T/www/index.html"
b run -d --name srv$$ --network "$net" -p "127.0.0.1:$port:80" -v "$T/www:/www:ro" busybox httpd -f -p 80 -h /www >/dev/null
wait_for curl -fsS "http://127.0.0.1:$port/" || fail "published port"
expect_eq "$(curl -fsS "http://127.0.0.1:$port/")" "hello from berth" "body"
b port srv$$ | has "80/tcp -> 127.0.0.1:$port" || fail "berth port"
out=$(b run --rm --network "$net" busybox wget -qO- "http://srv$$/")
expect_eq "$out" "hello from berth" "name resolution on a user network"
b run -d --name peer$$ --network "$net" busybox sleep 600 >/dev/null
b exec peer$$ ping -c1 -W2 srv$$ >/dev/null || fail "ping by name"
b rm -f srv$$ peer$$ >/dev/null
b network rm "$net" >/dev/null
echo "network: ok"
