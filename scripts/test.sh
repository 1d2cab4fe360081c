#!/usr/bin/env bash
# `make test`: start a real Apache Kafka broker and a real ClickHouse (installing
# them when missing), then run every test against them with REQUIRE_SERVICES=1,
# so a test that cannot reach a service fails instead of skipping.
set -euo pipefail
cd "$(dirname "$0")/.."

env_lines=$(scripts/services.sh up)
eval "$env_lines"
export REQUIRE_SERVICES=1
trap 'scripts/services.sh down >/dev/null 2>&1 || true' EXIT

# The console's browser test drives Debian's chromium (installed when missing).
LOGINRISK_CHROMIUM=$(scripts/chromium.sh) || echo "test: chromium is missing and could not be installed; the console's browser test will fail"
export LOGINRISK_CHROMIUM

echo "test: KAFKA_BROKERS=${KAFKA_BROKERS:-<in-process broker>} CLICKHOUSE_DSN=${CLICKHOUSE_DSN:-<none>}"
if [[ -z ${KAFKA_BROKERS:-} ]]; then
  # services.sh said why in one line; the Kafka tests use the in-process broker.
  export LOGINRISK_KAFKA_FALLBACK=inprocess
fi

go vet ./...
unformatted=$(gofmt -l .)
if [[ -n $unformatted ]]; then
  echo "gofmt needed:"; echo "$unformatted"; exit 1
fi
go build -o bin/loginrisk ./cmd/loginrisk
bin/loginrisk rules check rules/default
bin/loginrisk rules test rules/default
# The fault tests run verbosely beside the rest, so their counts (events,
# kills, rows, duplicates) are in the log; the rest prints one line per
# package unless something fails.
log=${TMPDIR:-/tmp}/loginrisk-test.log
faultlog=${TMPDIR:-/tmp}/loginrisk-faulttest.log
mapfile -t pkgs < <(go list ./... | grep -v '/engine/faulttest$')
go test -race -count=1 -timeout 25m -v ./engine/faulttest >"$faultlog" 2>&1 &
fault=$!
status=0
go test -race -count=1 -timeout 25m "${pkgs[@]}" 2>&1 | tee "$log" || status=$?
fault_status=0
wait "$fault" || fault_status=$?
echo "--- fault tests (full output: $faultlog)"
grep -E '^(=== RUN|--- |ok|FAIL|panic)|_test\.go:[0-9]+:' "$faultlog" | grep -v '^=== RUN' || true
if [[ $status -ne 0 ]]; then exit "$status"; fi
if [[ $fault_status -ne 0 ]]; then tail -50 "$faultlog"; exit "$fault_status"; fi
if [[ -x scripts/fuzz.sh ]]; then scripts/fuzz.sh "${FUZZTIME:-20s}"; fi
