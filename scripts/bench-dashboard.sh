#!/usr/bin/env bash
# The live dashboard at fleet scale, for BENCHMARKS.md: SUBCLOUDS simulated rows in
# a release controller's SQLite store (written while it is stopped), CLIENTS pages
# on the SSE feed, then a burst of CHANGES real changes through the API. Prints
# controller CPU at rest (against the same controller with no page open), update
# latency p50/p99 from the API call that changed the store to each page's receipt,
# CPU during the burst, and the fleet page's first load in headless Chromium
# (against fetching the same rows as JSON from /v1/subclouds).
# Usage: scripts/bench-dashboard.sh [SUBCLOUDS] [CLIENTS] [CHANGES]
set -euo pipefail
cd "$(dirname "$0")/.."
subclouds=${1:-10000}
clients=${2:-100}
changes=${3:-1000}
swift build -c release --product tern-controller >/dev/null
bin=$(swift build -c release --show-bin-path)
work=$(mktemp -d -t tern-dashboard.XXXXXX)
pids=()
trap 'for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$work"' EXIT
ulimit -n 65536 2>/dev/null || true
source scripts/lib/bench-site.sh
python=.build/browser-venv/bin/python3
[ -x "$python" ] || scripts/install-deps.sh >/dev/null

# Once to create and migrate the store, then the rows while it is stopped.
bench_controller 17860 --log-level warning
kill -TERM "${pids[-1]}"; wait "${pids[-1]}" 2>/dev/null || true
"$python" scripts/bench-dashboard.py populate "$bench_data/fleet.sqlite" "$subclouds"
bench_controller 17860 --log-level warning --heartbeat-interval 30
controller=${pids[-1]}
"$python" scripts/bench-dashboard.py run "$(cat "$bench_data/api-address")" "$(cat "$bench_data/api-token")" "$controller" "$subclouds" "$clients" "$changes"
