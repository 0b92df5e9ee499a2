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
# Needs Java 21 or newer (the registry is built for 21): SCHEMA_REGISTRY_JAVA,
# else $JAVA_HOME, `java` or any JDK under /usr/lib/jvm that is 21+.
# The port is picked free unless SCHEMA_REGISTRY_PORT is set (the management
# interface, health and metrics, gets a free one too). Log:
# DATA_DIR/registry.log.
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

mkdir -p "$data/h2" "$data/tmp"
# Startup: C1 only and the serial collector start fastest on a small, busy
# machine; a test registry serves few requests. A small pool: one client.
jvm=(-Xms64m -Xmx512m -XX:+UseSerialGC -XX:TieredStopAtLevel=1 -Djava.io.tmpdir="$data/tmp")
props=(
  -Dquarkus.http.host=127.0.0.1 -Dquarkus.http.port="$port"
  -Dquarkus.management.host=127.0.0.1 -Dquarkus.management.port="$mport"
  -Dapicurio.storage.kind=sql -Dapicurio.storage.sql.kind=h2
  -Dapicurio.datasource.url="jdbc:h2:file:$data/h2/registry"
  -Dapicurio.datasource.jdbc.initial-size=2 -Dapicurio.datasource.jdbc.min-size=2
  -Dapicurio.datasource.jdbc.max-size=20
  -Dapicurio.rules.global.compatibility="${SCHEMA_REGISTRY_COMPATIBILITY:-BACKWARD}"
  -Dapicurio.storage.snapshot.location="$data/tmp" -Dapicurio.import.work-dir="$data/tmp"
)

[ -f "$data/registry.log" ] && mv "$data/registry.log" "$data/registry.log.previous"
nohup "$java_bin" "${jvm[@]}" "${props[@]}" -jar "$cache/quarkus-run.jar" > "$data/registry.log" 2>&1 &
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
