#!/usr/bin/env bash
# Runs every check and test of leadpulse: formatting, lints, unit and
# property tests, bench smoke runs, and the end-to-end tests against a real
# Apache Kafka broker.
#
# With KAFKA_BOOTSTRAP unset it assembles Kafka from Maven Central and starts
# a single-node KRaft broker on 127.0.0.1 for the duration of the run; with
# KAFKA_BOOTSTRAP=host:port it uses that broker instead.
set -euo pipefail
cd "$(dirname "$0")/.."

log() { printf '\n== %s\n' "$*" >&2; }

# --- What the run needs -------------------------------------------------
need_apt=()
command -v java >/dev/null || need_apt+=(openjdk-17-jre-headless)
command -v mvn >/dev/null || need_apt+=(maven)
command -v python3 >/dev/null || need_apt+=(python3)
command -v cc >/dev/null || need_apt+=(build-essential)
command -v pkg-config >/dev/null || need_apt+=(pkg-config)
pkg-config --exists openssl 2>/dev/null || need_apt+=(libssl-dev)
if [ ${#need_apt[@]} -gt 0 ]; then
  log "installing ${need_apt[*]}"
  if command -v apt-get >/dev/null && [ "$(id -u)" = 0 ]; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need_apt[@]}"
  else
    echo "scripts/test.sh: missing ${need_apt[*]}; install them (Debian: apt-get install ${need_apt[*]})" >&2
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
log "cargo clippy --all-targets -- -D warnings"
cargo clippy --locked --all-targets -- -D warnings

# --- A broker -------------------------------------------------------------
if [ -z "${KAFKA_BOOTSTRAP:-}" ]; then
  log "starting a Kafka broker (scripts/kafka/start.sh)"
  out="$(scripts/kafka/start.sh)"
  eval "export $(echo "$out" | grep '^KAFKA_BOOTSTRAP=')"
  KAFKA_DATA_DIR="$(echo "$out" | sed -n 's/^KAFKA_DATA_DIR=//p')"
  trap 'scripts/kafka/stop.sh "$KAFKA_DATA_DIR"' EXIT
fi
log "broker: $KAFKA_BOOTSTRAP"

# --- Tests ----------------------------------------------------------------
log "cargo test (unit, property, end-to-end; benches as smoke runs)"
cargo test --locked --all-targets -- --test-threads="${LEADPULSE_TEST_THREADS:-3}"
log "all tests passed"
