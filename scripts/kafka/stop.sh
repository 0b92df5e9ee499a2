#!/usr/bin/env bash
# Stops a broker started by start.sh and removes its data folder.
set -euo pipefail
data="${1:?usage: stop.sh DATA_DIR}"
if [ -f "$data/broker.pid" ]; then
  pid="$(cat "$data/broker.pid")"
  kill "$pid" 2>/dev/null || true
  for _ in $(seq 1 40); do kill -0 "$pid" 2>/dev/null || break; sleep 0.25; done
  kill -9 "$pid" 2>/dev/null || true
fi
case "$data" in /tmp/*|*/leadpulse-kafka.*) rm -rf "$data" ;; esac
