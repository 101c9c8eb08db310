#!/usr/bin/env bash
# Orchestration overhead for BENCHMARKS.md: N in-process agents (one `tern-bench
# fleet` process, each agent with its own TLS connection and state directory)
# against a release controller. The baseline: an image deployed to every site at
# once without a strategy (`POST /v1/deployments`, all sites). Then an images
# strategy of another image of the same size, parallel with max-parallel M. Prints
# both times, their ratio (the orchestration overhead), the controller's CPU seconds
# per step and its memory. (Also a raw object delivery first, for reference.)
# Usage: scripts/bench-strategy.sh [AGENTS] [MAX_PARALLEL] [SIZE_KIB]
set -euo pipefail
cd "$(dirname "$0")/.."
agents=${1:-1000}
window=${2:-100}
size=${3:-64}
swift build -c release --product tern-controller >/dev/null
swift build -c release --product tern-bench >/dev/null
bin=$(swift build -c release --show-bin-path)
work=$(mktemp -d -t tern-strategy.XXXXXX)
pids=()
trap 'for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$work"' EXIT
ulimit -n 65536 2>/dev/null || true
head -c $((size << 10)) /dev/urandom > "$work/baseline.bin"
head -c $((size << 10)) /dev/urandom > "$work/layer.bin"
head -c $((size << 10)) /dev/urandom > "$work/baseline-layer.bin"
"$bin/tern-controller" serve --data "$work/c" --listen 127.0.0.1:17647 --enrol-listen 127.0.0.1:17648 --api-listen 127.0.0.1:17680 \
    --heartbeat-interval 30 --log-level warning 2> "$work/controller.log" &
controller=$!; pids+=($controller)
for _ in $(seq 50); do [ -s "$work/c/api-address" ] && break; sleep 0.2; done
"$bin/tern-bench" fleet --data "$work/c" --controller 127.0.0.1:17647 --agents "$agents" --hold 0 --work "$work/agents" \
    --deliver "$work/baseline.bin" --baseline-image "$work/baseline-layer.bin" --strategy "$work/layer.bin" --max-parallel "$window" --controller-pid "$controller" \
    | grep -v READY | tee "$work/out"
baseline=$(sed -n 's/^BASELINE seconds=\([0-9.]*\).*/\1/p' "$work/out")
strategy=$(sed -n 's/^STRATEGY seconds=\([0-9.]*\).*/\1/p' "$work/out")
echo "== $agents sites, ${size} KiB object, max-parallel $window"
echo "deployment to all at once (baseline): ${baseline} s; strategy: ${strategy} s; ratio $(python3 -c "print(f'{$strategy/$baseline:.2f}')")"
