#!/usr/bin/env bash
# Stops a broker started by start.sh and removes its data folder (with
# --keep, keeps it, so start.sh can bring the same broker back).
set -euo pipefail
keep=false
if [ "${1:-}" = "--keep" ]; then keep=true; shift; fi
data="${1:?usage: stop.sh [--keep] DATA_DIR}"
if [ -f "$data/broker.pid" ]; then
  pid="$(cat "$data/broker.pid")"
  kill "$pid" 2>/dev/null || true
  for _ in $(seq 1 40); do kill -0 "$pid" 2>/dev/null || break; sleep 0.25; done
  kill -9 "$pid" 2>/dev/null || true
fi
$keep || case "$data" in /tmp/*|*/leadpulse-kafka.*) rm -rf "$data" ;; esac
