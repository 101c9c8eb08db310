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
identity=; for d in "$work"/sim/*/; do [ -f "$d/identity.pem" ] && { identity=$d; break; }; done
# floor PORT LABEL SETTLE [EVERY]: a bare NIOSSL server on PORT holding as many connections
# (sending 300 bytes every EVERY s when given); its RSS per connection after SETTLE s,
# before and after a trim.
floor() {
    local port=$1 label=$2 settle=$3 every=${4:-}
    "$bin/tern-idle-baseline" serve "$bench_data/pki" 127.0.0.1 "$port" > "$work/floor-$port.out" 2>&1 &
    local server=$!; pids+=($server)
    until grep -q serving "$work/floor-$port.out" 2>/dev/null; do sleep 0.2; done
    sleep 1; local i0 i1 r rt; i0=$(rss_kib $server); trim $server; sleep 1; i1=$(rss_kib $server)
    for first in $(seq 0 "$per" $((agents - 1))); do
        "$bin/tern-idle-baseline" hold "$identity" 127.0.0.1 "$port" "$per" 127.0.0.0/8 $every > "$work/hold-$port-$first.out" 2>&1 &
        pids+=($!)
    done
    until [ "$(cat "$work"/hold-"$port"-*.out 2>/dev/null | grep -c held)" -ge $((agents / per)) ]; do sleep 1; done
    sleep "$settle"
    r=$(rss_kib $server); trim $server; sleep 1; rt=$(rss_kib $server)
    echo "$label: $r KiB ($(( (r-i0)/agents )) KiB/conn); after trim $rt ($(( (rt-i1)/agents )) KiB/conn)"
}
floor 17960 "floor" 5
floor 17961 "floor with a heartbeat's traffic every $heartbeat s" 40 "$heartbeat"
