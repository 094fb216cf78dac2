#!/usr/bin/env bash
# The default seccomp profile: on for every container, off with --privileged or
# --security-opt seccomp=unconfined; what it refuses is refused by seccomp, not by missing
# capabilities (the probes run with --cap-add SYS_ADMIN), and through every x86 ABI.
source "$(dirname "$0")/lib.sh"
import_busybox
r() { b run --rm --network none "$@"; }
mode() { r "$@" busybox grep '^Seccomp:' /proc/self/status | awk '{print $2}'; }

expect_eq "$(mode)" 2 "default: filtered"
expect_eq "$(mode --security-opt seccomp=unconfined)" 0 "seccomp=unconfined"
expect_eq "$(mode --privileged)" 0 "--privileged"

# Namespaces: unshare -U needs no capability, so only the filter stops it.
out=$(r busybox sh -c 'unshare -U true 2>&1; echo rc=$?')
grep -q 'rc=[1-9]' <<<"$out" && grep -q 'not permitted' <<<"$out" || fail "unshare -U: $out"
grep -q 'rc=0' <<<"$(r --security-opt seccomp=unconfined busybox sh -c 'unshare -U true; echo rc=$?')" ||
  fail "unshare -U unconfined"
# Plain fork/clone still works under the filter.
expect_eq "$(r busybox sh -c '(echo child) | cat')" "child" "fork under the default profile"

# mount with CAP_SYS_ADMIN: refused by the profile, allowed without it.
probe='mkdir -p /tmp/m && mount -t tmpfs none /tmp/m 2>&1; echo rc=$?'
out=$(r --cap-add SYS_ADMIN busybox sh -c "$probe")
grep -q 'rc=[1-9]' <<<"$out" || fail "mount with SYS_ADMIN under the default profile: $out"
out=$(r --cap-add SYS_ADMIN --security-opt seccomp=unconfined busybox sh -c "$probe")
grep -q 'rc=0' <<<"$out" || fail "mount with SYS_ADMIN, unconfined: $out"

# inspect shows the profile in effect.
b create --name c1 --network none busybox true >/dev/null
b create --name c2 --network none --security-opt seccomp=unconfined busybox true >/dev/null
b inspect c1 | has '"seccomp=builtin"' || fail "inspect: builtin profile"
b inspect c2 | has '"seccomp=unconfined"' || fail "inspect: unconfined"
b rm c1 c2 >/dev/null

# Other ABIs: the same syscalls through int 0x80 (i386, where the kernel has it) and x32.
if command -v cc >/dev/null; then
  cc -static -O1 -o "$T/probe" "$SRC/tests/e2e/seccomp_probe.c"
  filtered=$(r --cap-add SYS_ADMIN -v "$T/probe:/probe:ro" busybox /probe)
  open=$(r --cap-add SYS_ADMIN --security-opt seccomp=unconfined -v "$T/probe:/probe:ro" busybox /probe)
  get() { sed -n "s/^$1=//p" <<<"$2"; }
  expect_eq "$(get x86_64_mount "$filtered")" -1 "x86_64 mount: EPERM"
  expect_eq "$(get x32_mount "$filtered")" -1 "x32 mount: EPERM"
  [[ "$(get x32_mount "$open")" != -1 ]] || fail "x32 mount unconfined is not EPERM: $open"
  expect_eq "$(get x86_64_clone3 "$filtered")" -38 "clone3: ENOSYS"
  if [[ "$(get i386_getpid "$filtered")" == ok ]]; then
    expect_eq "$(get i386_mount "$filtered")" -1 "i386 mount: EPERM"
    expect_eq "$(get i386_unshare "$filtered")" -1 "i386 unshare: EPERM"
    [[ "$(get i386_mount "$open")" != -1 ]] || fail "i386 mount unconfined is not EPERM"
  else
    echo "note: no IA32 emulation in this kernel, i386 ABI not probed"
  fi
else
  echo "note: no C compiler, ABI probe skipped"
fi
echo "PASS seccomp"
