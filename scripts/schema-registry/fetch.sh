#!/usr/bin/env bash
# Assembles Apicurio Registry (a Confluent-compatible schema registry) from
# Maven Central into a cache folder (default
# ~/.cache/leadpulse/apicurio-registry-<version>) and prints that folder.
#
# Maven Central carries the registry's own runnable build, the Quarkus
# fast-jar as io.apicurio:apicurio-registry-app:<version>:tar.gz:all, so
# nothing is compiled: it is downloaded and unpacked. Idempotent: a complete
# cache is reused. APICURIO_VERSION picks another release (3.x).
set -euo pipefail
version="${APICURIO_VERSION:-3.3.3}"
cache="${LEADPULSE_SCHEMA_REGISTRY_CACHE:-$HOME/.cache/leadpulse/apicurio-registry-$version}"
if [ -f "$cache/.complete" ]; then
  echo "$cache"
  exit 0
fi
command -v mvn >/dev/null || { echo "fetch.sh: mvn is required (apt-get install maven)" >&2; exit 1; }
rm -rf "$cache"
mkdir -p "$cache"
# The tarball alone: it needs none of the app's dependencies.
repo="${LEADPULSE_M2_REPO:-$HOME/.m2/repository}"
mvn -q -B -Dmaven.repo.local="$repo" org.apache.maven.plugins:maven-dependency-plugin:3.8.1:get \
  -Dartifact="io.apicurio:apicurio-registry-app:$version:tar.gz:all" -Dtransitive=false >&2
tar -xzf "$repo/io/apicurio/apicurio-registry-app/$version/apicurio-registry-app-$version-all.tar.gz" -C "$cache"
[ -f "$cache/quarkus-run.jar" ] || { echo "fetch.sh: no quarkus-run.jar in the $version distribution" >&2; exit 1; }
touch "$cache/.complete"
echo "$cache"
