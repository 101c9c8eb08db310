#!/usr/bin/env bash
# Control-plane figures for BENCHMARKS.md, release builds, one run:
#  1. agent idle RSS and CPU over 60 s, against tern-idle-baseline: a plain
#     swift-nio-ssl mutual-TLS client linked with nothing else, idling on the same
#     controller with the same identity (the baseline);
#  2. controller memory per connected agent with N agents (default 1000), run by
#     `tern-bench fleet` in one process.
# Usage: scripts/bench-fleet.sh [AGENTS] [IDLE_SECONDS]
set -euo pipefail
cd "$(dirname "$0")/.."
agents=${1:-1000}
idle=${2:-60}
swift build -c release --product tern-controller >/dev/null
swift build -c release --product tern-agent >/dev/null
swift build -c release --product tern-bench >/dev/null
swift build -c release --product tern-idle-baseline >/dev/null
bin=$(swift build -c release --show-bin-path)
# TERN_AGENT_BIN measures another agent build, e.g. one linked with --static-swift-stdlib.
agent_bin=${TERN_AGENT_BIN:-$bin/tern-agent}
work=$(mktemp -d -t tern-bench.XXXXXX)
pids=()
trap 'for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$work"' EXIT

rss_kib() { awk '/^VmRSS/ {print $2}' "/proc/$1/status"; }
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
hz=$(getconf CLK_TCK)

"$bin/tern-controller" serve --data "$work/c" --listen 127.0.0.1:17447 --enrol-listen 127.0.0.1:17448 --api-listen 127.0.0.1:17480 \
    --heartbeat-interval 30 --log-level warning 2> "$work/controller.log" &
controller=$!; pids+=($controller)
for _ in $(seq 50); do [ -s "$work/c/api-address" ] && break; sleep 0.2; done

# 1. One real agent and one bare TLS client, idle side by side.
added=$("$bin/tern-controller" subcloud add idle-agent --data "$work/c" --json)
token=$(python3 -c 'import json,sys; print(json.load(sys.stdin)["bootstrapToken"])' <<< "$added")
fp=$(python3 -c 'import json,sys; print("sha256:" + json.load(sys.stdin)["caFingerprint"])' <<< "$added")
"$agent_bin" enroll --controller 127.0.0.1:17448 --token "$token" --ca-fingerprint "$fp" --state "$work/a" 2>/dev/null
"$agent_bin" run --state "$work/a" --no-fwupd --log-level warning 2> "$work/agent.log" &
agent=$!; pids+=($agent)
# The baseline links NIO and NIOSSL only: it speaks just enough of the protocol (HELLO,
# HEARTBEAT, PING ACK) by hand to be kept by the controller.
# It has an identity of its own: one connection per identity (PROTOCOL.md §5.1).
added=$("$bin/tern-controller" subcloud add idle-baseline --data "$work/c" --json)
token=$(python3 -c 'import json,sys; print(json.load(sys.stdin)["bootstrapToken"])' <<< "$added")
"$agent_bin" enroll --controller 127.0.0.1:17448 --token "$token" --ca-fingerprint "$fp" --state "$work/b" 2>/dev/null
"$bin/tern-idle-baseline" "$work/b" 127.0.0.1 17447 idle-baseline > /dev/null &
baseline=$!; pids+=($baseline)
sleep 5
a0=$(cpu_ticks $agent); b0=$(cpu_ticks $baseline)
sleep "$idle"
a1=$(cpu_ticks $agent); b1=$(cpu_ticks $baseline)
agent_rss=$(rss_kib $agent); base_rss=$(rss_kib $baseline)
echo "== agent idle over ${idle} s (heartbeat 30 s)"
echo "tern-agent run:        RSS $((agent_rss / 1024)) MiB ($agent_rss KiB), CPU $(python3 -c "print(f'{($a1-$a0)/$hz/$idle*100:.3f}')")% of one core"
echo "baseline idle mTLS:    RSS $((base_rss / 1024)) MiB ($base_rss KiB), CPU $(python3 -c "print(f'{($b1-$b0)/$hz/$idle*100:.3f}')")% of one core"
echo "ratio agent/baseline:  RSS $(python3 -c "print(f'{$agent_rss/$base_rss:.2f}')")"
# Where the memory goes: resident KiB by mapping (shared libraries by name, the heap,
# anonymous memory), largest first, for both.
rss_by_mapping() { python3 - "$1" <<'PY'
import collections, sys
rss = collections.Counter()
name = None
for line in open(f"/proc/{sys.argv[1]}/smaps"):
    parts = line.split()
    if parts and "-" in parts[0] and len(parts) >= 5 and not parts[0].endswith(":"):
        path = parts[5] if len(parts) > 5 else "[anonymous]"
        name = path.rsplit("/", 1)[-1]
    elif parts and parts[0] == "Rss:":
        rss[name] += int(parts[1])
for name, kib in rss.most_common(10):
    print(f"    {kib:8d} KiB  {name}")
PY
}
echo "tern-agent run, resident by mapping:"; rss_by_mapping $agent
echo "baseline, resident by mapping:"; rss_by_mapping $baseline
kill -TERM $agent $baseline; wait $agent $baseline 2>/dev/null || true

# 2. The controller with N agents.
sleep 2
c0=$(rss_kib $controller)
"$bin/tern-bench" fleet --data "$work/c" --controller 127.0.0.1:17447 --agents "$agents" --hold 20 --work "$work/fleet" > "$work/fleet.out" &
fleet=$!; pids+=($fleet)
for _ in $(seq 600); do grep -q READY "$work/fleet.out" 2>/dev/null && break; sleep 0.5; done
sleep 5
c1=$(rss_kib $controller)
cat "$work/fleet.out" | grep -v READY
echo "== controller with $agents connected agents"
echo "controller RSS: $((c0 / 1024)) MiB idle, $((c1 / 1024)) MiB with $agents agents"
echo "per agent: $(( (c1 - c0) * 1024 / agents )) bytes"
wait $fleet || true
