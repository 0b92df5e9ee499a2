#!/usr/bin/env bash
# Starts a single-node Apache Kafka broker+controller (KRaft) on 127.0.0.1
# from Maven Central jars, with no Docker: pom.xml's release, or
# KAFKA_VERSION's (3.9 or 4.x). Prints `KAFKA_BOOTSTRAP=host:port`
# on stdout once the broker answers; the broker keeps running in the background.
#
#   scripts/kafka/start.sh [--sasl] [DATA_DIR]   # default: a fresh temp dir
#   scripts/kafka/stop.sh  [DATA_DIR]
#   scripts/kafka/stop.sh  --keep DATA_DIR       # stop, keep the data
#
# Started again on the same DATA_DIR, the broker comes back on the same
# ports with its data: a broker outage, as the outage tests need.
#
# --sasl adds a SASL_SSL listener (PLAIN, SCRAM-SHA-256, SCRAM-SHA-512; TLS
# with a required client certificate). Its CA, client certificate and key,
# the user and its password are made now with openssl and keytool, in
# DATA_DIR/tls; the script then also prints KAFKA_SASL_BOOTSTRAP and
# KAFKA_TLS_DIR.
#
# Ports are picked free unless KAFKA_PORT / KAFKA_CONTROLLER_PORT /
# KAFKA_SASL_PORT are set.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
sasl=false
if [ "${1:-}" = "--sasl" ]; then sasl=true; shift; fi
cache="$("$here/fetch.sh")"
data="${1:-$(mktemp -d -t leadpulse-kafka.XXXXXX)}"
mkdir -p "$data"

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}
# A restart on the same data keeps the ports it was first given.
if [ -f "$data/ports" ]; then . "$data/ports"; fi
port="${KAFKA_PORT:-$(free_port)}"
cport="${KAFKA_CONTROLLER_PORT:-$(free_port)}"
printf 'KAFKA_PORT=%s\nKAFKA_CONTROLLER_PORT=%s\n' "$port" "$cport" > "$data/ports"
listeners="PLAINTEXT://127.0.0.1:$port,CONTROLLER://127.0.0.1:$cport"
advertised="PLAINTEXT://127.0.0.1:$port"
protocols="PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT"
scram_args=()
if $sasl; then
  sport="${KAFKA_SASL_PORT:-$(free_port)}"
  echo "KAFKA_SASL_PORT=$sport" >> "$data/ports"
  listeners="$listeners,SASL_SSL://127.0.0.1:$sport"
  advertised="$advertised,SASL_SSL://127.0.0.1:$sport"
  protocols="$protocols,SASL_SSL:SASL_SSL"
  tls="$data/tls"
  if [ ! -f "$tls/password" ]; then
    command -v openssl >/dev/null || { echo "start.sh: --sasl needs openssl (apt-get install openssl)" >&2; exit 1; }
    command -v keytool >/dev/null || { echo "start.sh: --sasl needs keytool, part of the JDK" >&2; exit 1; }
    mkdir -p "$tls"
    rand() { python3 -c 'import secrets; print(secrets.token_hex(12))'; }
    rand > "$tls/password"        # the SASL user's password
    rand > "$tls/store-password"  # the broker's keystore and truststore
    (
      cd "$tls"
      sp="$(cat store-password)"
      openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=leadpulse test CA" \
        -keyout ca.key -out ca.pem 2>/dev/null
      printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\n' > san.ext
      openssl req -newkey rsa:2048 -nodes -subj "/CN=127.0.0.1" -keyout broker.key -out broker.csr 2>/dev/null
      openssl x509 -req -in broker.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 \
        -extfile san.ext -out broker.pem 2>/dev/null
      openssl req -newkey rsa:2048 -nodes -subj "/CN=leadpulse" -keyout client.key -out client.csr 2>/dev/null
      openssl x509 -req -in client.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 \
        -out client.pem 2>/dev/null
      openssl pkcs12 -export -in broker.pem -inkey broker.key -certfile ca.pem -name broker \
        -passout "pass:$sp" -out broker.p12
      keytool -importcert -noprompt -alias ca -file ca.pem -keystore truststore.p12 \
        -storetype PKCS12 -storepass "$sp" >/dev/null 2>&1
      echo leadpulse > user
    )
  fi
  pw="$(cat "$tls/password")"
  sp="$(cat "$tls/store-password")"
  scram_args=(--add-scram "SCRAM-SHA-256=[name=leadpulse,password=$pw]"
              --add-scram "SCRAM-SHA-512=[name=leadpulse,password=$pw]")
fi

cat > "$data/server.properties" <<PROPS
process.roles=broker,controller
node.id=1
controller.quorum.bootstrap.servers=127.0.0.1:$cport
listeners=$listeners
advertised.listeners=$advertised
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=$protocols
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
if $sasl; then
  cat >> "$data/server.properties" <<PROPS
listener.name.sasl_ssl.sasl.enabled.mechanisms=PLAIN,SCRAM-SHA-256,SCRAM-SHA-512
listener.name.sasl_ssl.plain.sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required user_leadpulse="$pw";
listener.name.sasl_ssl.scram-sha-256.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;
listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;
listener.name.sasl_ssl.ssl.keystore.type=PKCS12
listener.name.sasl_ssl.ssl.keystore.location=$tls/broker.p12
listener.name.sasl_ssl.ssl.keystore.password=$sp
listener.name.sasl_ssl.ssl.key.password=$sp
listener.name.sasl_ssl.ssl.truststore.type=PKCS12
listener.name.sasl_ssl.ssl.truststore.location=$tls/truststore.p12
listener.name.sasl_ssl.ssl.truststore.password=$sp
listener.name.sasl_ssl.ssl.client.auth=required
PROPS
fi

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
# The same for Kafka 3.x, which logs through reload4j.
cat > "$data/log4j.properties" <<'L4J'
log4j.rootLogger=WARN, file
log4j.appender.file=org.apache.log4j.FileAppender
log4j.appender.file.File=${kafka.logs.dir}/server.log
log4j.appender.file.layout=org.apache.log4j.PatternLayout
log4j.appender.file.layout.ConversionPattern=[%d] %p %m (%c)%n
log4j.logger.kafka.server.KafkaRaftServer=INFO
L4J

java_opts=(-Xms512m -Xmx1g -XX:+UseG1GC -Dkafka.logs.dir="$data"
  -Dlog4j2.configurationFile="$data/log4j2.properties"
  -Dlog4j.configuration="file:$data/log4j.properties")
if [ ! -f "$data/logs/meta.properties" ]; then
  java "${java_opts[@]}" -cp "$cache/libs/*" kafka.tools.StorageTool format --standalone \
    -t "LeadpulseTestCluster0" -c "$data/server.properties" "${scram_args[@]}" > "$data/format.log" 2>&1 \
    || { cat "$data/format.log" >&2; exit 1; }
fi

# Readiness is read from the log: a restart must not see the last run's.
[ -f "$data/server.log" ] && mv "$data/server.log" "$data/server.log.previous"
nohup java "${java_opts[@]}" -cp "$cache/libs/*" kafka.Kafka "$data/server.properties" \
  > "$data/stdout.log" 2>&1 &
echo $! > "$data/broker.pid"
echo "127.0.0.1:$port" > "$data/bootstrap"

for _ in $(seq 1 360); do
  if grep -q "Kafka Server started" "$data/server.log" 2>/dev/null; then
    echo "KAFKA_BOOTSTRAP=127.0.0.1:$port"
    echo "KAFKA_DATA_DIR=$data"
    if $sasl; then
      echo "KAFKA_SASL_BOOTSTRAP=127.0.0.1:$sport"
      echo "KAFKA_TLS_DIR=$tls"
    fi
    exit 0
  fi
  if ! kill -0 "$(cat "$data/broker.pid")" 2>/dev/null; then
    echo "start.sh: the broker exited; see $data/stdout.log and $data/server.log" >&2
    tail -n 30 "$data/stdout.log" "$data/server.log" >&2 2>/dev/null || true
    exit 1
  fi
  sleep 0.5
done
echo "start.sh: the broker did not start within 180 s; see $data/server.log" >&2
exit 1
