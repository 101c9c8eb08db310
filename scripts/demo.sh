#!/usr/bin/env bash
# The main job: a controller and two local agents on 127.0.0.1 that complete the
# mutual-TLS handshake and exchange heartbeats, logging what happens.
# Stop with Ctrl-C (or set TERN_DEMO_SECONDS to stop by itself).
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-deps.sh
echo "== building"
swift build --product tern-controller
swift build --product tern-agent
bin=$(swift build --show-bin-path)

work=$(mktemp -d -t tern-demo.XXXXXX)
port=${TERN_DEMO_PORT:-7447}
pids=()
cleanup() {
    for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
    wait 2>/dev/null || true
    echo "demo state left in $work"
}
trap cleanup EXIT INT TERM

"$bin/tern-controller" certs init --data "$work/controller"
for name in edge-01 edge-02; do
    "$bin/tern-controller" certs issue "$name" --data "$work/controller" --out "$work/$name"
done

"$bin/tern-controller" serve --data "$work/controller" --listen "127.0.0.1:$port" --heartbeat-interval 2 --log-level debug &
pids+=($!)
sleep 1
for name in edge-01 edge-02; do
    "$bin/tern-agent" run --controller "127.0.0.1:$port" --state "$work/$name" &
    pids+=($!)
done

echo "controller on 127.0.0.1:$port (mutual TLS 1.3, ALPN tern/1); agents edge-01 and edge-02 heartbeat every 2 s"
if [ -n "${TERN_DEMO_SECONDS:-}" ]; then
    sleep "$TERN_DEMO_SECONDS"
else
    wait "${pids[0]}"
fi
