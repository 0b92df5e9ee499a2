#!/usr/bin/env bash
# Fuzzes leadpulse's parsers with cargo-fuzz (libFuzzer, nightly Rust):
#
#   scripts/fuzz.sh [--time SECONDS] [--sanitizer address|none] [--debug-assertions]
#                   [--build-only] [target...]
#
# Runs each target (all of them by default, one after the other) for
# SECONDS (default 600), nice'd, and prints a summary per target: runs,
# crashes, coverage. The committed seeds in fuzz/corpus/<target>/ are read
# but never written; what a run discovers goes to fuzz/work/corpus/<target>/
# and is kept between runs. A crash is saved under fuzz/artifacts/<target>/
# and makes the script exit 1 after the summary. --build-only builds the
# targets and runs nothing. --debug-assertions turns on overflow checks and
# debug assertions (cargo-fuzz leaves them off in its optimised builds).
# Builds other than the default (address sanitizer, no debug assertions)
# get their own directory under fuzz/target/, so switching does not
# rebuild. CI (scripts/test.sh) builds with --sanitizer none
# --debug-assertions and runs each target for seconds. Targets and
# properties: RELIABILITY.md.
set -euo pipefail
cd "$(dirname "$0")/.."

time_s=600
sanitizer=address
build_only=false
debug_assertions=false
targets=()
while [ $# -gt 0 ]; do
  case "$1" in
    --time) time_s="$2"; shift 2 ;;
    --time=*) time_s="${1#*=}"; shift ;;
    --sanitizer) sanitizer="$2"; shift 2 ;;
    --sanitizer=*) sanitizer="${1#*=}"; shift ;;
    --build-only) build_only=true; shift ;;
    --debug-assertions) debug_assertions=true; shift ;;
    -h|--help) sed -n '2,21p' "$0"; exit 0 ;;
    -*) echo "scripts/fuzz.sh: unknown option $1" >&2; exit 2 ;;
    *) targets+=("$1"); shift ;;
  esac
done

if ! rustup run nightly rustc --version >/dev/null 2>&1; then
  echo "scripts/fuzz.sh: the fuzz targets need a nightly Rust toolchain (libFuzzer's" >&2
  echo "instrumentation and sanitizers are nightly-only): rustup toolchain install nightly" >&2
  exit 1
fi
if ! cargo +nightly fuzz --version >/dev/null 2>&1; then
  echo "scripts/fuzz.sh: installing cargo-fuzz from crates.io" >&2
  cargo install cargo-fuzz --locked
fi

all=$(cargo +nightly fuzz list)
[ ${#targets[@]} -gt 0 ] || mapfile -t targets <<<"$all"
for t in "${targets[@]}"; do
  grep -qx "$t" <<<"$all" || { echo "scripts/fuzz.sh: no target $t (have: $(echo $all))" >&2; exit 2; }
done

nice_n="${FUZZ_NICE:-19}"
flags=(--sanitizer "$sanitizer")
$debug_assertions && flags+=(--debug-assertions)
if [ "$sanitizer" != address ] || $debug_assertions; then
  flags+=(--target-dir "fuzz/target/$sanitizer$($debug_assertions && echo -da)")
fi
build() { nice -n "$nice_n" cargo +nightly fuzz build "${flags[@]}" "$@"; }
if $build_only; then
  build
  exit 0
fi

mkdir -p fuzz/work
summary=()
failed=0
for t in "${targets[@]}"; do
  build "$t"
  work="fuzz/work/corpus/$t" log="fuzz/work/$t.log" artifacts="fuzz/artifacts/$t"
  mkdir -p "$work" "$artifacts"
  before=$(find "$artifacts" -type f | wc -l)
  dict=()
  [ -f "fuzz/dict/$t.dict" ] && dict=(-dict="fuzz/dict/$t.dict")
  echo "== fuzzing $t for ${time_s}s (log: $log)" >&2
  rc=0
  nice -n "$nice_n" cargo +nightly fuzz run "${flags[@]}" "$t" "$work" "fuzz/corpus/$t" -- \
    -max_total_time="$time_s" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 "${dict[@]}" \
    >"$log" 2>&1 || rc=$?
  runs=$(sed -n 's/^Done \([0-9]*\) runs in.*/\1/p' "$log" | tail -1)
  stats=$(grep -E '^#[0-9]+' "$log" | tail -1 || true)
  cov=$(sed -n 's/.* cov: \([0-9]*\).*/\1/p' <<<"$stats")
  ft=$(sed -n 's/.* ft: \([0-9]*\).*/\1/p' <<<"$stats")
  corp=$(sed -n 's/.* corp: \([0-9]*\).*/\1/p' <<<"$stats")
  crashes=$(( $(find "$artifacts" -type f | wc -l) - before ))
  [ "$rc" = 0 ] || [ "$crashes" -gt 0 ] || crashes="exit $rc"
  [ "$rc" = 0 ] || failed=1
  line=$(printf '%-24s %6ss  runs %-11s crashes %-6s cov %-6s ft %-6s corpus %s' \
    "$t" "$time_s" "${runs:-?}" "$crashes" "${cov:-?}" "${ft:-?}" "${corp:-?}")
  summary+=("$line")
  echo "$line" >&2
  if [ "$rc" != 0 ]; then
    grep -E 'panicked|ERROR: libFuzzer|SUMMARY|Test unit written' "$log" | head -5 >&2 || true
  fi
done

echo
echo "fuzz summary ($(git rev-parse --short HEAD 2>/dev/null || echo '?'), ${flags[*]})"
printf '%s\n' "${summary[@]}"
exit "$failed"
