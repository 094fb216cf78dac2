#!/usr/bin/env bash
# Volumes pre-filled from the image (Docker's rule): an empty named or anonymous volume gets
# what the image has at its mount point, with owners, modes and symlinks as symlinks; a volume
# with content is left alone; :nocopy and bind mounts are never filled; an image symlink at
# the mount point resolves inside the rootfs, never on the host.
source "$(dirname "$0")/lib.sh"
import_busybox
b build --help >/dev/null 2>&1 || { echo "SKIP: berth build not available"; exit 77; }
mkdir -p "$T/ctx"
cat >"$T/ctx/Dockerfile" <<'DF'
FROM busybox:latest
RUN mkdir -p /data/sub && echo hello > /data/f && echo deep > /data/sub/g && \
    chown 1234:5678 /data/f && chmod 640 /data/f && chmod 2750 /data/sub && \
    ln -s /etc/passwd /data/abs && ln -s ../../../../../etc/shadow /data/up && \
    ln -s /etc /etclink
DF
b build -t volimg "$T/ctx" >/dev/null
r() { b run --rm --network none "$@"; }
vol() { echo "$ROOT/volumes/$1/_data"; }

# Named volume, first use: filled.
expect_eq "$(r -v v1:/data volimg cat /data/f /data/sub/g | tr '\n' ' ')" "hello deep " "filled named volume"
d=$(vol v1)
expect_eq "$(stat -c '%u:%g %a' "$d/f")" "1234:5678 640" "owner and mode of a file"
expect_eq "$(stat -c '%a' "$d/sub")" "2750" "mode of a directory"
[[ -L "$d/abs" && "$(readlink "$d/abs")" == /etc/passwd ]] || fail "absolute symlink copied as a symlink"
[[ -L "$d/up" && "$(readlink "$d/up")" == ../../../../../etc/shadow ]] || fail "relative symlink kept"

# A volume with content is left alone: a change survives the next run.
r -v v1:/data volimg sh -c 'echo changed > /data/f; rm -r /data/sub'
expect_eq "$(r -v v1:/data volimg sh -c 'cat /data/f; ls /data/sub 2>/dev/null | wc -l')" \
  "$(printf 'changed\n0')" "volume with content left alone"

# :nocopy and bind mounts stay empty.
expect_eq "$(r -v v2:/data:nocopy volimg ls -A /data | wc -l)" 0 ":nocopy"
mkdir -p "$T/bind"
expect_eq "$(r -v "$T/bind:/data" volimg ls -A /data | wc -l)" 0 "bind mount over /data"
expect_eq "$(ls -A "$T/bind" | wc -l)" 0 "bind source untouched"

# Anonymous volume: filled too.
expect_eq "$(r -v /data volimg cat /data/f)" "hello" "anonymous volume"

# The image's /etclink -> /etc resolves inside the rootfs: the container's /etc is copied,
# not the host's.
r -v v3:/etclink volimg true
[[ -f "$(vol v3)/passwd" ]] || fail "container /etc copied through the image symlink"
[[ -e /etc/debian_version && ! -e "$(vol v3)/debian_version" ]] || [[ ! -e /etc/debian_version ]] ||
  fail "host /etc leaked into the volume"
echo "PASS volume_fill"
