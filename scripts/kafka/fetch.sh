#!/usr/bin/env bash
# Assembles Apache Kafka's broker jars from Maven Central into a cache folder
# (default ~/.cache/leadpulse/kafka-<version>) and prints that folder.
# Idempotent: a complete cache is reused. KAFKA_VERSION picks another
# release than pom.xml's (3.9 and 4.x are known to work).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
version="${KAFKA_VERSION:-$(sed -n 's:.*<kafka.version>\(.*\)</kafka.version>.*:\1:p' "$here/pom.xml")}"
# The log4j release each broker line was built with (Kafka's own choice).
case "$version" in
  3.*) logging=(-Dkafka3) ;;
  4.0.*|4.1.*) logging=(-Dlog4j.version=2.24.3) ;;
  *) logging=() ;;
esac
cache="${LEADPULSE_KAFKA_CACHE:-$HOME/.cache/leadpulse/kafka-$version}"
if [ -f "$cache/.complete" ]; then
  echo "$cache"
  exit 0
fi
command -v mvn >/dev/null || { echo "fetch.sh: mvn is required (apt-get install maven)" >&2; exit 1; }
command -v java >/dev/null || { echo "fetch.sh: java 17+ is required (apt-get install openjdk-17-jre-headless)" >&2; exit 1; }
mkdir -p "$cache/libs"
mvn -q -B -f "$here/pom.xml" -Dkafka.version="$version" "${logging[@]}" \
  org.apache.maven.plugins:maven-dependency-plugin:3.8.1:copy-dependencies \
  -DincludeScope=runtime -DoutputDirectory="$cache/libs" >&2
touch "$cache/.complete"
echo "$cache"
