#!/usr/bin/env bash
# Install every Debian package berth needs to build, test and benchmark. Idempotent: runs
# `apt-get update` and `apt-get install` only when something is missing.
set -euo pipefail

BUILD_PKGS=(
  build-essential cmake pkg-config git
  libboost1.81-dev libboost-url1.81-dev libboost-context1.81-dev
  libnghttp2-dev nlohmann-json3-dev libyaml-cpp-dev libcli11-dev libspdlog-dev libfmt-dev
  libexpected-dev libarchive-dev libssl-dev libcurl4-openssl-dev libseccomp-dev libcap-dev
  libsqlite3-dev libgtest-dev libgmock-dev
)
# Tools the tests drive: busybox for the base image, CNI plugins and iptables for networks,
# curl/jq for end-to-end checks, runc as a reference peer.
TEST_PKGS=(
  busybox-static containernetworking-plugins iptables iproute2 curl jq runc
)
EXTRA_PKGS=()
if [[ "${BERTH_TEST_PEERS:-0}" == 1 ]]; then
  # Real clients the integration tests drive when asked (slower to install).
  EXTRA_PKGS+=(podman containerd skopeo docker-registry prometheus)
fi

missing=()
for p in "${BUILD_PKGS[@]}" "${TEST_PKGS[@]}" "${EXTRA_PKGS[@]}"; do
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
