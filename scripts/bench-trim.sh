#!/usr/bin/env bash
# How much of the controller's memory per agent is free heap that glibc keeps
# resident, for BENCHMARKS.md: AGENTS simulated agents (tern-sim, 1,000 per process)
# on a release controller, heartbeat 10 s; its RSS per agent at steady state, right
# after `malloc_trim(0)` (called in the running process through gdb), and 30 s later;
# then the same for the bare NIOSSL server (`tern-idle-baseline`) holding as many
# idle mutual-TLS connections, and for one whose clients send what a heartbeat
# weighs every 10 s (300 bytes; it answers 17): how much of what the controller holds
# over the idle floor any TLS traffic would cost.
# Needs gdb (apt install gdb) and ptrace (root here).
# Usage: scripts/bench-trim.sh [AGENTS]
cd "$(dirname "$0")/.."
agents=${1:-2000}; per=1000; heartbeat=10
for product in tern-controller tern-sim tern-idle-baseline; do swift build -c release --product "$product" >/dev/null; done
bin=$(swift build -c release --show-bin-path)
work=$(mktemp -d -t tern-trim.XXXXXX)
pids=()
trap 'for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$work"' EXIT
ulimit -n 65536 2>/dev/null || true
source scripts/lib/bench-site.sh
rss_kib() { awk '/^VmRSS/ {print $2}' "/proc/$1/status"; }
trim() { gdb -p "$1" -batch -ex 'call (int)malloc_trim(0)' >/dev/null 2>&1; }
connected() { local total=0; for f in "$work"/sim-*.out; do n=$(grep -o 'connected [0-9]*' "$f" | tail -1 | awk '{print $2}'); total=$((total + ${n:-0})); done; echo $total; }
bench_controller 17900 --log-level warning --heartbeat-interval "$heartbeat"
controller=${pids[-1]}
sleep 3; idle=$(rss_kib $controller); trim $controller; sleep 1; idle_t=$(rss_kib $controller)
echo "controller idle $idle KiB, after trim $idle_t"
for first in $(seq 0 "$per" $((agents - 1))); do
    "$bin/tern-sim" --data "$bench_data" --count "$per" --first "$first" --state "$work/sim" > "$work/sim-$first.out" 2>&1 &
    pids+=($!)
done
until [ "$(connected)" -ge "$agents" ]; do sleep 1; done
sleep 40
r=$(rss_kib $controller); trim $controller; sleep 1; rt=$(rss_kib $controller)
echo "controller $agents agents: $r KiB ($(( (r-idle)/agents )) KiB/agent); after trim $rt ($(( (rt-idle_t)/agents )) KiB/agent)"
sleep 30; r2=$(rss_kib $controller); echo "30 s after trim: $r2 ($(( (r2-idle_t)/agents )) KiB/agent)"
"$bin/tern-idle-baseline" serve "$bench_data/pki" 127.0.0.1 17960 > "$work/floor.out" 2>&1 &
floor=$!; pids+=($floor)
until grep -q serving "$work/floor.out" 2>/dev/null; do sleep 0.2; done
sleep 1; fi0=$(rss_kib $floor); trim $floor; sleep 1; fi1=$(rss_kib $floor)
identity=; for d in "$work"/sim/*/; do [ -f "$d/identity.pem" ] && { identity=$d; break; }; done
for first in $(seq 0 "$per" $((agents - 1))); do
    "$bin/tern-idle-baseline" hold "$identity" 127.0.0.1 17960 "$per" > "$work/hold-$first.out" 2>&1 &
    pids+=($!)
done
until [ "$(cat "$work"/hold-*.out 2>/dev/null | grep -c held)" -ge $((agents / per)) ]; do sleep 1; done
sleep 5
f=$(rss_kib $floor); trim $floor; sleep 1; ft=$(rss_kib $floor)
echo "floor: $f KiB ($(( (f-fi0)/agents )) KiB/conn); after trim $ft ($(( (ft-fi1)/agents )) KiB/conn)"
"$bin/tern-idle-baseline" serve "$bench_data/pki" 127.0.0.1 17961 > "$work/busy.out" 2>&1 &
busy=$!; pids+=($busy)
until grep -q serving "$work/busy.out" 2>/dev/null; do sleep 0.2; done
sleep 1; bi0=$(rss_kib $busy); trim $busy; sleep 1; bi1=$(rss_kib $busy)
for first in $(seq 0 "$per" $((agents - 1))); do
    "$bin/tern-idle-baseline" hold "$identity" 127.0.0.1 17961 "$per" 127.0.0.0/8 "$heartbeat" > "$work/busy-$first.out" 2>&1 &
    pids+=($!)
done
until [ "$(cat "$work"/busy-*.out 2>/dev/null | grep -c held)" -ge $((agents / per)) ]; do sleep 1; done
sleep 40
b=$(rss_kib $busy); trim $busy; sleep 1; bt=$(rss_kib $busy)
echo "floor with a heartbeat's traffic every $heartbeat s: $b KiB ($(( (b-bi0)/agents )) KiB/conn); after trim $bt ($(( (bt-bi1)/agents )) KiB/conn)"
