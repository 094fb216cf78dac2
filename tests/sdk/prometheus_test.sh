#!/usr/bin/env bash
# calc's /metrics passes `promtool check metrics`, and a real Prometheus server started here
# (loopback, temp storage) scrapes it: up == 1 and http_requests_total is queryable.
# Usage: prometheus_test.sh CALC
source "$(dirname "$0")/lib.sh"
CALC=${1:?usage: $0 path/to/calc}
for tool in promtool prometheus; do
  command -v "$tool" >/dev/null || { echo "$tool not installed (scripts/deps/sdk.txt: prometheus)" >&2; exit 1; }
done
start_calc "$CALC" ACCESS_LOG=0
curl -s -o /dev/null -X POST -d '{"a": 1, "b": 2}' "$CALC_URL/add"
curl -s -o /dev/null -X POST -d '{"a": 1, "b": 0}' "$CALC_URL/div"
curl -s -o "$TMP/metrics.txt" "$CALC_URL/metrics"
rc=0
promtool check metrics <"$TMP/metrics.txt" >"$TMP/promtool.out" 2>&1 || rc=$?
cat "$TMP/promtool.out"
check "promtool check metrics exit code" "0" "$rc"

PROM_PORT=$(free_port)
cat >"$TMP/prometheus.yml" <<YML
global:
  scrape_interval: 1s
  scrape_timeout: 1s
scrape_configs:
  - job_name: calc
    static_configs:
      - targets: ['${CALC_URL#http://}']
YML
prometheus --config.file="$TMP/prometheus.yml" --storage.tsdb.path="$TMP/data" \
  --web.listen-address="127.0.0.1:$PROM_PORT" --log.level=warn >"$TMP/prom.log" 2>&1 &
EXTRA_PIDS=$!
query() {
  curl -s --get --data-urlencode "query=$1" "http://127.0.0.1:$PROM_PORT/api/v1/query" || true
}
up=
for _ in $(seq 1 60); do  # at most ~30 s
  up=$(query 'up{job="calc"}')
  [[ "$up" == *'"value":['*',"1"]'* ]] && break
  sleep 0.5
done
check_contains "prometheus scraped calc (up == 1)" '"value":[' "$up"
check_contains "prometheus up value" ',"1"]' "$up"
reqs=$(query 'http_requests_total{job="calc",route="/add",status="200"}')
check_contains "prometheus has http_requests_total" '"route":"/add"' "$reqs"
health=$(curl -s "http://127.0.0.1:$PROM_PORT/api/v1/targets")
check_contains "target health" '"health":"up"' "$health"
[[ $fails -eq 0 ]] || tail -20 "$TMP/prom.log" >&2
finish
