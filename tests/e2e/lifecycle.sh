#!/usr/bin/env bash
# run/ps/logs/exec/inspect/stop/rm, exit codes, --rm, stop timeout, --init, restart policy.
source "$(dirname "$0")/lib.sh"
import_busybox

# Foreground run: output and exit code come back.
out=$(b run --rm --network none busybox echo hello)
expect_eq "$out" "hello" "foreground output"
set +e; b run --rm --network none busybox sh -c 'exit 7'; rc=$?; set -e
expect_eq "$rc" 7 "container exit code"
set +e; b run --rm --network none busybox /nonexistent 2>/dev/null; rc=$?; set -e
expect_eq "$rc" 127 "command not found"
expect_eq "$(b ps -aq | wc -l)" 0 "--rm left nothing"

# Detached, logs, exec, inspect, ps.
id=$(b run -d --name web --network none busybox sh -c 'echo started; echo oops >&2; sleep 600')
wait_for sh -c "\"$BIN\" --root $ROOT --runroot $RUN logs web | grep -q started" || fail "logs"
b logs web 2>&1 | has oops || fail "stderr in logs"
expect_eq "$(b exec web echo inside)" "inside" "exec"
set +e; b exec web sh -c 'exit 3'; rc=$?; set -e
expect_eq "$rc" 3 "exec exit code"
b ps | has web || fail "ps shows running container"
b inspect web | has '"Status": "running"' || fail "inspect state"
b top web | has "sleep 600" || fail "top"

# A container that ignores SIGTERM is killed after the stop timeout.
b run -d --name stubborn --network none busybox sh -c 'trap "" TERM; while true; do sleep 1; done' >/dev/null
start=$(date +%s)
b stop -t 1 stubborn >/dev/null
took=$(( $(date +%s) - start ))
(( took < 10 )) || fail "stop took ${took}s"
b inspect stubborn | has '"Status": "exited"' || fail "stubborn not exited"
b inspect stubborn | has '"ExitCode": 137' || fail "stubborn exit code"

b stop web >/dev/null
b rm web stubborn >/dev/null
expect_eq "$(b ps -aq | wc -l)" 0 "rm"

# --init reaps zombies: an orphan that exits must not stay a zombie.
b run -d --init --name reaper --network none busybox sh -c '(sleep 0.2 &) ; sleep 600' >/dev/null
sleep 1
zombies=$(b exec reaper ps -o stat | grep -c '^Z' || true)
expect_eq "$zombies" 0 "zombies with --init"
b rm -f reaper >/dev/null

# Restart policy: on-failure:2 restarts twice, then stays exited.
b run -d --name flaky --restart on-failure:2 --network none busybox sh -c 'exit 3' >/dev/null
wait_for sh -c "\"$BIN\" --root $ROOT --runroot $RUN inspect flaky | grep -q '\"RestartCount\": 2'" || fail "restart count"
wait_for sh -c "\"$BIN\" --root $ROOT --runroot $RUN inspect flaky | grep -q '\"Status\": \"exited\"'" || fail "flaky exited"
b rm flaky >/dev/null

# Health: a failing check turns unhealthy.
b run -d --name sick --network none --health-cmd 'exit 1' --health-interval 200ms --health-retries 2 busybox sleep 600 >/dev/null
wait_for sh -c "\"$BIN\" --root $ROOT --runroot $RUN ps | grep -q unhealthy" || fail "unhealthy"
b rm -f sick >/dev/null

# Volumes and cp.
b volume create data >/dev/null
b run --rm --network none -v data:/data busybox sh -c 'echo persisted > /data/f'
expect_eq "$(b run --rm --network none -v data:/data busybox cat /data/f)" "persisted" "named volume"
b create --name files --network none busybox true >/dev/null
echo payload > "$T/in.txt"
b cp "$T/in.txt" files:/in.txt
b cp files:/in.txt "$T/out.txt"
expect_eq "$(cat "$T/out.txt")" "payload" "cp both ways"
b rm files >/dev/null
b volume rm data >/dev/null
echo "lifecycle: ok"
