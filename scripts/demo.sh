#!/usr/bin/env bash
# The main job: a controller on its embedded SQLite store and three local agents
# that enrol with one-time tokens and report over mutual TLS. Prints the API URL
# and `subcloud list`, then keeps running until Ctrl-C (or TERN_DEMO_SECONDS).
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-deps.sh
echo "== building"
swift build --product tern-controller
swift build --product tern-agent
bin=$(swift build --show-bin-path)

work=$(mktemp -d -t tern-demo.XXXXXX)
base=${TERN_DEMO_PORT:-7447}
data="$work/controller"
pids=()
cleanup() {
    for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
    wait 2>/dev/null || true
    echo "demo state and logs left in $work"
}
trap cleanup EXIT INT TERM

"$bin/tern-controller" serve --data "$data" --listen "127.0.0.1:$base" --enrol-listen "127.0.0.1:$((base + 1))" \
    --api-listen "127.0.0.1:$((base + 33))" --heartbeat-interval 5 2> "$work/controller.log" &
pids+=($!)
for _ in $(seq 50); do [ -s "$data/api-address" ] && break; sleep 0.2; done

for name in edge-01 edge-02 edge-03; do
    added=$("$bin/tern-controller" subcloud add "$name" --data "$data" --description "demo site" --json)
    token=$(python3 -c 'import json,sys; print(json.load(sys.stdin)["bootstrapToken"])' <<< "$added")
    fingerprint=$(python3 -c 'import json,sys; print("sha256:" + json.load(sys.stdin)["caFingerprint"])' <<< "$added")
    "$bin/tern-agent" enroll --controller "127.0.0.1:$((base + 1))" --token "$token" --ca-fingerprint "$fingerprint" --state "$work/$name" 2>> "$work/agents.log"
    "$bin/tern-agent" run --state "$work/$name" --no-fwupd --config-root "$work/$name/root" 2> "$work/$name.log" &
    pids+=($!)
done
sleep 3

# A config generation for every site (written under each agent's --config-root).
printf 'Welcome to a Tern-managed site.\n' > "$work/motd"
"$bin/tern-controller" config set --all "$work/motd:/etc/motd:0644" --data "$data" > /dev/null
sleep 2

echo
echo "API:       $(cat "$data/api-address")  (token in $data/api-token; try: curl -H \"Authorization: Bearer \$(cat $data/api-token)\" $(cat "$data/api-address")/v1/subclouds)"
echo "Metrics:   $(cat "$data/api-address")/metrics"
echo "CLI:       $bin/tern-controller subcloud list --data $data"
echo
"$bin/tern-controller" subcloud list --data "$data"
echo
"$bin/tern-controller" subcloud show edge-01 --data "$data"
echo
"$bin/tern-controller" config show --data "$data"
echo
echo "logs: $work/*.log — Ctrl-C stops everything"
if [ -n "${TERN_DEMO_SECONDS:-}" ]; then
    sleep "$TERN_DEMO_SECONDS"
else
    wait "${pids[0]}"
fi
