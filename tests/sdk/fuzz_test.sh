#!/usr/bin/env bash
# Build the HTTP parser fuzzer with clang + libFuzzer (ASan, UBSan) in a temp dir and run it
# for a bounded time (FUZZ_SECONDS, default 30) on a copy of http/fuzz_corpus.
# Usage: fuzz_test.sh SOURCE_DIR
set -euo pipefail
SRC=${1:?usage: $0 SOURCE_DIR}
SECONDS_TO_RUN=${FUZZ_SECONDS:-30}
CXX=$(command -v clang++-14 || command -v clang++ || true)
if [[ -z "$CXX" ]]; then
  echo "clang++ not installed (scripts/deps/sdk.txt lists clang-14)" >&2
  exit 1
fi
TMP=$(mktemp -d /tmp/berth-fuzz.XXXXXX)
trap 'rm -rf "$TMP"' EXIT
"$CXX" -std=c++20 -O1 -g -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
  -I"$SRC" "$SRC/http/request_parser_fuzz.cc" "$SRC/http/parser.cc" "$SRC/http/message.cc" \
  -o "$TMP/fuzz"
mkdir -p "$TMP/corpus"
cp "$SRC"/http/fuzz_corpus/* "$TMP/corpus/"
"$TMP/fuzz" -max_total_time="$SECONDS_TO_RUN" -max_len=8192 -timeout=5 -rss_limit_mb=1024 \
  -print_final_stats=1 "$TMP/corpus" 2>"$TMP/log" || { tail -40 "$TMP/log"; echo "0 passed, 1 failed"; exit 1; }
grep -E 'stat::number_of_executed_units|Done' "$TMP/log" | tail -2
echo "1 passed, 0 failed"
