#!/usr/bin/env bash
# Compress-once evidence for BENCHMARKS.md: controller CPU seconds to deliver one
# object to 1 agent, then another object of the same size and kind to N agents
# (default 100), release builds, one run. Agents run in one `tern-bench fleet`
# process; every agent verifies the SHA-256 before it publishes the object.
# Usage: scripts/bench-fanout.sh [AGENTS] [SIZE_MIB]
set -euo pipefail
cd "$(dirname "$0")/.."
agents=${1:-100}
size=${2:-32}
swift build -c release --product tern-controller >/dev/null
swift build -c release --product tern-bench >/dev/null
bin=$(swift build -c release --show-bin-path)
work=$(mktemp -d -t tern-fanout.XXXXXX)
pids=()
trap 'for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$work"' EXIT
cpu_seconds() { awk -v hz="$(getconf CLK_TCK)" '{printf "%.2f", ($14 + $15) / hz}' "/proc/$1/stat"; }

# Two different objects of the same size and kind: log-like text that zlib shrinks.
for seed in 1 2; do
    python3 - "$work/object-$seed" "$size" "$seed" <<'PY'
import random, sys
path, size, seed = sys.argv[1], int(sys.argv[2]) << 20, int(sys.argv[3])
rng = random.Random(seed)
with open(path, "w") as f:
    written = 0
    while written < size:
        line = "2026-11-29T10:%02d:%02d edge-%03d kernel: eth0 link up, %d Mbps full duplex\n" % (rng.randrange(60), rng.randrange(60), rng.randrange(1000), rng.randrange(100000))
        f.write(line)
        written += len(line)
PY
done

"$bin/tern-controller" serve --data "$work/c" --listen 127.0.0.1:17547 --enrol-listen 127.0.0.1:17548 --api-listen 127.0.0.1:17580 \
    --heartbeat-interval 30 --log-level warning 2> "$work/controller.log" &
controller=$!; pids+=($controller)
for _ in $(seq 50); do [ -s "$work/c/api-address" ] && break; sleep 0.2; done

# The bench process reads the controller's CPU right before and after the import and
# after the delivery, so the import (hash + copy of the file) is reported apart.
"$bin/tern-bench" fleet --data "$work/c" --controller 127.0.0.1:17547 --agents 1 --hold 0 --work "$work/one" \
    --deliver "$work/object-1" --controller-pid "$controller" | grep -v READY | tee "$work/one.out"
"$bin/tern-bench" fleet --data "$work/c" --controller 127.0.0.1:17547 --agents "$agents" --hold 0 --work "$work/many" \
    --deliver "$work/object-2" --controller-pid "$controller" | grep -v READY | tee "$work/many.out"
figure() { sed -n "s/.*CONTROLLER_CPU import=\([0-9.]*\) delivery=\([0-9.]*\).*/\\$2/p" "$1"; }
import_one=$(figure "$work/one.out" 1); one=$(figure "$work/one.out" 2)
import_many=$(figure "$work/many.out" 1); many=$(figure "$work/many.out" 2)
echo "== ${size} MiB object, zlib on, controller CPU seconds (user+system); import reported apart"
echo "import (once per object):  ${import_one} s and ${import_many} s"
echo "delivery to 1 agent:       $one s"
echo "delivery to $agents agents:    $many s"
echo "ratio delivery $agents agents / 1 agent: $(python3 -c "print(f'{$many/max($one, 0.01):.1f}')")  (without compress-once it would approach $agents)"
