#!/usr/bin/env bash
# HTTP API load benchmark (docs/performance.md, "HTTP API"): starts
# `loginrisk serve` on loopback against the real Kafka broker of
# scripts/services.sh, with the generated test GeoIP databases, and runs
# `loginrisk load` against it for each request kind at RATE requests/s
# for DURATION, printing requests/s and p50 / p99 / p99.9 latency.
#
#   scripts/httpbench.sh [RATE] [DURATION] [KINDS]
#     defaults: 10000 10s "user-status ip-status score"
#   HISTORY=1 scripts/httpbench.sh   # serve also writes history to ClickHouse
#   SERVE_GOGC=100 scripts/httpbench.sh  # serve's GOGC (default 400: fewer
#                                        # collections, see docs/performance.md)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
rate=${1:-10000}
duration=${2:-10s}
kinds=${3:-user-status ip-status score}
port=${HTTP_PORT:-18080}

go build -o bin/loginrisk ./cmd/loginrisk
eval "$(scripts/services.sh up)"
if [[ -z ${KAFKA_BROKERS:-} ]]; then
  echo "httpbench: no Kafka broker (scripts/services.sh could not start one)" >&2
  exit 1
fi

run=httpbench-$(date +%s)
token=$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')
log=$(mktemp -t loginrisk-httpbench.XXXXXX)
history=()
if [[ ${HISTORY:-0} == 1 ]]; then
  history=(--clickhouse-dsn "${CLICKHOUSE_DSN%/*}/loginrisk_${run//-/_}")
fi

# Fresh topics and group per run; serve's token from the environment.
GOGC=${SERVE_GOGC:-400} LOGINRISK_HTTP_TOKEN=$token \
LOGINRISK_KAFKA_GROUP_ID=$run LOGINRISK_KAFKA_EVENTS_TOPIC=$run-events \
LOGINRISK_KAFKA_DECISIONS_TOPIC=$run-decisions LOGINRISK_KAFKA_DLQ_TOPIC=$run-dlq \
  ./bin/loginrisk serve --kafka-brokers "$KAFKA_BROKERS" --http "127.0.0.1:$port" \
    --geoip-city testdata/geoip/City-Test.mmdb --geoip-asn testdata/geoip/ASN-Test.mmdb \
    --geoip-anonymous testdata/geoip/Anonymous-IP-Test.mmdb --log-level warn "${history[@]}" >"$log" 2>&1 &
serve=$!
trap 'kill -TERM $serve 2>/dev/null; wait $serve 2>/dev/null; rm -f "$log"' EXIT

for _ in $(seq 1 300); do
  if curl -fsS "http://127.0.0.1:$port/readyz" >/dev/null 2>&1; then break; fi
  if ! kill -0 $serve 2>/dev/null; then cat "$log" >&2; echo "httpbench: serve exited" >&2; exit 1; fi
  sleep 0.2
done
curl -fsS "http://127.0.0.1:$port/readyz" >/dev/null || { cat "$log" >&2; echo "httpbench: serve not ready" >&2; exit 1; }

echo "machine: $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo "command: scripts/httpbench.sh $rate $duration \"$kinds\"${HISTORY:+ (HISTORY=$HISTORY)} (serve GOGC=${SERVE_GOGC:-400})"
for kind in $kinds; do
  # A short warm-up (connections, caches, the first requests' state),
  # then the measured run.
  LOGINRISK_LOAD_TOKEN=$token ./bin/loginrisk load --url "http://127.0.0.1:$port" --what "$kind" \
    --rate $((rate / 5 > 0 ? rate / 5 : 1)) --duration 2s --seed 7 >/dev/null
  LOGINRISK_LOAD_TOKEN=$token ./bin/loginrisk load --url "http://127.0.0.1:$port" --what "$kind" \
    --rate "$rate" --duration "$duration"
done
