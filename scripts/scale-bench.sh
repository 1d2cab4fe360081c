#!/usr/bin/env bash
# Scale-out figures (docs/scaling.md, "Measured: 1, 2 and 3 instances"):
# `loginrisk bench --instances N` for each N of $INSTANCES, serve running as N
# processes of one consumer group against the broker of KAFKA_BROKERS (unset:
# the bench's in-process broker, which the instances reach over loopback) and
# the ClickHouse of CLICKHOUSE_DSN (scripts/services.sh up prints both). Prints
# the end-to-end rows of each run: throughput draining a pre-filled topic,
# latency at a fixed rate, and the CPU time of the serve processes per event
# (from /proc/<pid>/stat), which is what predicts a larger cluster.
#
#   EVENTS=100000 USERS=50000 RATE=2000 LATENCY=10s INSTANCES="1 2 3" scripts/scale-bench.sh
set -euo pipefail
cd "$(dirname "$0")/.."
events=${EVENTS:-100000}
users=${USERS:-50000}
rate=${RATE:-2000}
latency=${LATENCY:-10s}
go build -o bin/loginrisk ./cmd/loginrisk
log=$(mktemp "${TMPDIR:-/tmp}/loginrisk-scale-bench.XXXXXX")
echo "scale-bench: $events events, $users users, latency at $rate events/s for $latency; broker ${KAFKA_BROKERS:-in-process}; history ${CLICKHOUSE_DSN:-off}; log $log"
for n in ${INSTANCES:-1 2 3}; do
  args=(bench --instances "$n" --events "$events" --users "$users" --skip core,ingest --rate "$rate" --latency-duration "$latency")
  if [[ -n ${KAFKA_BROKERS:-} ]]; then args+=(--kafka-brokers "$KAFKA_BROKERS"); fi
  if [[ -n ${CLICKHOUSE_DSN:-} ]]; then args+=(--clickhouse-dsn "$CLICKHOUSE_DSN"); fi
  echo "--- $n instance(s): loginrisk ${args[*]}"
  if ! out=$(bin/loginrisk "${args[@]}" 2>>"$log"); then
    echo "scale-bench: the run with $n instance(s) failed; the end of $log:"; tail -20 "$log"; exit 1
  fi
  grep -E '^(stage|e2e|machine)' <<<"$out"
done
