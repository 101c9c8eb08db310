#!/usr/bin/env bash
# False offline alarms after a controller outage, and how fast a dead site is
# noticed, with the shipped release binaries and the demo's settings (heartbeat
# 5 s, 3 missed; agents with the default 60 s reconnect cap):
#  1. N agents (default 50) online; kill -9 the controller; keep it down for each
#     of the OUTAGES (default "30 90") seconds; start it again; wait until every
#     agent is back (or 150 s); count `offline` events after the restart.
#  2. kill -9 one agent; time until its offline alarm (defaults: heartbeat 30 s x 3).
# usage: scripts/bench-outage.sh [AGENTS] [OUTAGES...]
set -euo pipefail
cd "$(dirname "$0")/.."
agents=${1:-50}
shift || true
outages=("${@:-30 90}")
read -r -a outages <<< "${outages[*]}"
swift build -c release --product tern-controller >/dev/null
swift build -c release --product tern-agent >/dev/null
bin=$(swift build -c release --show-bin-path)
work=$(mktemp -d -t tern-outage.XXXXXX)
pids=()
cleanup() { for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT INT TERM
source scripts/lib/bench-site.sh
port=$((20000 + RANDOM % 20000))

serve() {  # serve HEARTBEAT MISSED
    "$bin/tern-controller" serve --data "$work/controller" --listen "127.0.0.1:$port" --enrol-listen "127.0.0.1:$((port + 1))" \
        --api-listen "127.0.0.1:$((port + 2))" --heartbeat-interval "$1" --missed-heartbeats "$2" --log-level warning 2>> "$work/controller.log" &
    controller=$!
    pids+=($controller)
    bench_port=$port; bench_data="$work/controller"
    for _ in $(seq 100); do [ -s "$bench_data/api-address" ] && break; sleep 0.1; done
    for _ in $(seq 100); do cli subcloud list --json >/dev/null 2>&1 && return 0; sleep 0.1; done
}
online() { cli subcloud list --json | python3 -c 'import json,sys; print(sum(1 for s in json.load(sys.stdin) if s["availability"] == "online"))'; }
# Subclouds heard from since the epoch $1 (a reconnected agent reports at once): the
# registry still says "online" for everyone right after a crash, so that says nothing.
back_since() {
    cli subcloud list --json | python3 -c '
import json, sys
from datetime import datetime
since = float(sys.argv[1])
print(sum(1 for s in json.load(sys.stdin) if s.get("lastSeenAt") and datetime.fromisoformat(s["lastSeenAt"].replace("Z", "+00:00")).timestamp() >= since))' "$1"
}
wait_back() {  # wait_back EPOCH: until every agent was heard from since EPOCH (or 150 s)
    for _ in $(seq 300); do [ "$(back_since "$1")" -ge "$agents" ] && return 0; sleep 0.5; done
}
offline_events_since() { cli event list --since "$1" --json | python3 -c 'import json,sys; print(sum(1 for e in json.load(sys.stdin) if e["kind"] == "offline"))'; }

serve 5 3
for i in $(seq -f "%03g" 1 "$agents"); do bench_agent "edge-$i" direct --log-level warning; done
echo "== $agents agents online: $(online)"
for outage in "${outages[@]}"; do
    kill -9 "$controller"; wait "$controller" 2>/dev/null || true
    sleep "$outage"
    restarted=$(date -u +%Y-%m-%dT%H:%M:%SZ)
    start=$(bench_now)
    serve 5 3
    wait_back "$start"
    back=$(bench_since "$start")
    # Past the startup grace (75 s), when a subcloud not back would be declared offline.
    while [ "$(python3 -c "print(int($(bench_now) - $start))")" -lt 85 ]; do sleep 1; done
    echo "outage ${outage} s (heartbeat 5 s x 3, agents' reconnect cap 60 s): $(back_since "$start")/$agents back, the last ${back} s after the restart; false offline events in the 85 s after it: $(offline_events_since "$restarted")"
done

# 2. Defaults: heartbeat 30 s x 3; disconnect grace 10 s.
kill -TERM "$controller"; wait "$controller" 2>/dev/null || true
start=$(bench_now)
serve 30 3
wait_back "$start"
victim=$(pgrep -f "tern-agent run --state $work/edge-001 " | head -1)
kill -9 "$victim"
start=$(bench_now)
for _ in $(seq 600); do
    cli alarm list --subcloud edge-001 --json | python3 -c 'import json,sys; sys.exit(0 if any(a["alarmID"] == "280.001" for a in json.load(sys.stdin)) else 1)' && break
    sleep 0.2
done
echo "kill -9 of an agent, heartbeat 30 s x 3: offline alarm after $(bench_since "$start") s"
