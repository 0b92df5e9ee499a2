#!/usr/bin/env bash
# Starts a single-node Apache Kafka 4.x broker+controller (KRaft) on 127.0.0.1
# from Maven Central jars, with no Docker. Prints `KAFKA_BOOTSTRAP=host:port`
# on stdout once the broker answers; the broker keeps running in the background.
#
#   scripts/kafka/start.sh [DATA_DIR]      # default: a fresh temp dir
#   scripts/kafka/stop.sh  [DATA_DIR]
#
# Ports are picked free unless KAFKA_PORT / KAFKA_CONTROLLER_PORT are set.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
cache="$("$here/fetch.sh")"
data="${1:-$(mktemp -d -t leadpulse-kafka.XXXXXX)}"
mkdir -p "$data"

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}
port="${KAFKA_PORT:-$(free_port)}"
cport="${KAFKA_CONTROLLER_PORT:-$(free_port)}"

cat > "$data/server.properties" <<PROPS
process.roles=broker,controller
node.id=1
controller.quorum.bootstrap.servers=127.0.0.1:$cport
listeners=PLAINTEXT://127.0.0.1:$port,CONTROLLER://127.0.0.1:$cport
advertised.listeners=PLAINTEXT://127.0.0.1:$port
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
log.dirs=$data/logs
num.partitions=1
offsets.topic.replication.factor=1
offsets.topic.num.partitions=4
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
transaction.state.log.num.partitions=4
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
group.initial.rebalance.delay.ms=0
group.min.session.timeout.ms=3000
auto.create.topics.enable=false
log.cleaner.backoff.ms=1000
PROPS

cat > "$data/log4j2.properties" <<'L4J'
status = warn
appender.file.type = File
appender.file.name = FILE
appender.file.fileName = ${sys:kafka.logs.dir}/server.log
appender.file.layout.type = PatternLayout
appender.file.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = WARN
rootLogger.appenderRef.file.ref = FILE
logger.raft.name = kafka.server.KafkaRaftServer
logger.raft.level = INFO
L4J

java_opts=(-Xms512m -Xmx1g -XX:+UseG1GC -Dkafka.logs.dir="$data"
  -Dlog4j2.configurationFile="$data/log4j2.properties")
if [ ! -f "$data/logs/meta.properties" ]; then
  java "${java_opts[@]}" -cp "$cache/libs/*" kafka.tools.StorageTool format --standalone \
    -t "LeadpulseTestCluster0" -c "$data/server.properties" > "$data/format.log" 2>&1 \
    || { cat "$data/format.log" >&2; exit 1; }
fi

nohup java "${java_opts[@]}" -cp "$cache/libs/*" kafka.Kafka "$data/server.properties" \
  > "$data/stdout.log" 2>&1 &
echo $! > "$data/broker.pid"
echo "127.0.0.1:$port" > "$data/bootstrap"

for _ in $(seq 1 120); do
  if grep -q "Kafka Server started" "$data/server.log" 2>/dev/null; then
    echo "KAFKA_BOOTSTRAP=127.0.0.1:$port"
    echo "KAFKA_DATA_DIR=$data"
    exit 0
  fi
  if ! kill -0 "$(cat "$data/broker.pid")" 2>/dev/null; then
    echo "start.sh: the broker exited; see $data/stdout.log and $data/server.log" >&2
    tail -n 30 "$data/stdout.log" "$data/server.log" >&2 2>/dev/null || true
    exit 1
  fi
  sleep 0.5
done
echo "start.sh: the broker did not start within 60 s; see $data/server.log" >&2
exit 1
