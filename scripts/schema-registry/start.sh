#!/usr/bin/env bash
# Starts a real Confluent-compatible schema registry on 127.0.0.1: Apicurio
# Registry 3.x from Maven Central (see fetch.sh), no Docker. Once its
# Confluent API answers, prints on stdout
#   SCHEMA_REGISTRY_URL=http://127.0.0.1:PORT/apis/ccompat/v7
#   SCHEMA_REGISTRY_DATA_DIR=DIR
# and leaves the registry running in the background. The URL is the base of
# the Confluent Schema Registry REST API, so Confluent clients (the Python
# confluent-kafka SchemaRegistryClient, the Java serdes, ...) use it as-is.
#
#   eval "$(scripts/schema-registry/start.sh)"        # a fresh temp dir
#   scripts/schema-registry/start.sh DATA_DIR         # or a chosen one
#   scripts/schema-registry/stop.sh "$SCHEMA_REGISTRY_DATA_DIR"
#   scripts/schema-registry/stop.sh --keep DATA_DIR   # stop, keep the data
#
# Storage: an H2 database file in DATA_DIR/h2 (Apicurio's SQL storage), so
# subjects, versions and schema ids survive a restart. Started again on the
# same DATA_DIR, the registry comes back on the same port with its schemas:
# a registry outage, as the outage tests need. Started on a DATA_DIR whose
# registry still runs, it only prints the two lines again.
#
# Like Confluent's, the default compatibility is BACKWARD (Apicurio's own
# default is none): an incompatible new version of a subject is refused
# with 409. SCHEMA_REGISTRY_COMPATIBILITY sets another level (e.g. NONE).
#
# Protobuf with Apicurio 3.3: schemas the Confluent clients register (a
# base64 FileDescriptorProto) are stored and returned as sent, compatibility
# rules apply to them, but `GET /schemas/ids/{id}?format=serialized` answers
# 500 for them (and raw bytes, not base64, for .proto text). Python's
# ProtobufDeserializer asks exactly that when given a registry client, so
# give it none (it then reads the framing and message indexes alone);
# JSONDeserializer with a client works. tests/contract/registry_smoke.py
# checks all of this with the stock confluent-kafka client:
#   PY="$(scripts/python-venv.sh)"
#   "$PY" tests/contract/registry_smoke.py "$SCHEMA_REGISTRY_URL"
#
# Needs Java 21 or newer (the registry is built for 21): SCHEMA_REGISTRY_JAVA,
# else $JAVA_HOME, `java` or the newest JDK under /usr/lib/jvm that is 21+.
# With Java 25 the first start also makes an AOT cache (see below). The port
# is picked free unless SCHEMA_REGISTRY_PORT is set (the management
# interface, health and metrics, gets a free one too). Log:
# DATA_DIR/registry.log.
#
# Figures on a 2-core machine at load ~30: the first start ~5 min (download
# 158 MB, unpack, AOT training, start); then a start or restart ~20-25 s
# (~40 s without the AOT cache); RSS ~200 MB; cache ~265 MB (+158 MB in
# ~/.m2).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
cache="$("$here/fetch.sh")"
data="${1:-$(mktemp -d -t leadpulse-schema-registry.XXXXXX)}"
mkdir -p "$data"
data="$(cd "$data" && pwd)"

answers() { # the Confluent API of 127.0.0.1:$1 answers 200
  python3 - "$1" <<'PY'
import sys, urllib.request
try:
    with urllib.request.urlopen(f"http://127.0.0.1:{sys.argv[1]}/apis/ccompat/v7/subjects", timeout=2) as r:
        sys.exit(0 if r.status == 200 else 1)
except Exception:
    sys.exit(1)
PY
}
report() {
  echo "SCHEMA_REGISTRY_URL=http://127.0.0.1:$1/apis/ccompat/v7"
  echo "SCHEMA_REGISTRY_DATA_DIR=$data"
}

# Already running on this data dir: nothing to start.
if [ -f "$data/registry.pid" ] && [ -f "$data/ports" ] && kill -0 "$(cat "$data/registry.pid")" 2>/dev/null; then
  . "$data/ports"
  if answers "$SCHEMA_REGISTRY_PORT"; then report "$SCHEMA_REGISTRY_PORT"; exit 0; fi
fi

java_major() { # prints the major version of the java binary $1, or nothing
  "$1" -XshowSettings:properties -version 2>&1 | sed -n 's/^ *java\.specification\.version = \([0-9]*\).*/\1/p'
}
java_bin=""
for candidate in "${SCHEMA_REGISTRY_JAVA:-}" "${JAVA_HOME:+$JAVA_HOME/bin/java}" "$(command -v java || true)" \
    $(ls -d /usr/lib/jvm/*/bin/java 2>/dev/null | sort -rV); do
  [ -n "$candidate" ] && [ -x "$candidate" ] || continue
  major="$(java_major "$candidate")"
  if [ -n "$major" ] && [ "$major" -ge 21 ]; then java_bin="$candidate"; break; fi
done
[ -n "$java_bin" ] || { echo "start.sh: Apicurio Registry needs Java 21+; none found (set SCHEMA_REGISTRY_JAVA)" >&2; exit 1; }

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}
# A restart on the same data keeps the ports it was first given.
if [ -f "$data/ports" ]; then . "$data/ports"; fi
port="${SCHEMA_REGISTRY_PORT:-$(free_port)}"
mport="${SCHEMA_REGISTRY_MANAGEMENT_PORT:-$(free_port)}"
printf 'SCHEMA_REGISTRY_PORT=%s\nSCHEMA_REGISTRY_MANAGEMENT_PORT=%s\n' "$port" "$mport" > "$data/ports"
if answers "$port"; then
  echo "start.sh: port $port already serves a registry that is not this data dir's" >&2
  exit 1
fi

# Startup: C1 only and the serial collector start fastest on a small, busy
# machine; a test registry serves few requests. A small pool: one client.
jvm=(-Xms64m -Xmx512m -XX:+UseSerialGC -XX:TieredStopAtLevel=1)
props() { # PORT MANAGEMENT_PORT DIR: sets P, the registry's settings, its files in DIR
  P=(-Djava.io.tmpdir="$3/tmp"
    -Dquarkus.http.host=127.0.0.1 -Dquarkus.http.port="$1"
    -Dquarkus.management.host=127.0.0.1 -Dquarkus.management.port="$2"
    -Dapicurio.storage.kind=sql -Dapicurio.storage.sql.kind=h2
    -Dapicurio.datasource.url="jdbc:h2:file:$3/h2/registry"
    -Dapicurio.datasource.jdbc.initial-size=2 -Dapicurio.datasource.jdbc.min-size=2
    -Dapicurio.datasource.jdbc.max-size=20
    -Dapicurio.rules.global.compatibility="${SCHEMA_REGISTRY_COMPATIBILITY:-BACKWARD}"
    -Dapicurio.storage.snapshot.location="$3/tmp" -Dapicurio.import.work-dir="$3/tmp")
}

# Java 25's AOT cache (JEP 483/514) of the registry's loaded and linked
# classes halves its startup here. It is made once per JVM build, by a
# training run on a scratch dir (about 1-2 min, once), and kept in the cache
# folder; without it (Java 21-24, SCHEMA_REGISTRY_AOT=0, a failed training)
# the registry starts all the same, only slower.
aot=()
if [ "$major" -ge 25 ] && [ "${SCHEMA_REGISTRY_AOT:-1}" != 0 ]; then
  jvm_id="$( { readlink -f "$java_bin"; "$java_bin" -version 2>&1; printf '%s\n' "${jvm[@]}"; } | md5sum | cut -c1-12)"
  aot_file="$cache/aot/$jvm_id.aot"
  if [ ! -f "$aot_file" ]; then
    echo "start.sh: making the JVM's AOT cache for faster starts (once per JVM)" >&2
    t="$(mktemp -d -t leadpulse-schema-registry-aot.XXXXXX)"
    mkdir -p "$t/h2" "$t/tmp"
    tport="$(free_port)"
    props "$tport" "$(free_port)" "$t"
    "$java_bin" "${jvm[@]}" -XX:AOTCacheOutput="$t/app.aot" "${P[@]}" -jar "$cache/quarkus-run.jar" > "$t/train.log" 2>&1 &
    tpid=$!
    for _ in $(seq 1 480); do answers "$tport" && break; kill -0 "$tpid" 2>/dev/null || break; sleep 0.5; done
    kill "$tpid" 2>/dev/null || true
    wait "$tpid" || true
    # The JVM hands the cache to a child process that writes it after the exit.
    for _ in $(seq 1 480); do grep -q "AOTCache creation is complete" "$t/train.log" && break; sleep 0.5; done
    if grep -q "AOTCache creation is complete" "$t/train.log"; then
      mkdir -p "$cache/aot"
      mv "$t/app.aot" "$aot_file.$$" && mv -f "$aot_file.$$" "$aot_file"
    else
      echo "start.sh: no AOT cache was made (see the tail below); starting without" >&2
      tail -n 5 "$t/train.log" >&2 || true
    fi
    rm -rf "$t"
  fi
  if [ -f "$aot_file" ]; then aot=(-XX:AOTCache="$aot_file"); fi
fi

mkdir -p "$data/h2" "$data/tmp"
[ -f "$data/registry.log" ] && mv "$data/registry.log" "$data/registry.log.previous"
props "$port" "$mport" "$data"
nohup "$java_bin" "${jvm[@]}" "${aot[@]}" "${P[@]}" -jar "$cache/quarkus-run.jar" > "$data/registry.log" 2>&1 &
echo $! > "$data/registry.pid"

for _ in $(seq 1 240); do
  if answers "$port"; then report "$port"; exit 0; fi
  if ! kill -0 "$(cat "$data/registry.pid")" 2>/dev/null; then
    echo "start.sh: the registry exited; see $data/registry.log" >&2
    tail -n 30 "$data/registry.log" >&2 || true
    exit 1
  fi
  sleep 0.5
done
echo "start.sh: the registry did not answer within 120 s; see $data/registry.log" >&2
exit 1
