#!/usr/bin/env bash
# The controller with many agents, for BENCHMARKS.md: AGENTS simulated agents
# (`tern-sim`, PER agents per process) on one release controller (SQLite store),
# heartbeat HEARTBEAT s. Prints the time to connect them all, the controller's CPU
# and store commits per second at steady state over SECONDS s (against the same
# controller with no agent, measured first in the same run), RSS per agent,
# keepalive RTT p50/p99 as the agents see it, and the time for all of them to return
# after a controller restart (with how many were marked offline meanwhile). Then the
# floor in the same run: a bare swift-nio-ssl server (`tern-idle-baseline serve`, NIO
# and NIOSSL only, the controller's certificate and CA) holding as many idle
# mutual-TLS connections, and what the controller costs per agent over it.
# Usage: scripts/bench-scale.sh [AGENTS] [PER_PROCESS] [HEARTBEAT] [SECONDS]
# The controller accepts agents' connections up to its descriptor limit less a reserve
# (here 20,000 - 2,000: `max_connections`); more wait in the accept queue, and the
# script waits for all of them: 18,000 is the most this box's controller takes.
set -euo pipefail
cd "$(dirname "$0")/.."
agents=${1:-2000}
per=${2:-1000}
heartbeat=${3:-10}
seconds=${4:-30}
swift build -c release --product tern-controller >/dev/null
swift build -c release --product tern-sim >/dev/null
swift build -c release --product tern-idle-baseline >/dev/null
bin=$(swift build -c release --show-bin-path)
work=$(mktemp -d -t tern-scale.XXXXXX)
pids=()
trap 'for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$work"' EXIT
ulimit -n 65536 2>/dev/null || true
source scripts/lib/bench-site.sh
cpu() { python3 -c "import os; f=open('/proc/$1/stat').read().rsplit(')',1)[1].split(); print((int(f[11])+int(f[12]))/os.sysconf('SC_CLK_TCK'))"; }
rss_kib() { awk '/^VmRSS/ {print $2}' "/proc/$1/status"; }
commits() { curl -s "$(cat "$bench_data/api-address")/metrics" | awk '/^tern_store_commits_total/ {print $2}' | tail -1; }
connected() { local total=0; for f in "$work"/sim-*.out; do n=$(grep -o 'connected [0-9]*' "$f" | tail -1 | awk '{print $2}'); total=$((total + ${n:-0})); done; echo $total; }

bench_controller 17900 --log-level warning --heartbeat-interval "$heartbeat"
controller=${pids[-1]}
sleep 3
c0=$(cpu $controller); w0=$(commits); sleep 10; c1=$(cpu $controller); w1=$(commits)
idle_cpu=$(python3 -c "print(f'{($c1-$c0)/10*100:.2f}')")
idle_rss=$(rss_kib $controller)
echo "controller with no agent: CPU ${idle_cpu}% of a core, ${w0:+$(python3 -c "print(f'{($w1-$w0)/10:.1f}')") commits/s,} RSS $((idle_rss / 1024)) MiB"

start=$(bench_now)
for first in $(seq 0 "$per" $((agents - 1))); do
    "$bin/tern-sim" --data "$bench_data" --count "$per" --first "$first" --state "$work/sim" > "$work/sim-$first.out" 2>&1 &
    pids+=($!)
done
until grep -q "agents ready" "$work"/sim-*.out 2>/dev/null && [ "$(grep -l 'agents ready' "$work"/sim-*.out | wc -l)" -ge $((agents / per)) ]; do sleep 1; done
echo "enrolled $agents agents through the enrolment port in $(bench_since "$start") s"
until [ "$(connected)" -ge "$agents" ]; do sleep 1; done
echo "all $agents connected $(bench_since "$start") s after the simulators started"
sleep "$heartbeat"
c0=$(cpu $controller); w0=$(commits); sleep "$seconds"; c1=$(cpu $controller); w1=$(commits)
rss=$(rss_kib $controller)
per_agent=$(( (rss - idle_rss) / agents ))
echo "steady state over $seconds s: controller CPU $(python3 -c "print(f'{($c1-$c0)/$seconds*100:.2f}')")% of a core (no agent: ${idle_cpu}%), ${w0:+$(python3 -c "print(f'{($w1-$w0)/$seconds:.1f}')") store commits/s,} RSS $((rss / 1024)) MiB = ${per_agent} KiB per agent over the idle controller"
for f in "$work"/sim-*.out; do grep '^t=' "$f" | tail -1; done | sed 's/^/  tern-sim: /'
python3 scripts/lib/sim-rtt.py "$seconds" "$work"/sim-*.out

# A restart: every agent comes back through its backoff; none may be marked offline.
offline_before=$("$bin/tern-controller" event list --data "$bench_data" --limit 100000 --json | python3 -c "import json,sys; print(sum(1 for e in json.load(sys.stdin) if e['kind']=='offline'))")
kill -TERM "$controller"; wait "$controller" 2>/dev/null || true
start=$(bench_now)
bench_controller 17900 --log-level warning --heartbeat-interval "$heartbeat"
controller=${pids[-1]}
sleep 2
until [ "$(connected)" -ge "$agents" ] && [ "$(grep -h '^t=' "$work"/sim-*.out | tail -$((agents / per)) | grep -c "connected $per/$per")" -ge $((agents / per)) ]; do sleep 1; done
echo "after a controller restart all $agents agents were back in $(bench_since "$start") s"
sleep 5
offline_after=$("$bin/tern-controller" event list --data "$bench_data" --limit 100000 --json | python3 -c "import json,sys; print(sum(1 for e in json.load(sys.stdin) if e['kind']=='offline'))")
echo "subclouds marked offline during the restart: $((offline_after - offline_before))"

# The floor: the same number of idle mutual-TLS connections held by a bare NIOSSL server.
"$bin/tern-idle-baseline" serve "$bench_data/pki" 127.0.0.1 17960 > "$work/floor.out" 2>&1 &
floor=$!; pids+=($floor)
until grep -q serving "$work/floor.out" 2>/dev/null; do sleep 0.2; done
sleep 1
floor_idle=$(rss_kib $floor)
identity=
for d in "$work"/sim/*/; do [ -f "$d/identity.pem" ] && { identity=$d; break; }; done
for first in $(seq 0 "$per" $((agents - 1))); do
    "$bin/tern-idle-baseline" hold "$identity" 127.0.0.1 17960 "$per" > "$work/hold-$first.out" 2>&1 &
    pids+=($!)
done
until [ "$(cat "$work"/hold-*.out 2>/dev/null | grep -c held)" -ge $((agents / per)) ]; do sleep 1; done
sleep 5
floor_rss=$(rss_kib $floor)
floor_per=$(( (floor_rss - floor_idle) / agents ))
echo "bare NIOSSL server holding $(cat "$work"/hold-*.out | awk '/held/ {n += $2} END {print n}') connections: RSS $((floor_idle / 1024)) MiB idle, $((floor_rss / 1024)) MiB held = ${floor_per} KiB per connection"
echo "Tern per agent over the bare NIOSSL server: $((per_agent - floor_per)) KiB (controller ${per_agent} KiB / floor ${floor_per} KiB = $(python3 -c "print(f'{$per_agent/max($floor_per,1):.2f}')")x)"
