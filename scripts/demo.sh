#!/usr/bin/env bash
# The main job: a controller on its embedded SQLite store and three local agents
# that enrol with one-time tokens and report over mutual TLS. Prints the API URL
# and `subcloud list`, then keeps running until Ctrl-C (or TERN_DEMO_SECONDS).
#   --zero-touch   also install a fourth site with nobody on it: a Redfish BMC
#                  emulator (sushy-tools) is told to boot the site's boot image;
#                  the node is that very ISO booted in qemu (--qemu, ~1 min) or, by
#                  default, an agent started from the seed taken out of it.
set -euo pipefail
cd "$(dirname "$0")/.."
zero_touch=""; qemu=""
for argument in "$@"; do
    case "$argument" in
    --zero-touch) zero_touch=1 ;;
    --qemu) zero_touch=1; qemu=1 ;;
    *) echo "usage: scripts/demo.sh [--zero-touch [--qemu]]" >&2; exit 64 ;;
    esac
done

scripts/install-deps.sh
echo "== building"
swift build --product tern-controller
swift build --product tern-agent
bin=$(swift build --show-bin-path)
[ -n "$zero_touch" ] && scripts/build-boot-agent.sh
# A qemu guest reaches the host's loopback as 10.0.2.2; a local agent as 127.0.0.1.
install_address=127.0.0.1; [ -n "$qemu" ] && install_address=10.0.2.2

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
    --api-listen "127.0.0.1:$((base + 33))" --heartbeat-interval 5 \
    --server-name localhost --server-name 10.0.2.2 --install-address "$install_address" \
    --boot-agent .build/boot/tern-agent --boot-cache .build/boot/kit-cache 2> "$work/controller.log" &
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

if [ -n "$zero_touch" ]; then
    echo "== zero-touch install of edge-07 through a Redfish BMC emulator"
    source scripts/lib/bmc-emulator.sh
    bmc_start "$work/bmc" $((base + 34)) demo-bmc edge-07
    printf 'config:\n  files: [{path: /etc/site/role.conf, content: "role=edge"}]\nboot: {console: "ttyS0,115200"}\n' > "$work/install.yaml"
    "$bin/tern-controller" subcloud add edge-07 --data "$data" --bmc-address "$bmc_address" --bmc-username root \
        --bmc-password-file "$bmc_password_file" --install-values "$work/install.yaml" --install
    # The node: whatever the BMC was told to boot (power on + CD inserted).
    if ! image=$(bmc_booted_image "$work/bmc"); then
        echo "the BMC was never told to boot an image:" >&2
        "$bin/tern-controller" subcloud show edge-07 --data "$data" >&2
        exit 1
    fi
    echo "boot image: $(du -h "$image" | cut -f1) ($image)"
    if [ -n "$qemu" ]; then
        qemu_boot "$image" "$work/edge-07-console.log"
    else
        seed=$(bmc_seed "$image" "$work/edge-07-seed")
        "$bin/tern-agent" run --seed "$seed" --state "$work/edge-07" --no-fwupd --config-root "$work/edge-07/root" 2> "$work/edge-07.log" &
        pids+=($!)
    fi
    "$bin/tern-controller" subcloud show edge-07 --watch --data "$data" || true
fi

viewer=$("$bin/tern-controller" token create --viewer --name demo --data "$data" 2>/dev/null)
echo
echo "Dashboard: $(cat "$data/api-address")/  (sign in with the operator token in $data/api-token, or the read-only viewer token $viewer)"
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
