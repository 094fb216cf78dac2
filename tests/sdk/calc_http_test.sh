#!/usr/bin/env bash
# Integration test: start calc on a loopback port and check every endpoint and error with curl
# and raw TCP (keep-alive, pipelining, chunked, 100-continue, smuggling), access logs,
# traceparent propagation, OTLP export, and the SIGTERM drain.  Usage: calc_http_test.sh CALC
source "$(dirname "$0")/lib.sh"
CALC=${1:?usage: $0 path/to/calc}

# OTLP collector stand-in: busybox nc answers 200 and records the first export.
OTLP_PORT=$(free_port)
printf 'HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n' |
  timeout 20 busybox nc -l -p "$OTLP_PORT" >"$TMP/otlp.txt" 2>/dev/null &
EXTRA_PIDS=$!
for _ in $(seq 1 100); do  # calc exports once: the stand-in must listen before it starts
  ss -ltnH "sport = :$OTLP_PORT" | has . && break
  sleep 0.05
done
start_calc "$CALC" MAX_BODY_BYTES=4k HEADER_TIMEOUT_MS=1000 OTEL_EXPORTER_OTLP_ENDPOINT="http://127.0.0.1:$OTLP_PORT"

post() {  # post PATH BODY [extra curl args] -> "STATUS BODY"
  local path=$1 body=$2
  shift 2
  curl -s -o "$TMP/body" -w '%{http_code}' -X POST -H 'Content-Type: application/json' \
    --data-binary "$body" "$@" "$CALC_URL$path" >"$TMP/code"
  echo "$(cat "$TMP/code") $(cat "$TMP/body")"
}

# The four operations, exact integers, floats.
check "add" '200 {"result":3}' "$(post /add '{"a": 1, "b": 2}')"
check "sub" '200 {"result":-1}' "$(post /sub '{"a": 1, "b": 2}')"
check "mul" '200 {"result":6}' "$(post /mul '{"a": 2, "b": 3}')"
check "div exact" '200 {"result":4}' "$(post /div '{"a": 8, "b": 2}')"
check "div inexact" '200 {"result":0.5}' "$(post /div '{"a": 1, "b": 2}')"
check "add floats" '200 {"result":0.75}' "$(post /add '{"a": 0.5, "b": 0.25}')"
check "big exact" '200 {"result":9007199254740993}' "$(post /add '{"a": 9007199254740992, "b": 1}')"
check "curl -d default content type" '{"result":3}' \
  "$(curl -s -X POST -d '{"a": 1, "b": 2}' "$CALC_URL/add")"

# 422s with clear messages.
check "div by zero" '422 {"error":"invalid input","detail":"division by zero"}' "$(post /div '{"a": 1, "b": 0}')"
check_contains "int overflow" '422 {"error":"invalid input","detail":"integer overflow' \
  "$(post /add '{"a": 9223372036854775807, "b": 1}')"
check_contains "float overflow" '422 {"error":"invalid input","detail":"overflow' \
  "$(post /mul '{"a": 1e308, "b": 10}')"
check "string" "422 {\"error\":\"invalid input\",\"detail\":\"field 'a' must be a number, got string\"}" \
  "$(post /add '{"a": "1", "b": 2}')"
check "null" "422 {\"error\":\"invalid input\",\"detail\":\"field 'b' must be a number, got null\"}" \
  "$(post /add '{"a": 1, "b": null}')"
check "missing" "422 {\"error\":\"invalid input\",\"detail\":\"missing field 'b'\"}" "$(post /add '{"a": 1}')"
check_contains "huge integer" '422 {"error":"invalid input","detail":"number 123456789012345678901234567890 is out of range' \
  "$(post /add '{"a": 123456789012345678901234567890, "b": 1}')"
check_contains "huge float" '422 {"error":"invalid input"' "$(post /add '{"a": 1e999, "b": 1}')"
check_contains "not an object" '422 ' "$(post /add '[1, 2]')"

# 400, 404, 405, 413, 415.
check_contains "malformed" '400 {"error":"malformed JSON"' "$(post /add '{"a": 1,')"
check_contains "empty body" '400 {"error":"malformed JSON"' "$(post /add '')"
check_contains "404" '404 {"error":"not found"' "$(post /pow '{"a": 1, "b": 2}')"
check_contains "415" '415 {"error":"unsupported media type"' \
  "$(curl -s -w '%{http_code} ' -o "$TMP/b" -X POST -H 'Content-Type: text/plain' -d '{"a":1,"b":2}' "$CALC_URL/add"; cat "$TMP/b")"
headers=$(curl -s -D - -o "$TMP/b" "$CALC_URL/add")
check_contains "405 status" "HTTP/1.1 405" "$headers"
check_contains "405 allow" "Allow: POST" "$headers"
big=$(head -c 5000 /dev/zero | tr '\0' '1')
check_contains "413" '413 {"error":"payload too large"' "$(post /add "{\"a\": $big, \"b\": 1}")"

# Chunked request body and Expect: 100-continue (curl sends it for the chunked upload).
check "chunked body" '200 {"result":5}' "$(post /add '{"a": 2, "b": 3}' -H 'Transfer-Encoding: chunked' -H 'Expect: 100-continue')"

# Built-ins.
check "healthz" '{"status":"ok"}' "$(curl -s "$CALC_URL/healthz")"
check "readyz" '{"status":"ready"}' "$(curl -s "$CALC_URL/readyz")"
metrics=$(curl -s "$CALC_URL/metrics")
check_contains "metrics requests" 'http_requests_total{method="POST",route="/add",status="200"}' "$metrics"
check_contains "metrics 422" 'http_requests_total{method="POST",route="/div",status="422"} 1' "$metrics"
check_contains "metrics histogram" 'http_request_duration_seconds_bucket{route="/add",le="+Inf"}' "$metrics"
check_contains "metrics in flight" 'http_requests_in_flight 1' "$metrics"
check_contains "metrics rss" 'process_resident_memory_bytes ' "$metrics"
check_contains "metrics cpu" 'process_cpu_seconds_total ' "$metrics"

# Raw TCP: keep-alive + pipelining, then request smuggling attempts.
raw() {  # raw PAYLOAD -> everything the server sent until it closed or went quiet (2 s)
  local port=${CALC_URL##*:}
  exec 3<>"/dev/tcp/127.0.0.1/$port"
  printf '%b' "$1" >&3
  timeout 2 cat <&3 || true
  exec 3<&- 3>&-
}
out=$(raw 'POST /add HTTP/1.1\r\nHost: x\r\nContent-Length: 16\r\n\r\n{"a": 1, "b": 2}POST /mul HTTP/1.1\r\nHost: x\r\nContent-Length: 16\r\nConnection: close\r\n\r\n{"a": 3, "b": 4}')
check "pipelined responses" "2" "$(grep -o 'HTTP/1.1 200' <<<"$out" | wc -l)"
check_contains "pipelined order" '{"result":3}HTTP/1.1 200 OK' "$out"
check_contains "pipelined second" '{"result":12}' "$out"
for payload in \
  'POST /add HTTP/1.1\r\nHost: x\r\nContent-Length: 16\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /healthz HTTP/1.1\r\nHost: x\r\n\r\n' \
  'POST /add HTTP/1.1\r\nHost: x\r\nContent-Length: 16\r\nContent-Length: 16\r\n\r\n{"a": 1, "b": 2}GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n' \
  'POST /add HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n-1\r\n\r\nGET /healthz HTTP/1.1\r\nHost: x\r\n\r\n' \
  'GET /healthz HTTP/1.1\r\nHost: x\r\nX-A: a\r\n folded\r\n\r\nGET /healthz HTTP/1.1\r\nHost: x\r\n\r\n' \
  'GET /healthz HTTP/1.1\r\nHost: x\nX-B: b\r\n\r\nGET /healthz HTTP/1.1\r\nHost: x\r\n\r\n' \
  'GET /healthz HTTP/1.1\r\nHost: x\rX-C: c\r\n\r\nGET /healthz HTTP/1.1\r\nHost: x\r\n\r\n' \
  'G@T /healthz HTTP/1.1\r\nHost: x\r\n\r\nGET /healthz HTTP/1.1\r\nHost: x\r\n\r\n' \
  'GET healthz HTTP/1.1\r\nHost: x\r\n\r\nGET /healthz HTTP/1.1\r\nHost: x\r\n\r\n'; do
  out=$(raw "$payload")
  check "smuggling rejected: ${payload:0:60}" "HTTP/1.1 400 Bad Request|1" \
    "$(head -1 <<<"$out" | tr -d '\r')|$(grep -c '^HTTP/1.1' <<<"$out")"
done

# HEAD is served by the GET route with the GET's Content-Length and no body.
out=$(raw 'HEAD /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n')
check_contains "HEAD content-length" "Content-Length: 15" "$out"
check "HEAD no body" "" "$(sed -n '/^\r$/,$p' <<<"$out" | tail -n +2)"

# A request that does not arrive in time gets 408 before the close (HEADER_TIMEOUT is 1 s).
out=$(raw 'POST /add HTTP/1.1\r\nHost: x\r\nContent-Len')
check_contains "408 on a stalled head" "HTTP/1.1 408 Request Timeout" "$out"

# traceparent: the access log carries the caller's trace id; the span reaches the collector.
curl -s -o /dev/null -X POST -d '{"a":1,"b":1}' \
  -H 'traceparent: 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01' "$CALC_URL/add"
sleep 1.5  # the access log and the span exporter flush in the background

# SIGTERM drains and exits 0.
kill -TERM "$CALC_PID"
rc=0
timeout 10 tail --pid="$CALC_PID" -f /dev/null || rc=$?
wait "$CALC_PID" || rc=$?
check "SIGTERM exit code" "0" "$rc"
CALC_PID=
log=$(cat "$TMP/calc.out")
check_contains "access log json" '"msg":"request","method":"POST","path":"/add","route":"/add","status":200' "$log"
check_contains "access log trace id" '"trace_id":"4bf92f3577b34da6a3ce929d0e0e4736"' "$log"
check_contains "access log: parser rejects" '"method":"","path":"","route":"rejected","status":400' "$log"
check_contains "access log: 413" '"method":"POST","path":"/add","route":"rejected","status":413' "$log"
check_contains "access log: 408" '"route":"rejected","status":408' "$log"
check_contains "drain log" '"msg":"draining","signal":"SIGTERM"' "$log"
check_contains "stopped log" '"msg":"stopped"' "$log"
otlp=$(cat "$TMP/otlp.txt" 2>/dev/null || true)
check_contains "otlp path" "POST /v1/traces HTTP/1.1" "$otlp"
check_contains "otlp service" '"stringValue":"calc"' "$otlp"

finish
