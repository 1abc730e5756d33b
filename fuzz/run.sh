#!/usr/bin/env bash
# Runs every fuzz target: `fuzz/run.sh SECONDS` (each target for SECONDS) or
# `fuzz/run.sh --runs N` (each target for N executions). Fails on the first crash, abort,
# timeout (> 1 s per input) or RSS over 2 GB; prints executions and wall time per target.
# TARGETS="a b" limits the run to those targets.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "${1:-}" = "--runs" ]; then LIMIT="-runs=$2"; else LIMIT="-max_total_time=${1:-10}"; fi
[ -d fuzz/corpus ] || bash fuzz/seed.sh >/dev/null
TARGETS=${TARGETS:-$(cargo fuzz list --fuzz-dir fuzz)}
# Stable Rust: libFuzzer's coverage flags need no nightly without a sanitizer; the
# targets are safe Rust, so AddressSanitizer would add time, not findings.
export RUSTC_BOOTSTRAP=1
cargo fuzz build --sanitizer none --release --fuzz-dir fuzz >/dev/null
for t in $TARGETS; do
  start=$(date +%s%N)
  log=$(mktemp)
  if ! cargo fuzz run --sanitizer none --release --fuzz-dir fuzz "$t" "fuzz/corpus/$t" -- \
      $LIMIT -timeout=1 -rss_limit_mb=2048 -print_final_stats=1 >"$log" 2>&1; then
    tail -40 "$log"; echo "FAILED: $t"; exit 1
  fi
  end=$(date +%s%N)
  execs=$(grep -oE 'stat::number_of_executed_units: *[0-9]+' "$log" | grep -oE '[0-9]+$')
  rss=$(grep -oE 'stat::peak_rss_mb: *[0-9]+' "$log" | grep -oE '[0-9]+$')
  printf '%-16s %10s execs %8.1f s  peak RSS %s MB\n' "$t" "$execs" "$(awk "BEGIN{print ($end-$start)/1e9}")" "$rss"
  rm -f "$log"
done
