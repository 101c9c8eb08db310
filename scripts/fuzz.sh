#!/usr/bin/env bash
# Builds the libFuzzer target with the Swift code under test instrumented for
# coverage, runs it, and keeps what it finds:
#   scripts/fuzz.sh [SECONDS]            (default 1800)
# - the corpus lives in Fuzz/corpus (merged, minimised, committed) and grows run by run;
# - crash, timeout and leak inputs go to Tests/WireTests/FuzzRegressions/, which
#   FuzzRegressionTests replays on every `swift test`;
# - the last lines of the log (executions, cov, ft, corpus) are what BENCHMARKS.md records.
# Without -sanitize-coverage on the Swift side, only C code (BoringSSL, zlib shims)
# is instrumented and libFuzzer runs blind: "no interesting inputs were found".
set -euo pipefail
cd "$(dirname "$0")/../Fuzz"
seconds="${1:-1800}"
swift build -c debug --sanitize=fuzzer --sanitize=address \
    -Xswiftc -sanitize-coverage=edge,pc-table,inline-8bit-counters --product FuzzWire
mkdir -p corpus crashes work
cp -n ../Tests/WireTests/FuzzRegressions/* corpus/ 2>/dev/null || true
rm -rf work/* crashes/*
log="fuzz-$(date +%Y%m%d-%H%M%S).log"
# Findings are written to crashes/; the run goes on after one (-fork keeps going).
SWIFT_BACKTRACE=enable=no .build/debug/FuzzWire work corpus \
    -max_total_time="$seconds" -max_len=4096 -timeout=10 -rss_limit_mb=2048 \
    -artifact_prefix=crashes/ -print_final_stats=1 2>&1 | tee "$log" | grep -E "^#[0-9]+.*(NEW|pulse|DONE)|ERROR|SUMMARY" | tail -n 40 || true
# Merge what the run found into the committed corpus, minimised.
mkdir -p merged
SWIFT_BACKTRACE=enable=no .build/debug/FuzzWire -merge=1 merged corpus work > /dev/null 2>&1 || true
rm -rf corpus && mv merged corpus
found=0
for file in crashes/*; do
    [ -e "$file" ] || continue
    cp "$file" "../Tests/WireTests/FuzzRegressions/found-$(basename "$file")"
    found=$((found + 1))
done
echo "== $(basename "$log"): $(grep -E '^#[0-9]+' "$log" | tail -n 1)"
grep -E "stat::(number_of_executed_units|average_exec_per_sec|new_units_added|peak_rss_mb)" "$log" || true
echo "== corpus: $(ls corpus | wc -l) inputs, $(du -sk corpus | cut -f1) KiB; findings kept as regression inputs: $found"
