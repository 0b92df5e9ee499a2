#!/usr/bin/env bash
# Runs every check and test of leadpulse: formatting, lints, unit and
# property tests, bench smoke runs, and the end-to-end tests against a real
# Apache Kafka broker (pom.xml's release), then the end-to-end tests again
# on the oldest broker leadpulse supports (LEADPULSE_OLDEST_KAFKA, 3.9.1).
#
# With KAFKA_BOOTSTRAP unset it assembles Kafka from Maven Central and starts
# a single-node KRaft broker on 127.0.0.1 for the duration of the run, with a
# SASL_SSL listener whose certificates are made now; with
# KAFKA_BOOTSTRAP=host:port it uses that broker instead, and starts a broker
# for the security tests unless KAFKA_SASL_BOOTSTRAP and KAFKA_TLS_DIR are set
# too. The contract tests' Python packages come from PyPI into a venv
# (scripts/python-venv.sh). The HTML report test needs Debian's chromium
# (or LEADPULSE_CHROMIUM pointing at a Chromium binary); screenshots land in
# target/test-artifacts/. A Confluent-compatible schema registry (Apicurio
# Registry from Maven Central, scripts/schema-registry/) is started for the
# run unless SCHEMA_REGISTRY_URL is set, and stopped at the end. What is missing is installed with apt-get
# --no-install-recommends when run as root on Debian (see README.md).
set -euo pipefail
cd "$(dirname "$0")/.."

log() { printf '\n== %s\n' "$*" >&2; }

# --- What the run needs -------------------------------------------------
need_apt=()
command -v java >/dev/null || need_apt+=(openjdk-17-jre-headless)
command -v mvn >/dev/null || need_apt+=(maven)
command -v python3 >/dev/null || need_apt+=(python3)
python3 -c 'import ensurepip, venv' 2>/dev/null || need_apt+=(python3-venv)
command -v openssl >/dev/null || need_apt+=(openssl)
command -v cc >/dev/null || need_apt+=(build-essential)
command -v pkg-config >/dev/null || need_apt+=(pkg-config)
pkg-config --exists openssl 2>/dev/null || need_apt+=(libssl-dev)
# The HTML report is checked in a real headless browser (tests/it/report.rs):
# chromium and one font. Set LEADPULSE_CHROMIUM to use a Chromium you have.
if [ ! -x "${LEADPULSE_CHROMIUM:-/usr/bin/chromium}" ]; then
  need_apt+=(chromium)
  { command -v fc-list >/dev/null && [ -n "$(fc-list 2>/dev/null)" ]; } || need_apt+=(fonts-dejavu-core)
fi
if [ ${#need_apt[@]} -gt 0 ]; then
  log "installing ${need_apt[*]} (apt-get, without recommended packages)"
  if command -v apt-get >/dev/null && [ "$(id -u)" = 0 ]; then
    # Only what is named and what it depends on: recommended packages
    # (for chromium: udev, upower, avahi, a print dialog, ...) would change
    # the system far beyond what the tests need.
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need_apt[@]}"
  else
    echo "scripts/test.sh: missing ${need_apt[*]}; install them (Debian: apt-get install --no-install-recommends ${need_apt[*]})" >&2
    exit 1
  fi
fi
if ! command -v cargo >/dev/null; then
  echo "scripts/test.sh: cargo not found; install Rust from https://rustup.rs" >&2
  exit 1
fi
if command -v rustup >/dev/null; then
  rustup component list --installed 2>/dev/null | grep -q '^rustfmt' || rustup component add rustfmt
  rustup component list --installed 2>/dev/null | grep -q '^clippy' || rustup component add clippy
fi

# --- Static checks (fail fast, before any broker starts) ----------------
log "cargo fmt --check"
cargo fmt --all -- --check
log "cargo clippy --workspace --all-targets -- -D warnings"
cargo clippy --locked --workspace --all-targets -- -D warnings

# --- Brokers and Python -------------------------------------------------
data_dirs=()
registry_dir=""
cleanup() {
  for d in "${data_dirs[@]}"; do scripts/kafka/stop.sh "$d"; done
  if [ -n "$registry_dir" ]; then scripts/schema-registry/stop.sh "$registry_dir"; fi
}
trap cleanup EXIT
# The registry (Java 21+; the machine's Temurin or any JDK start.sh finds)
# starts in the background while the brokers start: its first start fetches
# it from Maven Central and trains its AOT cache (~5 min), later ones ~20 s.
registry_start=""
registry_out="$(mktemp)"
if [ -z "${SCHEMA_REGISTRY_URL:-}" ]; then
  log "starting a schema registry in the background (scripts/schema-registry/start.sh)"
  registry_dir="$(mktemp -d -t leadpulse-schema-registry.XXXXXX)"
  scripts/schema-registry/start.sh "$registry_dir" > "$registry_out" &
  registry_start=$!
fi
start_broker() {
  local out
  out="$(scripts/kafka/start.sh --sasl)"
  data_dirs+=("$(echo "$out" | sed -n 's/^KAFKA_DATA_DIR=//p')")
  [ -n "${KAFKA_BOOTSTRAP:-}" ] || export KAFKA_BOOTSTRAP="$(echo "$out" | sed -n 's/^KAFKA_BOOTSTRAP=//p')"
  export KAFKA_SASL_BOOTSTRAP="$(echo "$out" | sed -n 's/^KAFKA_SASL_BOOTSTRAP=//p')"
  export KAFKA_TLS_DIR="$(echo "$out" | sed -n 's/^KAFKA_TLS_DIR=//p')"
}
if [ -z "${KAFKA_BOOTSTRAP:-}" ]; then
  log "starting a Kafka broker with a SASL_SSL listener (scripts/kafka/start.sh --sasl)"
  start_broker
elif [ -z "${KAFKA_SASL_BOOTSTRAP:-}" ] || [ -z "${KAFKA_TLS_DIR:-}" ]; then
  log "starting a second broker for the SASL_SSL tests (scripts/kafka/start.sh --sasl)"
  start_broker
fi
log "broker: $KAFKA_BOOTSTRAP; SASL_SSL: $KAFKA_SASL_BOOTSTRAP (certificates in $KAFKA_TLS_DIR)"
log "python venv for the contract tests (scripts/python-venv.sh)"
export LEADPULSE_PYTHON="$(scripts/python-venv.sh)"
if [ -n "$registry_start" ]; then
  wait "$registry_start" || { echo "scripts/test.sh: the schema registry did not start" >&2; exit 1; }
  export SCHEMA_REGISTRY_URL="$(sed -n 's/^SCHEMA_REGISTRY_URL=//p' "$registry_out")"
fi
log "schema registry: $SCHEMA_REGISTRY_URL"
"$LEADPULSE_PYTHON" tests/contract/registry_smoke.py "$SCHEMA_REGISTRY_URL"

# --- Tests ----------------------------------------------------------------
log "cargo test (unit, property, end-to-end; benches as smoke runs)"
cargo test --locked --workspace --all-targets -- --test-threads="${LEADPULSE_TEST_THREADS:-3}"
# Its own broker, which it bounces; see RELIABILITY.md.
log "chaos, short form: 3 instances, kill -9, SIGTERM, a broker bounce (scripts/chaos.sh --short)"
scripts/chaos.sh --short
# The fuzz targets (fuzz/, nightly Rust, cargo-fuzz from crates.io): built
# and run for a few seconds each, with overflow checks, as a smoke test;
# the long runs are scripts/fuzz.sh's (RELIABILITY.md). Without the address
# sanitizer: the fuzzed code has no unsafe of its own, and the build is
# lighter (4 min of CPU on a clean machine; RELIABILITY.md).
log "fuzz targets: build and ${LEADPULSE_FUZZ_SECS:-10} s each (scripts/fuzz.sh)"
scripts/fuzz.sh --sanitizer none --debug-assertions --time "${LEADPULSE_FUZZ_SECS:-10}"

# --- The oldest supported broker (docs/config.md) ------------------------
oldest="${LEADPULSE_OLDEST_KAFKA:-3.9.1}"
log "the end-to-end tests again on Kafka $oldest, the oldest broker leadpulse supports"
out="$(KAFKA_VERSION="$oldest" scripts/kafka/start.sh)"
data_dirs+=("$(echo "$out" | sed -n 's/^KAFKA_DATA_DIR=//p')")
KAFKA_BOOTSTRAP="$(echo "$out" | sed -n 's/^KAFKA_BOOTSTRAP=//p')" \
  cargo test --locked --test it -- --test-threads="${LEADPULSE_TEST_THREADS:-3}" e2e::
log "all tests passed"
