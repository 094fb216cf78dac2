#!/usr/bin/env bash
# -t: the container's stdio is a pty of its own devpts, held by the monitor (detached or
# attached) or by `exec -t`; logs capture it; nothing appears in the host's /dev/pts.
source "$(dirname "$0")/lib.sh"
import_busybox

host_pts() { ls /dev/pts | sort | tr '\n' ' '; }
pts_before=$(host_pts)

# Detached -t: a controlling terminal (/dev/tty opens), stdin is a tty, 24x80, TERM=xterm.
b run -d -t --name t1 --network none busybox sh -c \
  'tty; test -t 0 && echo stdin-is-tty; exec 3</dev/tty && echo ctty-ok; stty size; echo "term=$TERM"; sleep 600' >/dev/null
wait_for sh -c "\"$BIN\" --root $ROOT --runroot $RUN logs t1 2>/dev/null | grep -q term=" || fail "tty output in logs"
logs=$(b logs t1 2>/dev/null | tr -d '\r')
grep -qx '/dev/pts/0' <<<"$logs" || fail "tty: expected /dev/pts/0 in logs, got: $logs"
grep -qx 'stdin-is-tty' <<<"$logs" || fail "test -t 0 inside"
grep -qx 'ctty-ok' <<<"$logs" || fail "no controlling terminal"
grep -qx '24 80' <<<"$logs" || fail "window size: $logs"
grep -qx 'term=xterm' <<<"$logs" || fail "TERM default"
[[ -z "$(b logs t1 2>&1 >/dev/null)" ]] || fail "a tty's output is logged as stdout"
b inspect t1 | has '"Tty": true' || fail "inspect Tty"
expect_eq "$(host_pts)" "$pts_before" "host /dev/pts while a -t container runs"
# The monitor holding the master stays lean.
mon=$(pgrep -f "berth-monitor root=$ROOT runroot=$RUN " | head -1)
[[ -n "$mon" ]] || fail "no monitor process"
rss=$(awk '/^VmRSS/{print $2}' "/proc/$mon/status")
(( rss < 2048 )) || fail "tty monitor RSS ${rss} KiB, expected < 2048"

# exec -t: a second pty in the container's devpts; exec -it copies stdin into it.
expect_eq "$(b exec -t t1 tty | tr -d '\r')" "/dev/pts/1" "exec -t tty"
expect_eq "$(b exec t1 sh -c 'test -t 0 || echo no-tty')" "no-tty" "exec without -t"
out=$(printf 'echo piped-$((6*7))\nexit 4\n' | b exec -i -t t1 sh; echo "rc=$?")
grep -q 'piped-42' <<<"$out" || fail "exec -it stdin: $out"
grep -q 'rc=4' <<<"$out" || fail "exec -it exit code: $out"
expect_eq "$(host_pts)" "$pts_before" "host /dev/pts after exec -t"
b rm -f t1 >/dev/null

# -e TERM wins over the default.
expect_eq "$(b run --rm -t -e TERM=vt100 --network none busybox sh -c 'echo $TERM' | tr -d '\r')" \
  "vt100" "-e TERM"

# Foreground -t: output through the monitor's pty to us, and into the logs; exit code back.
set +e
out=$(b run -t --name t2 --network none busybox sh -c 'tty; exit 5'); rc=$?
set -e
expect_eq "$rc" 5 "foreground -t exit code"
expect_eq "$(tr -d '\r' <<<"$out")" "/dev/pts/0" "foreground -t output"
expect_eq "$(b logs t2 | tr -d '\r')" "/dev/pts/0" "foreground -t logs"
b rm t2 >/dev/null

# Foreground -it: our stdin goes into the pty (end of input is ^D).
set +e
out=$(printf 'echo hi-$((40+2))\nexit 3\n' | b run --rm -i -t --network none busybox sh); rc=$?
set -e
expect_eq "$rc" 3 "foreground -it exit code"
grep -q 'hi-42' <<<"$out" || fail "foreground -it stdin: $out"
out=$(printf 'line\n' | b run --rm -i -t --network none busybox cat | tr -d '\r')
[[ "$(grep -c '^line$' <<<"$out")" -ge 1 ]] || fail "cat through the pty: $out"

# start -a of a -t container.
b create -t --name t3 --network none busybox sh -c 'tty' >/dev/null
expect_eq "$(b start -a t3 | tr -d '\r')" "/dev/pts/0" "start -a of a -t container"
b rm t3 >/dev/null

expect_eq "$(host_pts)" "$pts_before" "host /dev/pts after rm"
echo "PASS tty"
