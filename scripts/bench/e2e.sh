#!/usr/bin/env bash
# End-to-end benchmarks of leadpulse against a real Kafka broker, each figure
# printed with the command that produced it. See BENCHMARKS.md.
#
#   scripts/bench/e2e.sh            # the full run (about 10 minutes)
#   BENCH_QUICK=1 scripts/bench/e2e.sh   # small sizes, to try the script
#
# Uses the broker at KAFKA_BOOTSTRAP, or starts one with scripts/kafka/start.sh
# (and stops it at the end). Every run uses topics and groups of its own.
#
# Figures, in order:
#  1. sustained exactly-once throughput: a pre-filled events topic drained by
#     the pass-through (the I/O floor: consume + transactional produce of
#     equivalent outputs, no scoring), then by leadpulse, then by the
#     pass-through again; leadpulse is reported as a ratio of the floor;
#  2. RSS per lead after that run (about 1M leads through Kafka);
#  3. changelog restore speed: leadpulse restarted on that changelog;
#  4. event -> alert latency p50/p99/p999 at fixed offered loads;
#  5. RSS per lead at 10M leads in-process.
#
# Knobs (environment): BENCH_EVENTS, BENCH_LEADS, BENCH_PARTITIONS,
# BENCH_RATES, BENCH_LATENCY_SECS, BENCH_LATENCY_LEADS, BENCH_STATE_LEADS,
# BENCH_OUT (results folder, default target/bench-e2e).
set -euo pipefail
cd "$(dirname "$0")/../.."

if [ -n "${BENCH_QUICK:-}" ]; then
  : "${BENCH_EVENTS:=200000}" "${BENCH_LEADS:=50000}" "${BENCH_RATES:=5000}"
  : "${BENCH_LATENCY_SECS:=15}" "${BENCH_STATE_LEADS:=200000}"
fi
EVENTS="${BENCH_EVENTS:-4000000}"
LEADS="${BENCH_LEADS:-1100000}"
PARTITIONS="${BENCH_PARTITIONS:-6}"
RATES="${BENCH_RATES:-5000 20000 50000}"
LAT_SECS="${BENCH_LATENCY_SECS:-60}"
LAT_LEADS="${BENCH_LATENCY_LEADS:-50000}"
STATE_LEADS="${BENCH_STATE_LEADS:-10000000}"
OUT="${BENCH_OUT:-target/bench-e2e}"
mkdir -p "$OUT"
OUT="$(cd "$OUT" && pwd)"
results="$OUT/results.md"
: > "$results"

log() { printf '== %s\n' "$*" >&2; }
report() { printf '%s\n' "$*" | tee -a "$results"; }

log "cargo build --release --bins"
cargo build --release --bins >&2
lp="$PWD/target/release/leadpulse"
tool="$PWD/target/release/leadpulse-bench"

broker_dir=""
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  [ -z "$broker_dir" ] || scripts/kafka/stop.sh "$broker_dir"
}
trap cleanup EXIT
if [ -z "${KAFKA_BOOTSTRAP:-}" ]; then
  log "starting a broker (scripts/kafka/start.sh)"
  started="$(scripts/kafka/start.sh)"
  KAFKA_BOOTSTRAP="$(echo "$started" | sed -n 's/^KAFKA_BOOTSTRAP=//p')"
  broker_dir="$(echo "$started" | sed -n 's/^KAFKA_DATA_DIR=//p')"
fi
export KAFKA_BOOTSTRAP
# The broker's pid, when it is one of ours, for its CPU time.
broker_pid=""
for f in /tmp/leadpulse-kafka.*/bootstrap "$broker_dir/bootstrap"; do
  if [ -f "$f" ] && [ "$(cat "$f")" = "$KAFKA_BOOTSTRAP" ] && [ -f "$(dirname "$f")/broker.pid" ]; then
    broker_pid="$(cat "$(dirname "$f")/broker.pid")"
  fi
done
run_id="bench-$(date +%s)"
clk="$(getconf CLK_TCK)"

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}
# cpu_secs PID: user+system CPU seconds the process has used so far.
cpu_secs() { awk -v t="$clk" '{printf "%.2f", ($14+$15)/t}' "/proc/$1/stat" 2>/dev/null || echo 0; }
rss_bytes() { awk '/^VmRSS/{printf "%.0f\n", $2*1024}' "/proc/$1/status"; }
json() { python3 -c "import json,sys; print(json.loads(sys.argv[1])[sys.argv[2]])" "$1" "$2"; }
calc() { python3 -c "print($*)"; }

# config NAME EVENTS_TOPIC GROUP ADMIN_PORT: a service config for one mode.
config() {
  local file="$OUT/$1.toml"
  cat > "$file" <<TOML
[kafka]
bootstrap_servers = "$KAFKA_BOOTSTRAP"
group_id = "$run_id-$3"
instance_id = "bench"

[admin]
listen = "127.0.0.1:$4"

[topics]
events = "$2"
scores = "$run_id-$3-scores"
alerts = "$run_id-$3-alerts"
dlq = "$run_id-$3-dlq"
enrichment = "$run_id-$3-enrichment"
changelog = "$run_id-$3-changelog"
partitions = $PARTITIONS
replication_factor = 1

[pipeline]
commit_interval_ms = 100

[model]
path = "examples/model.toml"

[log]
format = "json"
level = "info"
TOML
  echo "$file"
}

# start_service CONFIG LOG: leadpulse run in the background; prints its pid.
start_service() {
  "$lp" run --config "$1" >"$2" 2>&1 &
  echo $!
}
wait_ready() {
  for _ in $(seq 1 600); do
    if curl -fs "http://127.0.0.1:$1/readyz" >/dev/null 2>&1; then return 0; fi
    sleep 0.1
  done
  log "service on admin port $1 never became ready"; return 1
}
stop() { kill -TERM "$1" 2>/dev/null || true; wait "$1" 2>/dev/null || true; }
metric() { curl -fs "http://127.0.0.1:$1/metrics" | awk -v m="$2" '$1==m{print $2}'; }

report "# leadpulse end-to-end benchmark"
report ""
report "date: $(date -u +%Y-%m-%dT%H:%M:%SZ); commit: $(git rev-parse --short HEAD)$(git diff --quiet || echo '+dirty'); $(nproc) CPUs; broker $KAFKA_BOOTSTRAP; $PARTITIONS partitions; commit interval 100 ms"
report ""

# --- 0. An idle service's RSS, the baseline for bytes per lead ---------------
aport="$(free_port)"
cfg="$(config idle "$run_id-idle-events" idle "$aport")"
pid="$(start_service "$cfg" "$OUT/idle.log")"; pids+=("$pid")
wait_ready "$aport"
sleep 1
idle_rss="$(rss_bytes "$pid")"
stop "$pid"
report "- idle service RSS (no leads): $idle_rss bytes"

# --- 1. Throughput: pass-through floor vs leadpulse on the same input ---------
events_topic="$run_id-events"
gen_cfg="$(config generator "$events_topic" generator "$(free_port)")"
cmd=("$lp" generate --kafka --rate 0 --events "$EVENTS" --leads "$LEADS" --seed 42 --config "$gen_cfg")
log "pre-filling $events_topic: ${cmd[*]}"
"$tool" create-topics --config "$gen_cfg"
t0="$(date +%s.%N)"
"${cmd[@]}" 2>"$OUT/generate.log"
t1="$(date +%s.%N)"
report "- generator: $EVENTS events for $LEADS leads in $(calc "round($t1-$t0,1)") s = $(calc "round($EVENTS/($t1-$t0))") events/s"
report "  \`leadpulse generate --kafka --rate 0 --events $EVENTS --leads $LEADS --seed 42\`"
report ""

# drain_with MODE CONFIG: runs MODE (passthrough | leadpulse) until the group
# has committed the whole topic; sets rate, cpu, broker_cpu, pid_rss, leads.
drain_with() {
  local mode="$1" cfg="$2" port pid b0 out
  port="$(awk -F'[:"]' '/^listen/{print $(NF-1)}' "$cfg")"
  b0="$(cpu_secs "${broker_pid:-0}")"
  if [ "$mode" = passthrough ]; then
    "$tool" passthrough --config "$cfg" >"$OUT/$mode.out" 2>"$OUT/$mode.log" & pid=$!
  else
    pid="$(start_service "$cfg" "$OUT/$mode.log")"
  fi
  pids+=("$pid")
  out="$("$tool" drain --config "$cfg" --timeout-secs 1800)"
  rate="$(json "$out" events_per_sec)"
  secs="$(json "$out" seconds)"
  cpu="$(cpu_secs "$pid")"
  broker_cpu="$(calc "round($(cpu_secs "${broker_pid:-0}") - $b0, 1)")"
  pid_rss="$(rss_bytes "$pid")"
  leads=""
  [ "$mode" = passthrough ] || leads="$(metric "$port" leadpulse_leads)"
  stop "$pid"
}

round=0
floor_rates=()
for mode in passthrough leadpulse passthrough; do
  round=$((round + 1))
  cfg="$(config "$mode-$round" "$events_topic" "$mode-$round" "$(free_port)")"
  log "draining $EVENTS events with $mode (round $round)"
  drain_with "$mode" "$cfg"
  if [ "$mode" = passthrough ]; then
    floor_rates+=("$rate")
    report "- pass-through floor, round $round: $rate events/s over $secs s; process CPU ${cpu} s, broker CPU ${broker_cpu} s"
    report "  \`leadpulse-bench passthrough --config $(basename "$cfg")\` + \`leadpulse-bench drain --config $(basename "$cfg")\`"
  else
    lp_rate="$rate"; lp_cfg="$cfg"; lp_leads="$leads"; lp_rss="$pid_rss"
    report "- leadpulse, exactly once: $rate events/s over $secs s; process CPU ${cpu} s ($(calc "round($EVENTS/max($cpu,0.01))") events per CPU-second), broker CPU ${broker_cpu} s"
    report "  \`leadpulse run --config $(basename "$cfg")\` + \`leadpulse-bench drain --config $(basename "$cfg")\`"
  fi
done
floor="$(calc "round(($(IFS=+; echo "${floor_rates[*]}"))/${#floor_rates[@]})")"
report "- **leadpulse / pass-through floor: $(calc "round(100*$lp_rate/$floor,1)")%** (floor = mean of the two pass-through rounds, $floor events/s)"
report ""

# --- 2. Memory at ~1M leads through Kafka ----------------------------------------
report "- RSS after the leadpulse run: $lp_rss bytes for $lp_leads leads = $(calc "round($lp_rss/$lp_leads)") bytes/lead, $(calc "round(($lp_rss-$idle_rss)/$lp_leads)") bytes/lead above the idle service"

# --- 3. Restore of that changelog --------------------------------------------------
port="$(awk -F'[:"]' '/^listen/{print $(NF-1)}' "$lp_cfg")"
pid="$(start_service "$lp_cfg" "$OUT/restore.log")"; pids+=("$pid")
wait_ready "$port"
line="$(grep -m1 '"restored lead state from changelog"' "$OUT/restore.log")"
r_leads="$(json "$line" leads)"; r_records="$(json "$line" records)"; r_ms="$(json "$line" elapsed_ms)"
sleep 1
r_rss="$(rss_bytes "$pid")"
stop "$pid"
report "- restore: $r_leads leads ($r_records changelog records) in $r_ms ms = **$(calc "round($r_leads*1000/max($r_ms,1))") leads/s** ($(calc "round($r_records*1000/max($r_ms,1))") records/s)"
report "  \`leadpulse run --config $(basename "$lp_cfg")\` restarted; figures from its \"restored lead state from changelog\" log line"
report "- RSS right after the restore: $r_rss bytes = $(calc "round(($r_rss-$idle_rss)/$r_leads)") bytes/lead above the idle service"
report ""

# --- 4. Event -> alert latency at fixed offered loads ---------------------------
for r in $RATES; do
  aport="$(free_port)"
  cfg="$(config "latency-$r" "$run_id-latency-$r-events" "latency-$r" "$aport")"
  pid="$(start_service "$cfg" "$OUT/latency-$r.log")"; pids+=("$pid")
  wait_ready "$aport"
  "$tool" latency --config "$cfg" --warmup-secs 5 >"$OUT/latency-$r.out" & lat=$!; pids+=("$lat")
  n=$((r * LAT_SECS))
  c0="$(cpu_secs "$pid")"
  log "offering $r events/s for $LAT_SECS s"
  "$lp" generate --kafka --rate "$r" --events "$n" --leads "$LAT_LEADS" --hot-fraction 0.2 --seed 7 \
    --config "$cfg" 2>"$OUT/latency-$r-generate.log"
  kept_up="yes"
  "$tool" drain --config "$cfg" --timeout-secs 30 >/dev/null || kept_up="no (lag after 30 s)"
  c1="$(cpu_secs "$pid")"
  sleep 1
  stop "$lat"
  stop "$pid"
  out="$(cat "$OUT/latency-$r.out")"
  report "- $r events/s offered for $LAT_SECS s: p50 $(json "$out" p50_ms) ms, p99 $(json "$out" p99_ms) ms, p999 $(json "$out" p999_ms) ms, max $(json "$out" max_ms) ms over $(json "$out" alerts) alerts; service CPU $(calc "round(100*($c1-$c0)/$LAT_SECS)")% of one core; kept up: $kept_up"
  report "  \`leadpulse generate --kafka --rate $r --events $n --leads $LAT_LEADS --hot-fraction 0.2 --seed 7\` into \`leadpulse run\`; \`leadpulse-bench latency\` reads the committed alerts"
done
report ""

# --- 5. Lead state in-process at 10M leads ------------------------------------
log "scoring $STATE_LEADS leads in-process"
out="$("$tool" state-memory --leads "$STATE_LEADS")"
report "- in-process: $(json "$out" leads) leads from $(json "$out" events) events: **$(json "$out" bytes_per_lead) bytes/lead** of RSS ($(json "$out" rss_before) -> $(json "$out" rss_after) bytes, $(json "$out" seconds) s)"
report "  \`leadpulse-bench state-memory --leads $STATE_LEADS\`"
log "results in $results"
