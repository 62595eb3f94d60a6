#!/usr/bin/env bash
# Builds every fuzz target with libFuzzer and runs each for SECONDS (default 60) on its
# corpus (the seeds in corpus/<target>, plus what earlier runs found in work/<target>),
# then prints executions, the size of the working corpus and the crashes, timeouts
# (an input over 10 s) and out-of-memory inputs (over 2 GiB) per target.
#
#   tests/fuzz/run.sh [SECONDS] [TARGET...]
#
# Coverage instrumentation only (no sanitizer: the code has no unsafe, and stable Rust
# has no -Zsanitizer), so it needs nothing beyond the Rust toolchain and a C++ compiler
# for libFuzzer itself. Overflow checks and debug assertions are on. A crash leaves its
# input in artifacts/<target>/ and makes the script fail; replay it with
# `tests/fuzz/target/<host triple>/release/<target> artifacts/<target>/crash-...`.
set -euo pipefail
cd "$(dirname "$0")"
secs=${1:-60}
shift || true
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  targets=(signed_tx gossip_batch consensus_msg proposal_stream stored_records genesis backup ledger_tx)
fi
export RUSTFLAGS="-Cpasses=sancov-module -Cllvm-args=-sanitizer-coverage-level=4 \
-Cllvm-args=-sanitizer-coverage-inline-8bit-counters -Cllvm-args=-sanitizer-coverage-pc-table \
-Cllvm-args=-sanitizer-coverage-trace-compares --cfg fuzzing"
# With an explicit --target, RUSTFLAGS reach only the targets' code, not the build
# scripts and proc macros that run on the host.
host=$(rustc -vV | sed -n 's/^host: //p')
cargo build --release --bins --target "$host"
bin="target/$host/release"
passed=0
failed=0
total=0
mkdir -p work
printf '%-16s %12s %10s %8s\n' target executions corpus crashes > work/summary.txt
for t in "${targets[@]}"; do
  mkdir -p "work/$t" "artifacts/$t"
  touch "work/$t.start"
  max_len=8192
  case "$t" in stored_records | genesis) max_len=131072 ;; esac
  set +e
  "$bin/$t" -max_total_time="$secs" -max_len="$max_len" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
    -artifact_prefix="artifacts/$t/" "work/$t" "corpus/$t" > "work/$t.log" 2>&1
  rc=$?
  set -e
  runs=$(grep -o 'stat::number_of_executed_units: [0-9]*' "work/$t.log" | grep -o '[0-9]*$' || echo 0)
  entries=$(find "work/$t" -type f | wc -l)
  crashes=$(find "artifacts/$t" -type f \( -name 'crash-*' -o -name 'timeout-*' -o -name 'oom-*' -o -name 'leak-*' \) -newer "work/$t.start" | wc -l)
  total=$((total + runs))
  printf '%-16s %12s %10s %8s\n' "$t" "$runs" "$entries" "$crashes" >> work/summary.txt
  if [ "$rc" -eq 0 ] && [ "$crashes" -eq 0 ]; then
    passed=$((passed + 1))
  else
    failed=$((failed + 1))
    echo "fuzz target $t failed (exit $rc):" >&2
    tail -n 40 "work/$t.log" >&2
  fi
done
cat work/summary.txt
echo "executions in all: $total"
echo "fuzz: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
