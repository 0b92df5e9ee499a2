#!/usr/bin/env bash
# Exactly-once under chaos, in the manner of Kafka's streams_eos_test: three
# `leadpulse run` instances score a stream produced while they are killed
# (kill -9), stopped (SIGTERM) and restarted at random, and their broker is
# bounced (stopped and started again on the same data). Then every
# output topic is read with read_committed and compared with `leadpulse
# replay --partitions N` of the same input (leadpulse-bench chaos-check):
# alerts by alert_id and content, final scores, handoffs, holds, lifecycle,
# breaches, overdue notices, and the DLQ; and `kafka-transactions
# find-hanging` must report nothing. Exits non-zero on any difference.
#
#   scripts/chaos.sh            # the long form: 300,000 events, 24 kill -9, 2 bounces
#   scripts/chaos.sh --short    # the short form scripts/test.sh runs
#
# Knobs (environment): CHAOS_EVENTS, CHAOS_RATE (events/s), CHAOS_LEADS,
# CHAOS_KILLS, CHAOS_TERMS, CHAOS_BOUNCES (broker bounces: 2, 1 short),
# CHAOS_PARTITIONS, CHAOS_SEED, CHAOS_OUT (work folder, default
# target/chaos), CHAOS_RELEASE=1 (release binaries), CHAOS_BIN_DIR
# (binaries already built there; nothing is built).
# The broker is its own (scripts/kafka/start.sh), as the bounce needs.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "${1:-}" = "--short" ]; then
  : "${CHAOS_EVENTS:=30000}" "${CHAOS_RATE:=1000}" "${CHAOS_KILLS:=6}" "${CHAOS_TERMS:=1}"
  : "${CHAOS_LEADS:=4000}" "${CHAOS_BOUNCES:=1}"
fi
EVENTS="${CHAOS_EVENTS:-300000}"
RATE="${CHAOS_RATE:-1000}"
LEADS="${CHAOS_LEADS:-20000}"
KILLS="${CHAOS_KILLS:-24}"
TERMS="${CHAOS_TERMS:-4}"
BOUNCES="${CHAOS_BOUNCES:-2}"
PARTITIONS="${CHAOS_PARTITIONS:-6}"
SEED="${CHAOS_SEED:-$RANDOM}"
OUT="${CHAOS_OUT:-target/chaos}"
INSTANCES=(a b c)

log() { printf '[chaos %s] %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }

if [ -n "${CHAOS_BIN_DIR:-}" ]; then
  bin="$CHAOS_BIN_DIR"   # binaries built already
elif [ -n "${CHAOS_RELEASE:-}" ]; then
  cargo build --locked --release --bins >&2
  bin=target/release
else
  cargo build --locked --bins >&2
  bin=target/debug
fi
lp="$(cd "$bin" && pwd)/leadpulse"
tool="$(cd "$bin" && pwd)/leadpulse-bench"

rm -rf "$OUT"
mkdir -p "$OUT"
OUT="$(cd "$OUT" && pwd)"
broker="$OUT/kafka"
declare -A pid=()
producer=""
cleanup() {
  for i in "${INSTANCES[@]}"; do
    [ -z "${pid[$i]:-}" ] || kill -9 "${pid[$i]}" 2>/dev/null || true
  done
  [ -z "$producer" ] || kill -9 "$producer" 2>/dev/null || true
  scripts/kafka/stop.sh --keep "$broker" >/dev/null 2>&1 || true
}
trap cleanup EXIT

log "starting a broker of its own in $broker"
started="$(scripts/kafka/start.sh "$broker")" || { log "the broker did not start"; exit 1; }
eval "$started"
name="chaos-$(date +%s)"
cat > "$OUT/routing.toml" <<'ROSTER'
# No deadline falls due while the test runs: timers fire on the wall clock
# in `run` and on stream time in `replay`, and must not race the producer.
default_sla_minutes = 43200   # the longest a roster may set: 30 days
feedback_business_days = 60
max_reassignments = 0

[[team]]
id = "na"
lead = "lee"
territory = { country = ["US", "CA"] }
[[team.rep]]
id = "ann"
[[team.rep]]
id = "bob"

[[team]]
id = "rest"
lead = "kim"
[[team.rep]]
id = "cat"
[[team.rep]]
id = "dan"
[[team.rep]]
id = "eve"
ROSTER
config() {
  cat > "$OUT/$1.toml" <<TOML
[kafka]
bootstrap_servers = "$KAFKA_BOOTSTRAP"
group_id = "$name"
instance_id = "$1"

[kafka.consumer]
"session.timeout.ms" = "6000"
"heartbeat.interval.ms" = "1000"

[admin]
enabled = false

[topics]
events = "$name-events"
scores = "$name-scores"
alerts = "$name-alerts"
dlq = "$name-dlq"
enrichment = "$name-enrichment"
feedback = "$name-feedback"
breaches = "$name-breaches"
overdue = "$name-overdue"
lifecycle = "$name-lifecycle"
handoffs = "$name-handoffs"
changelog = "$name-changelog"
partitions = $PARTITIONS
replication_factor = 1

[model]
path = "$PWD/examples/model.toml"

[routing]
path = "$OUT/routing.toml"

[shutdown]
grace_period_secs = 20
TOML
}
for i in "${INSTANCES[@]}" producer; do config "$i"; done
"$tool" create-topics --config "$OUT/producer.toml"

runs=0
start() {
  runs=$((runs + 1))
  RUST_LOG=info "$lp" run --config "$OUT/$1.toml" >> "$OUT/$1.log" 2>&1 &
  pid[$1]=$!
}
unexpected=0
# An instance that ended without being told to is a failure; it is started
# again so the run goes on.
check_alive() {
  for i in "${INSTANCES[@]}"; do
    if ! kill -0 "${pid[$i]}" 2>/dev/null; then
      local code=0
      wait "${pid[$i]}" || code=$?
      log "instance $i exited by itself with status $code (see $OUT/$i.log)"
      unexpected=$((unexpected + 1))
      start "$i"
    fi
  done
}

log "3 instances; $EVENTS events at $RATE/s for $LEADS leads (seed $SEED), $PARTITIONS partitions"
for i in "${INSTANCES[@]}"; do start "$i"; done
"$tool" chaos-produce --config "$OUT/producer.toml" --dir "$OUT" --events "$EVENTS" \
  --rate "$RATE" --leads "$LEADS" --seed "$SEED" > "$OUT/produced.json" 2> "$OUT/producer.log" &
producer=$!

# Disruptions spread over the production time: one every `gap` seconds.
# The bounces are spread evenly among them.
total=$((KILLS + TERMS + BOUNCES))
gap=$(( (EVENTS / RATE) / (total + 1) ))
[ "$gap" -ge 4 ] || gap=4
kills=0 terms=0 bounces=0 n=0
while [ $n -lt $total ]; do
  sleep $(( gap / 2 + RANDOM % (gap / 2 + 1) ))
  check_alive
  n=$((n + 1))
  if [ $bounces -lt "$BOUNCES" ] && [ $((n * (BOUNCES + 1))) -gt $(( (bounces + 1) * (total + 1) )) ]; then
    log "broker bounce $((bounces + 1))/$BOUNCES: stopping it for 10 s"
    scripts/kafka/stop.sh --keep "$broker"
    sleep 10
    scripts/kafka/start.sh "$broker" > /dev/null || { log "the broker did not come back"; exit 1; }
    bounces=$((bounces + 1))
    log "broker back"
    continue
  fi
  victim="${INSTANCES[$((RANDOM % 3))]}"
  if [ $kills -lt $KILLS ] && { [ $terms -ge $TERMS ] || [ $((RANDOM % 5)) -gt 0 ]; }; then
    kill -9 "${pid[$victim]}" 2>/dev/null || true
    wait "${pid[$victim]}" 2>/dev/null || true
    kills=$((kills + 1))
    log "kill -9 $victim ($kills/$KILLS)"
  else
    kill -TERM "${pid[$victim]}" 2>/dev/null || true
    code=0
    wait "${pid[$victim]}" || code=$?
    terms=$((terms + 1))
    log "SIGTERM $victim: exit status $code ($terms/$TERMS)"
    if [ $code -ne 0 ]; then unexpected=$((unexpected + 1)); fi
  fi
  sleep $((RANDOM % 3))
  start "$victim"
done

log "disruptions done; waiting for the producer"
produced_ok=0
wait "$producer" || produced_ok=$?
producer=""
[ $produced_ok -eq 0 ] || { log "the producer failed (see $OUT/producer.log)"; exit 1; }
check_alive
log "waiting for the group to commit the whole events topic"
"$tool" drain --config "$OUT/producer.toml" --timeout-secs 1800 > "$OUT/drain.json"
check_alive
for i in "${INSTANCES[@]}"; do kill -TERM "${pid[$i]}"; done
for i in "${INSTANCES[@]}"; do
  code=0
  wait "${pid[$i]}" || code=$?
  pid[$i]=""
  if [ $code -ne 0 ]; then
    log "instance $i exited with $code on the final SIGTERM"
    unexpected=$((unexpected + 1))
  fi
done

log "replay --partitions $PARTITIONS of the same input"
"$lp" replay --model examples/model.toml --events "$OUT/events.ndjson" \
  --routing "$OUT/routing.toml" --partitions "$PARTITIONS" --outputs "$OUT/replay" \
  > /dev/null 2> "$OUT/replay.log"
log "reading every output topic with read_committed"
checked=0
"$tool" chaos-check --config "$OUT/producer.toml" --dir "$OUT" --replay "$OUT/replay" \
  > "$OUT/check.json" || checked=$?
# Every transaction left open for over a minute counts (the tool's default
# is 15): the instances' own time out after 10 s, and all are stopped now.
log "kafka-transactions find-hanging"
scripts/kafka/transactions.sh --bootstrap-server "$KAFKA_BOOTSTRAP" find-hanging --broker-id 1 \
  --max-transaction-timeout 1 > "$OUT/hanging.txt" 2> "$OUT/hanging.log"
# The tool prints a header line, then one line per hanging transaction.
hanging=$(grep -cvE '^(Topic|[[:space:]]*$)' "$OUT/hanging.txt" || true)

python3 - "$OUT" "$kills" "$terms" "$bounces" "$unexpected" "$hanging" "$runs" "$SEED" <<'PY'
import json, sys
out, kills, terms, bounces, unexpected, hanging, runs, seed = sys.argv[1:]
c = json.load(open(f"{out}/check.json"))
p = json.load(open(f"{out}/produced.json"))
a = c["alerts"]
print(f"events produced:     {p['events']} ({p['malformed']} malformed), seed {seed}")
print(f"kill -9:             {kills}")
print(f"SIGTERM:             {terms}")
print(f"broker bounces:      {bounces}")
print(f"instance starts:     {runs}; unexpected exits: {unexpected}")
print(f"alerts:              expected {a['expected']}, got {a['got']}, missing {a['missing']}, "
      f"duplicate {a['duplicate']}, extra {a['extra']}, different {a['different']}")
s = c["scores"]
print(f"final scores:        {s['expected']} leads, mismatches {s['missing'] + s['different'] + s['extra']}")
for k in ["handoffs", "holds", "lifecycle", "breaches", "overdue"]:
    v = c[k]
    bad = v["missing"] + v["duplicate"] + v["extra"] + v["different"]
    print(f"{k + ':':<20} expected {v['expected']}, got {v['got']}, mismatches {bad}")
d = c["dlq"]
print(f"DLQ:                 expected {d['expected']}, got {d['got']}, missing {d['missing']}, "
      f"duplicate {d['duplicate']}, extra {d['extra']}, without headers {c['dlq_without_headers']}")
print(f"hanging transactions: {hanging}")
for e in c["examples"]:
    print("  " + e)
PY
if [ "$hanging" -ne 0 ]; then cat "$OUT/hanging.txt" >&2; fi
if [ $checked -ne 0 ] || [ "$hanging" -ne 0 ] || [ $unexpected -ne 0 ] || [ $bounces -ne "$BOUNCES" ]; then
  log "FAILED (details in $OUT)"
  exit 1
fi
log "passed"
