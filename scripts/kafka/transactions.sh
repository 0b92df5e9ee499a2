#!/usr/bin/env bash
# Apache Kafka's kafka-transactions tool (org.apache.kafka.tools.TransactionsCommand),
# from Maven Central jars cached beside the broker's (first run: mvn).
#
#   scripts/kafka/transactions.sh --bootstrap-server HOST:PORT find-hanging --broker-id 1
#   scripts/kafka/transactions.sh --bootstrap-server HOST:PORT list
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
version="$(sed -n 's:.*<kafka.version>\(.*\)</kafka.version>.*:\1:p' "$here/tools/pom.xml")"
cache="${LEADPULSE_KAFKA_TOOLS_CACHE:-$HOME/.cache/leadpulse/kafka-tools-$version}"
if [ ! -f "$cache/.complete" ]; then
  command -v mvn >/dev/null || { echo "transactions.sh: mvn is required (apt-get install maven)" >&2; exit 1; }
  mkdir -p "$cache/libs"
  mvn -q -B -f "$here/tools/pom.xml" \
    org.apache.maven.plugins:maven-dependency-plugin:3.8.1:copy-dependencies \
    -DincludeScope=runtime -DoutputDirectory="$cache/libs" >&2
  touch "$cache/.complete"
fi
exec java -Xmx256m -cp "$cache/libs/*" org.apache.kafka.tools.TransactionsCommand "$@"
