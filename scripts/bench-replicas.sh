#!/usr/bin/env bash
# Controller replicas on PostgreSQL with many agents, for BENCHMARKS.md: REPLICAS
# release `tern-controller serve --store postgres://…` processes sharing one
# throwaway PostgreSQL 15 cluster (scripts/postgres-cluster.sh) and one data
# directory, and one `tern-sim` process per replica enrolling AGENTS/REPLICAS agents
# through it (so each agent starts on its replica and knows the others). Prints the
# time to connect them all, each replica's CPU and RSS at steady state over SECONDS s
# (and PostgreSQL's CPU), keepalive RTT p50/p99 as the agents see it, then the time
# for all of them to return after every replica restarts at once, and how many were
# marked offline meanwhile.
# Usage: scripts/bench-replicas.sh [REPLICAS] [AGENTS] [HEARTBEAT] [SECONDS]
# STARTUP_GRACE=S (default 75, the controller's) is the time the agents have to return
# after a replica starts before it may mark them offline; a fleet that needs longer on
# this box's two cores needs it raised, and the figures say so.
# The container caps every process at 20,000 descriptors: a replica (and a tern-sim)
# holds at most ~19,800 agents, so 100,000 agents need six replicas here.
set -euo pipefail
cd "$(dirname "$0")/.."
replicas=${1:-2}
agents=${2:-2000}
heartbeat=${3:-10}
seconds=${4:-30}
startup_grace=${STARTUP_GRACE:-75}
per=$((agents / replicas))
swift build -c release --product tern-controller >/dev/null
swift build -c release --product tern-sim >/dev/null
bin=$(swift build -c release --show-bin-path)
work=$(mktemp -d -t tern-replicas.XXXXXX)
# Its own directory: as root the cluster runs as `postgres`, which cannot enter $work (0700).
pg=$(mktemp -d /tmp/tern-pg.XXXXXX)
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    scripts/postgres-cluster.sh stop "$pg" || true
    # KEEP=1 (or a replica that died) keeps the logs, cores and database for a look.
    if [ -n "${KEEP:-}" ]; then echo "kept $work and $pg"; else rm -rf "$work" "$pg"; fi
}
trap cleanup EXIT
ulimit -n 65536 2>/dev/null || true
now() { date +%s.%N; }
since() { python3 -c "print(f'{$(now) - $1:.1f}')"; }
cpu() { python3 -c "import os; f=open('/proc/$1/stat').read().rsplit(')',1)[1].split(); print((int(f[11])+int(f[12]))/os.sysconf('SC_CLK_TCK'))"; }
pg_cpu() { python3 -c "
import os
total = 0
for pid in os.listdir('/proc'):
    if not pid.isdigit(): continue
    try:
        if open(f'/proc/{pid}/comm').read().strip() != 'postgres': continue
        f = open(f'/proc/{pid}/stat').read().rsplit(')', 1)[1].split()
        total += int(f[11]) + int(f[12])
    except OSError: pass
print(total / os.sysconf('SC_CLK_TCK'))"; }
rss_kib() { awk '/^VmRSS/ {print $2}' "/proc/$1/status"; }
connected() { local total=0; for f in "$work"/sim-*.out; do n=$(grep -o 'connected [0-9]*' "$f" | tail -1 | awk '{print $2}'); total=$((total + ${n:-0})); done; echo $total; }
offline_events() { "$bin/tern-controller" event list --api "http://127.0.0.1:18002" --token "$(cat "$work/controller/api-token")" --limit 1000000 --json \
    | python3 -c "import json,sys; print(sum(1 for e in json.load(sys.stdin) if e['kind']=='offline'))"; }

store=$(scripts/postgres-cluster.sh start "$pg")
echo "PostgreSQL at $store"
replica_pids=()
sim_pids=()
launch_replica() {
    local i=$1 port=$((18000 + 10 * $1))
    # A replica that traps leaves a core in its own directory (the backtracer could not
    # read a replica's crash under this load): gdb "$bin/tern-controller" $work/replica-$i/core.
    mkdir -p "$work/replica-$i"
    (cd "$work/replica-$i" && ulimit -c unlimited && SWIFT_BACKTRACE=enable=no exec "$bin/tern-controller" serve --data "$work/controller" --store "$store" --listen "127.0.0.1:$port" --enrol-listen "127.0.0.1:$((port + 1))" \
        --api-listen "127.0.0.1:$((port + 2))" --heartbeat-interval "$heartbeat" --startup-grace "$startup_grace" --log-level notice 2>> "$work/replica-$i.log") &
    pids+=($!); replica_pids[$i]=$!
}
await_replica() {
    local port=$((18002 + 10 * $1))
    until curl -sf "http://127.0.0.1:$port/healthz" >/dev/null 2>&1; do
        kill -0 "${replica_pids[$1]}" 2>/dev/null || { echo "replica $1 exited:"; tail -20 "$work/replica-$1.log"; exit 1; }
        sleep 0.2
    done
}
# A replica that died ends the run, with its log's tail and whether it left a core.
replicas_alive() {
    for i in "${!replica_pids[@]}"; do
        kill -0 "${replica_pids[$i]}" 2>/dev/null && continue
        echo "replica $i died at $(date -u +%T):"; tail -5 "$work/replica-$i.log"; ls "$work/replica-$i"
        KEEP=1; exit 1
    done
}
# The first replica migrates a new database and makes the CA alone; the others follow.
launch_replica 0; await_replica 0
for i in $(seq 1 $((replicas - 1))); do launch_replica "$i"; done
for i in $(seq 1 $((replicas - 1))); do await_replica "$i"; done
sleep 6   # every replica announces itself, so enrolment names them all
token=$(cat "$work/controller/api-token")

start=$(now)
for i in $(seq 0 $((replicas - 1))); do
    "$bin/tern-sim" --api "http://127.0.0.1:$((18002 + 10 * i))" --token "$token" --count "$per" --first $((i * per)) --state "$work/sim" \
        > "$work/sim-$i.out" 2>&1 &
    pids+=($!); sim_pids[$i]=$!
done
until [ "$(grep -l 'agents ready' "$work"/sim-*.out 2>/dev/null | wc -l)" -ge "$replicas" ]; do replicas_alive; sleep 1; done
echo "enrolled $agents agents through $replicas replicas in $(since "$start") s"
until [ "$(connected)" -ge "$agents" ]; do replicas_alive; sleep 1; done
echo "all $agents connected $(since "$start") s after the simulators started"
sleep "$heartbeat"
declare -A c0
declare -A s0
for i in $(seq 0 $((replicas - 1))); do c0[$i]=$(cpu "${replica_pids[$i]}"); s0[$i]=$(cpu "${sim_pids[$i]}"); done
p0=$(pg_cpu)
sleep "$seconds"
for i in $(seq 0 $((replicas - 1))); do
    pid=${replica_pids[$i]}
    echo "replica $i: CPU $(python3 -c "print(f'{($(cpu "$pid") - ${c0[$i]}) / $seconds * 100:.1f}')")% of a core, RSS $(( $(rss_kib "$pid") / 1024 )) MiB"
done
for i in $(seq 0 $((replicas - 1))); do
    pid=${sim_pids[$i]}
    echo "tern-sim $i ($per agents): CPU $(python3 -c "print(f'{($(cpu "$pid") - ${s0[$i]}) / $seconds * 100:.1f}')")% of a core, RSS $(( $(rss_kib "$pid") / 1024 )) MiB"
done
echo "PostgreSQL: CPU $(python3 -c "print(f'{($(pg_cpu) - $p0) / $seconds * 100:.1f}')")% of a core"
for f in "$work"/sim-*.out; do grep '^t=' "$f" | tail -1; done | sed 's/^/  tern-sim: /'
python3 scripts/lib/sim-rtt.py "$seconds" "$work"/sim-*.out

# Every replica restarts at once: every agent comes back; none may be marked offline.
before=$(offline_events)
for i in $(seq 0 $((replicas - 1))); do kill -TERM "${replica_pids[$i]}"; done
for i in $(seq 0 $((replicas - 1))); do wait "${replica_pids[$i]}" 2>/dev/null || true; done
start=$(now)
for i in $(seq 0 $((replicas - 1))); do launch_replica "$i"; done
for i in $(seq 0 $((replicas - 1))); do await_replica "$i"; done
echo "all $replicas replicas answer again $(since "$start") s after the restart"
# Each simulator's own latest line says how many of its agents are connected.
all_back() {
    for f in "$work"/sim-*.out; do grep '^t=' "$f" | tail -1 | grep -q "connected $per/$per" || return 1; done
}
sleep 2
deadline=$(( $(date +%s) + 1800 ))
until all_back; do
    replicas_alive
    if [ "$(date +%s)" -gt "$deadline" ]; then
        echo "not all back 30 minutes after the restart: $(connected) of $agents connected"; exit 1
    fi
    sleep 1
done
echo "after all $replicas replicas restarted, all $agents agents were back in $(since "$start") s"
sleep 5
echo "subclouds marked offline during the restart: $(( $(offline_events) - before ))"
