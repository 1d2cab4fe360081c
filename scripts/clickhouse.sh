#!/usr/bin/env bash
# ClickHouse server on loopback for tests and CI, run as a plain background
# process (not a system service) with its own config in a data folder.
#
#   scripts/clickhouse.sh start|stop|status
#
# With CLICKHOUSE_CLUSTER=NAME the server's remote_servers also define a
# one-shard cluster NAME of itself, with the macros {shard}=01 and
# {replica}=r1, for clickhouse.cluster (docs/scaling.md); ZooKeeper is not
# configured, so ON CLUSTER and Replicated tables cannot run there.
#
# Installs Debian's clickhouse-server/clickhouse-client (18.16 on Debian 12) if
# missing. Data survives stop/start (fault tests restart the server).
set -euo pipefail

PORT=${CLICKHOUSE_PORT:-9000}
HTTP_PORT=${CLICKHOUSE_HTTP_PORT:-8123}
DATA=${CLICKHOUSE_DATA:-/tmp/loginrisk-clickhouse}
PIDFILE=$DATA/clickhouse.pid

NAME=clickhouse
KIND=server
CMDLINE=$DATA/config.xml
STOP_TIMEOUT=${CLICKHOUSE_STOP_TIMEOUT:-30}
# shellcheck source=scripts/daemon.sh
. "$(dirname "${BASH_SOURCE[0]}")/daemon.sh"

client() { "${CLIENT[@]}" --host 127.0.0.1 --port "$PORT" "$@"; }

# Installs the Debian packages if needed and sets SERVER/CLIENT (older packages
# ship clickhouse-server/clickhouse-client, newer ones a single `clickhouse`).
install() {
  export PATH=$PATH:/usr/sbin
  if ! { command -v clickhouse-server || command -v clickhouse; } >/dev/null; then
    [[ $(id -u) == 0 ]] || { say "clickhouse-server missing; install it (needs root)"; exit 1; }
    say "installing clickhouse-server and clickhouse-client with apt"
    apt-get update -q >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q clickhouse-server clickhouse-client >/dev/null
    # With an init system the package may start its own service on port 9000.
    if command -v systemctl >/dev/null && systemctl is-active --quiet clickhouse-server 2>/dev/null; then
      systemctl stop clickhouse-server
    fi
  fi
  if command -v clickhouse-server >/dev/null; then SERVER=(clickhouse-server); else SERVER=(clickhouse server); fi
  if command -v clickhouse-client >/dev/null; then CLIENT=(clickhouse-client); else CLIENT=(clickhouse client); fi
}

# Prints the ready line once the server answers a query.
ready() {
  local version
  version=$(client -q 'SELECT version()' 2>/dev/null) || return 1
  echo "clickhouse: ClickHouse $version ready on 127.0.0.1:$PORT"
}

write_config() {
  mkdir -p "$DATA/data" "$DATA/tmp" "$DATA/user_files" "$DATA/format_schemas" "$DATA/log"
  # Minimal server config (18.16 needs users_config, default_profile,
  # default_database and the cache sizes); no interserver port, no query_log.
  cat >"$DATA/config.xml" <<EOF
<?xml version="1.0"?>
<yandex>
    <logger>
        <level>warning</level>
        <log>$DATA/log/clickhouse-server.log</log>
        <errorlog>$DATA/log/clickhouse-server.err.log</errorlog>
        <size>100M</size>
        <count>2</count>
    </logger>
    <listen_host>127.0.0.1</listen_host>
    <tcp_port>$PORT</tcp_port>
    <http_port>$HTTP_PORT</http_port>
    <path>$DATA/data/</path>
    <tmp_path>$DATA/tmp/</tmp_path>
    <user_files_path>$DATA/user_files/</user_files_path>
    <format_schema_path>$DATA/format_schemas/</format_schema_path>
    <users_config>$DATA/users.xml</users_config>
    <default_profile>default</default_profile>
    <default_database>default</default_database>
    <timezone>UTC</timezone>
    <umask>022</umask>
    <max_connections>1024</max_connections>
    <max_concurrent_queries>100</max_concurrent_queries>
    <mark_cache_size>268435456</mark_cache_size>
    <uncompressed_cache_size>268435456</uncompressed_cache_size>
    <mlock_executable>false</mlock_executable>
</yandex>
EOF
  if [[ -n ${CLICKHOUSE_CLUSTER:-} ]]; then
    mkdir -p "$DATA/config.d"
    cat >"$DATA/config.d/cluster.xml" <<EOF
<?xml version="1.0"?>
<yandex>
    <remote_servers>
        <$CLICKHOUSE_CLUSTER>
            <shard>
                <internal_replication>true</internal_replication>
                <replica><host>127.0.0.1</host><port>$PORT</port></replica>
            </shard>
        </$CLICKHOUSE_CLUSTER>
    </remote_servers>
    <macros><shard>01</shard><replica>r1</replica></macros>
</yandex>
EOF
  fi
  # User `default` without password, loopback only.
  cat >"$DATA/users.xml" <<EOF
<?xml version="1.0"?>
<yandex>
    <profiles><default><max_memory_usage>4000000000</max_memory_usage></default></profiles>
    <users>
        <default>
            <password></password>
            <networks><ip>127.0.0.1</ip><ip>::1</ip></networks>
            <profile>default</profile>
            <quota>default</quota>
        </default>
    </users>
    <quotas>
        <default><interval><duration>3600</duration><queries>0</queries><errors>0</errors>
            <result_rows>0</result_rows><read_rows>0</read_rows><execution_time>0</execution_time></interval></default>
    </quotas>
</yandex>
EOF
}

start() {
  install
  if running_pid >/dev/null && ready; then return 0; fi
  if ! running_pid >/dev/null && port_open "$PORT"; then say "port $PORT is already taken by another process"; exit 1; fi
  write_config
  if ! running_pid >/dev/null; then
    (cd "$DATA" && exec setsid "${SERVER[@]}" --config-file="$DATA/config.xml" \
      >"$DATA/log/stdout.log" 2>&1 </dev/null) &
    echo $! >"$PIDFILE"
  fi
  wait_ready "$(<"$PIDFILE")" "${CLICKHOUSE_START_TIMEOUT:-60}" "$DATA/log/" \
    "$DATA/log/stdout.log" "$DATA/log/clickhouse-server.err.log"
}

daemon_main "$@"
