#!/usr/bin/env bash
# The image config berth build writes is the one podman sees: build a Dockerfile that sets
# every config field, `berth save` it (docker-archive and oci-archive), `podman load` it and
# compare `berth image inspect` with `podman image inspect` field by field, plus the history.
source "$(dirname "$0")/../image/lib.sh"
need podman; need runc; need jq
[[ -s "$FIX/busybox.tar" ]] || skip "fixture busybox.tar missing"
use_podman

b import "$FIX/busybox.tar" busybox:latest >/dev/null
mkdir -p "$T/ctx"
echo hello >"$T/ctx/file.txt"
cat >"$T/ctx/Dockerfile" <<'DF'
FROM busybox
ENV APP_HOME=/app PATH=/app/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
WORKDIR $APP_HOME
COPY file.txt .
RUN mkdir -p /data && echo 'svc:x:1234:1234::/app:/bin/sh' >>/etc/passwd
LABEL org.example.team="core" version="1.2"
EXPOSE 80 53/udp
VOLUME ["/data"]
USER svc
STOPSIGNAL SIGINT
HEALTHCHECK --interval=5s --timeout=2s --retries=4 CMD wget -q -O- http://localhost/ || exit 1
ENTRYPOINT ["/bin/sh", "-c"]
CMD ["echo hi"]
DF
b build -q -t insp:1 "$T/ctx" >/dev/null
b save --format docker-archive -o "$T/d.tar" insp:1
b save --format oci-archive -o "$T/o.tar" insp:1
bi=$(b image inspect insp:1)
bid=$(jq -r '.[0].Id' <<<"$bi")

compare() {  # compare FORMAT: podman's view of the image loaded from FORMAT equals berth's
  local fmt=$1 pi f want got
  pi=$(p image inspect "$bid")
  for f in Env Cmd Entrypoint WorkingDir User ExposedPorts Volumes Labels StopSignal; do
    want=$(jq -cS ".[0].Config.$f" <<<"$bi")
    got=$(jq -cS ".[0].Config.$f" <<<"$pi")
    [[ "$want" != null ]] || die "berth inspect has no Config.$f"
    [[ "$want" == "$got" ]] || die "$fmt: Config.$f: berth $want, podman $got"
  done
  # Healthcheck: Docker's field, kept in the docker-archive config
  if [[ $fmt == docker-archive ]]; then
    want=$(jq -cS '.[0].Config.Healthcheck' <<<"$bi")
    got=$(jq -cS '.[0].Healthcheck // .[0].Config.Healthcheck' <<<"$pi")
    [[ "$want" == "$got" ]] || die "$fmt: Healthcheck: berth $want, podman $got"
  fi
  local bh ph
  bh=$(b history insp:1 | tail -n +2 | wc -l)
  ph=$(p history --format '{{.CreatedBy}}' "$bid" | wc -l)
  [[ "$bh" == "$ph" ]] || die "$fmt: history has $bh entries in berth, $ph in podman"
  [[ "sha256:$(p image inspect --format '{{.Id}}' "$bid")" == "$bid" ]] || die "$fmt: id differs"
}
p load -q -i "$T/d.tar" >/dev/null
compare docker-archive
p rmi -f "$bid" >/dev/null
p load -q -i "$T/o.tar" >/dev/null
compare oci-archive
# and podman runs it with that config: entrypoint + cmd, user, workdir, env
out=$(p run --rm "$bid" 'id -u; pwd; echo $APP_HOME; cat file.txt')
[[ "$out" == $'1234\n/app\n/app\nhello' ]] || die "podman run printed: $out"
echo PASS
