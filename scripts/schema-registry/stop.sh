#!/usr/bin/env bash
# Stops a registry started by start.sh and removes its data folder (with
# --keep, keeps it, so start.sh can bring the same registry back on the same
# port with its schemas).
set -euo pipefail
keep=false
if [ "${1:-}" = "--keep" ]; then keep=true; shift; fi
data="${1:?usage: stop.sh [--keep] DATA_DIR}"
if [ -f "$data/registry.pid" ]; then
  pid="$(cat "$data/registry.pid")"
  kill "$pid" 2>/dev/null || true
  # A clean stop closes the H2 file; 20 s before it is forced.
  for _ in $(seq 1 80); do kill -0 "$pid" 2>/dev/null || break; sleep 0.25; done
  kill -9 "$pid" 2>/dev/null || true
  rm -f "$data/registry.pid"
fi
$keep || case "$data" in /tmp/*|*/leadpulse-schema-registry.*) rm -rf "$data" ;; esac
