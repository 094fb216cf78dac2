#!/usr/bin/env bash
# Install every Debian package berth needs to build, test and benchmark. The lists live in
# scripts/deps/*.txt (one package per line, '#' comments), one file per area. Idempotent:
# runs `apt-get update` and `apt-get install` only when something is missing.
# Files named *.bench.txt are installed only with BERTH_BENCH=1 (peers for bench/).
set -euo pipefail
cd "$(dirname "$0")"
lists=()
for f in deps/*.txt; do
  [[ "$f" == *.bench.txt && "${BERTH_BENCH:-0}" != 1 ]] && continue
  lists+=("$f")
done
mapfile -t pkgs < <(sed -e 's/#.*//' -e 's/[[:space:]]//g' "${lists[@]}" | grep -v '^$' | sort -u)
missing=()
for p in "${pkgs[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done
if ((${#missing[@]})); then
  echo "install-deps: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
