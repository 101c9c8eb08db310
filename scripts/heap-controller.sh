#!/usr/bin/env bash
# Where the controller's memory per agent goes: a release controller under heaptrack
# with AGENTS simulated agents (one tern-sim), heartbeat 10 s; after SECONDS s of
# steady state it is killed (-9) and the heap still live then is printed by owner
# (scripts/lib/heap-by-owner.py). Needs heaptrack (apt install heaptrack).
# Usage: scripts/heap-controller.sh [AGENTS] [SECONDS]
set -euo pipefail
cd "$(dirname "$0")/.."
agents=${1:-1000}
seconds=${2:-40}
command -v heaptrack >/dev/null || { echo "heaptrack is not installed (apt install heaptrack)"; exit 1; }
swift build -c release --product tern-controller >/dev/null
swift build -c release --product tern-sim >/dev/null
bin=$(swift build -c release --show-bin-path)
work=$(mktemp -d -t tern-heap.XXXXXX)
pids=()
trap 'for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$work"' EXIT
ulimit -n 65536 2>/dev/null || true
heaptrack -o "$work/heap" "$bin/tern-controller" serve --data "$work/controller" --listen 127.0.0.1:17970 --enrol-listen 127.0.0.1:17971 \
    --api-listen 127.0.0.1:17972 --log-level warning --heartbeat-interval 10 > "$work/heaptrack.out" 2> "$work/controller.log" &
pids+=($!)
for _ in $(seq 600); do [ -s "$work/controller/api-address" ] && break; sleep 0.2; done
controller=$(pgrep -f "^$bin/tern-controller serve --data $work/controller")
"$bin/tern-sim" --data "$work/controller" --count "$agents" --state "$work/sim" > "$work/sim.out" 2>&1 &
pids+=($!)
until grep -q "connected $agents/$agents" "$work/sim.out"; do sleep 1; done
sleep "$seconds"
echo "controller RSS with $agents agents: $(awk '/^VmRSS/ {print $2}' "/proc/$controller/status") KiB"
kill -9 "$controller"
for _ in $(seq 100); do ls "$work"/heap*.zst >/dev/null 2>&1 && ! pgrep -f heaptrack_interpret >/dev/null && break; sleep 0.2; done
heaptrack_print -f "$work"/heap*.zst --flamegraph-cost-type leaked -F "$work/stacks.txt" >/dev/null 2>&1
python3 scripts/lib/heap-by-owner.py "$work/stacks.txt" "$agents"
