#!/usr/bin/env bash
# Single-node Apache Kafka broker (KRaft, broker+controller) on loopback, for tests and CI.
#
#   scripts/kafka.sh start|stop|status
#
# Jars come from Maven Central via mvn and are cached; data survives stop/start
# (fault tests restart the broker), so storage is only formatted once.
# Exit codes of start: 0 ready, 3 Maven Central unreachable (caller falls back to
# the in-process broker), anything else is a real failure.
set -euo pipefail

VERSION=${KAFKA_VERSION:-4.1.1}  # 4.1+ needed: 4.0 dropped JoinGroup v0/v1 used by kafka-go
PORT=${KAFKA_PORT:-9092}
CTL_PORT=${KAFKA_CONTROLLER_PORT:-$((PORT + 1))}
DATA=${KAFKA_DATA:-/tmp/loginrisk-kafka}
LIBS=${LOGINRISK_CACHE:-${HOME:-/root}/.cache/loginrisk}/kafka-$VERSION/libs
PIDFILE=$DATA/kafka.pid
MAIN=kafka.Kafka  # kafka-server-start.sh's main class; kafka-storage.sh uses kafka.tools.StorageTool

NAME=kafka
KIND=broker
CMDLINE="$MAIN $DATA/"
STOP_TIMEOUT=${KAFKA_STOP_TIMEOUT:-30}
# shellcheck source=scripts/daemon.sh
. "$(dirname "${BASH_SOURCE[0]}")/daemon.sh"

# Prints the ready line once the port accepts connections and the broker
# logged that start-up finished (which in KRaft happens only after it is
# registered and unfenced).
ready() {
  port_open "$PORT" && grep -q 'Kafka Server started' "$DATA/server.log" 2>/dev/null || return 1
  echo "kafka: Apache Kafka $VERSION ready on 127.0.0.1:$PORT"
}

# Downloads kafka_2.13 and its runtime dependencies (plus the log4j2 slf4j binding) once.
fetch_jars() {
  [[ -f $LIBS/.complete ]] && return 0
  command -v mvn >/dev/null || { say "mvn not installed; tests will use the in-process broker"; exit 3; }
  local tmp out
  tmp=$(mktemp -d)
  cat >"$tmp/pom.xml" <<EOF
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>loginrisk</groupId><artifactId>kafka-libs</artifactId><version>1</version>
  <dependencies>
    <dependency><groupId>org.apache.kafka</groupId><artifactId>kafka_2.13</artifactId><version>$VERSION</version></dependency>
    <dependency><groupId>org.apache.logging.log4j</groupId><artifactId>log4j-slf4j-impl</artifactId><version>2.24.3</version></dependency>
  </dependencies>
</project>
EOF
  say "downloading Kafka $VERSION jars with mvn (first run only)"
  rm -rf "$LIBS.part"
  if ! out=$(cd "$tmp" && timeout "${KAFKA_FETCH_TIMEOUT:-600}" mvn -B -q -ntp -Dmaven.wagon.http.retryHandler.count=1 \
      org.apache.maven.plugins:maven-dependency-plugin:3.6.1:copy-dependencies \
      -DincludeScope=runtime -DoutputDirectory="$LIBS.part" 2>&1); then
    rm -rf "$tmp" "$LIBS.part"
    if grep -q 'Could not find artifact' <<<"$out"; then
      say "org.apache.kafka:kafka_2.13:$VERSION not found in Maven Central"
      exit 1
    fi
    echo "kafka: Maven Central unreachable; tests will use the in-process broker" >&2
    exit 3
  fi
  rm -rf "$tmp" "$LIBS"
  mv "$LIBS.part" "$LIBS"
  touch "$LIBS/.complete"
}

write_config() {
  mkdir -p "$DATA"
  cat >"$DATA/server.properties" <<EOF
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$CTL_PORT
listeners=PLAINTEXT://127.0.0.1:$PORT,CONTROLLER://127.0.0.1:$CTL_PORT
advertised.listeners=PLAINTEXT://127.0.0.1:$PORT
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
log.dirs=$DATA/logs
num.partitions=4
auto.create.topics.enable=true
offsets.topic.replication.factor=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
group.initial.rebalance.delay.ms=0
EOF
  # WARN and above to a file; KafkaRaftServer at INFO so we can see "Kafka Server started".
  cat >"$DATA/log4j2.properties" <<EOF
appender.file.type = File
appender.file.name = FILE
appender.file.fileName = $DATA/server.log
appender.file.layout.type = PatternLayout
appender.file.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = WARN
rootLogger.appenderRef.file.ref = FILE
logger.ready.name = kafka.server.KafkaRaftServer
logger.ready.level = INFO
EOF
}

# Formats KRaft storage once; later starts reuse the same cluster id and data.
format_storage() {
  [[ -f $DATA/logs/meta.properties ]] && return 0
  local id
  # A Kafka Uuid is 16 random bytes in unpadded base64url that must not start with '-'.
  id=-; while [[ $id == -* ]]; do id=$(head -c16 /dev/urandom | base64 | tr '+/' '-_' | tr -d '='); done
  java -XX:+UseSerialGC -XX:TieredStopAtLevel=1 -cp "$LIBS/*" -Dlog4j2.configurationFile="$DATA/log4j2.properties" \
    kafka.tools.StorageTool format -t "$id" -c "$DATA/server.properties" >"$DATA/format.log" 2>&1 ||
    { say "storage format failed:"; cat "$DATA/format.log" >&2; exit 1; }
}

start() {
  local pid
  if ! pid=$(running_pid); then
    if port_open "$PORT"; then say "port $PORT is already taken by another process"; exit 1; fi
    command -v java >/dev/null || { say "java not found"; exit 1; }
    fetch_jars
    write_config
    format_storage
    rm -f "$DATA/server.log"
    # C1-only JIT + serial GC roughly halve start-up CPU on a busy 2-core machine.
    setsid java -Xms256m -Xmx512m -XX:+UseSerialGC -XX:TieredStopAtLevel=1 -Djava.awt.headless=true \
      -Dlog4j2.configurationFile="$DATA/log4j2.properties" \
      -cp "$LIBS/*" "$MAIN" "$DATA/server.properties" >"$DATA/stdout.log" 2>&1 </dev/null &
    pid=$!
    echo "$pid" >"$PIDFILE"
  fi
  wait_ready "$pid" "${KAFKA_START_TIMEOUT:-120}" "$DATA/server.log" "$DATA/stdout.log" "$DATA/server.log"
}

daemon_main "$@"
