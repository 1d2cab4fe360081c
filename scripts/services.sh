#!/usr/bin/env bash
# Starts/stops the test services (Kafka + ClickHouse) and prints their addresses.
#
#   eval "$(scripts/services.sh up)"   # start both; stdout is only `export ...` lines
#   scripts/services.sh env            # print the export lines for what is running
#   scripts/services.sh down           # stop both
#   . scripts/services.sh up           # same as the eval form, from a bash shell
#
# Progress goes to stderr. If Kafka cannot be fetched (kafka.sh exit 3),
# KAFKA_BROKERS is left out so tests fall back to the in-process broker.

# When sourced, run as a child and export into the caller's shell (no set -e leak).
if [[ ${BASH_SOURCE[0]} != "$0" ]]; then
  eval "$(bash "${BASH_SOURCE[0]}" "${1:-up}")"
  return
fi
set -euo pipefail

dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
KAFKA_BROKERS=127.0.0.1:${KAFKA_PORT:-9092}
CLICKHOUSE_DSN=clickhouse://127.0.0.1:${CLICKHOUSE_PORT:-9000}/default

up() {
  local rc=0
  "$dir/kafka.sh" start >&2 || rc=$?
  case $rc in
    0) echo "export KAFKA_BROKERS=$KAFKA_BROKERS" ;;
    3) echo "services: Kafka unavailable (Maven Central unreachable); KAFKA_BROKERS not set" >&2 ;;
    *) return "$rc" ;;
  esac
  "$dir/clickhouse.sh" start >&2
  echo "export CLICKHOUSE_DSN=$CLICKHOUSE_DSN"
}

env_lines() {
  if "$dir/kafka.sh" status >/dev/null; then echo "export KAFKA_BROKERS=$KAFKA_BROKERS"; fi
  if "$dir/clickhouse.sh" status >/dev/null; then echo "export CLICKHOUSE_DSN=$CLICKHOUSE_DSN"; fi
}

down() {
  local rc=0
  "$dir/kafka.sh" stop || rc=$?
  "$dir/clickhouse.sh" stop || rc=$?
  return "$rc"
}

case ${1:-} in
  up) up ;;
  env) env_lines ;;
  down) down ;;
  status) "$dir/kafka.sh" status || true; "$dir/clickhouse.sh" status || true ;;
  *) echo "usage: $0 up|env|down|status" >&2; exit 2 ;;
esac
