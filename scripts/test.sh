#!/usr/bin/env bash
# The test command (README, .ci/run): install dependencies, build, make the test images,
# and run every test (unit, integration, e2e) with CTest. Run as root on Debian 12.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
bash scripts/build.sh
if [[ -x tests/fixtures/make-all.sh ]]; then
  bash tests/fixtures/make-all.sh
fi
cd build
ctest --output-on-failure --timeout 600 -j"$(nproc)" "$@"
