#!/usr/bin/env bash
# Zero-touch install, measured in one run against real parts: sushy-tools as each
# site's BMC, the controller's real boot image, qemu (TCG) as the node.
#   1. The boot image: size; build time with a cold kit cache and with a warm one.
#   2. A qemu machine installed from `subcloud add --install` to complete (config and
#      an OCI image), per deploy status as the controller recorded it. Baseline: the
#      same machine from power-on to the agent's first line on the console (firmware,
#      kernel, initramfs: the boot Tern cannot shorten), taken from the same run.
#   3. Bytes a site receives over the wire protocol (TLS included, counted by a TCP
#      proxy) for an install with an OSTree commit, an OCI image and config: a fresh
#      node against a prestaged one (commit and image already on its disk). These nodes
#      are local agents started from the seed inside their boot image.
# usage: scripts/bench-install.sh [TREE_MIB]    (--no-qemu: skip part 2)
set -euo pipefail
cd "$(dirname "$0")/.."
size=64; with_qemu=1
for arg in "$@"; do case "$arg" in --no-qemu) with_qemu="" ;; *) size=$arg ;; esac; done
scripts/install-deps.sh >/dev/null
swift build -c release --product tern-controller >/dev/null
swift build -c release --product tern-agent >/dev/null
[ -x .build/boot/tern-agent ] || scripts/build-boot-agent.sh >/dev/null
bin=$(swift build -c release --show-bin-path)
work=$(mktemp -d -t tern-bench-install.XXXXXX)
pids=()
cleanup() { for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT INT TERM
source scripts/lib/bench-site.sh
source scripts/lib/bmc-emulator.sh
ref=tern/x86_64/os

# Content: an OSTree commit (half binaries, half text) and an application image.
mkdir -p "$work/tree/usr/bin" "$work/tree/usr/share"
for i in $(seq 1 $((size / 4))); do head -c 2000000 /dev/urandom > "$work/tree/usr/bin/bin$i"; done
for i in $(seq 1 $((size / 4))); do seq $((i * 1000)) $((i * 1000 + 240000)) > "$work/tree/usr/share/text$i"; done
ostree init --repo="$work/central" --mode=archive
commit=$(ostree commit --repo="$work/central" --branch=$ref --subject=v1 --tree=dir="$work/tree")
(
    cd "$work"
    umoci init --layout app >/dev/null && umoci new --image app:v1 >/dev/null
    umoci unpack --rootless --image app:v1 bundle >/dev/null
    mkdir -p bundle/rootfs/srv/app && head -c 4000000 /dev/urandom > bundle/rootfs/srv/app/blob && seq 1 400000 > bundle/rootfs/srv/app/table
    umoci repack --image app:v1 bundle >/dev/null
)

port=$((20000 + RANDOM % 20000))
bench_controller "$port" --boot-agent .build/boot/tern-agent --boot-cache "$work/kit" \
    --server-name localhost --server-name 10.0.2.2 --install-address 10.0.2.2
cli software import --repo "$work/central" --ref $ref >/dev/null
cli images import "oci:$work/app:v1" >/dev/null
content_bytes=$(( $(du -sb "$work/central/objects" | cut -f1) + $(du -sb "$work/app/blobs" | cut -f1) ))
api="$(cat "$bench_data/api-address")"
bearer="Authorization: Bearer $(cat "$bench_data/api-token")"
install_json() { curl -sf -H "$bearer" "$api/v1/subclouds/$1/install"; }
# phase_seconds SITE: "status seconds" per phase the controller recorded.
phase_seconds() {
    install_json "$1" | python3 -c '
import json, sys
from datetime import datetime
parse = lambda s: datetime.fromisoformat(s.replace("Z", "+00:00"))
for p in json.load(sys.stdin)["phases"]:
    if p.get("endedAt"): print(p["status"], "%.2f" % (parse(p["endedAt"]) - parse(p["startedAt"])).total_seconds())'
}
image_built() { install_json "$1" | python3 -c 'import json,sys; i=json.load(sys.stdin)["image"]; print(i["size"], "%.2f" % i["seconds"], i["kitCached"])'; }
# install_site SITE BMC_PORT VALUES [add options]: subcloud add --install through a BMC of its own;
# sets booted to the image the BMC booted.
install_site() {
    local site=$1 bmc_port=$2 values=$3
    shift 3
    bmc_start "$work/bmc-$site" "$bmc_port" "pw-$site" "$site"
    cli subcloud add "$site" --bmc-address "$bmc_address" --bmc-username root --bmc-password-file "$bmc_password_file" \
        --install-values "$values" --install "$@" >/dev/null
    booted=$(bmc_booted_image "$work/bmc-$site")
}
wait_complete() {
    for _ in $(seq 6000); do
        case "$(cli subcloud show "$1" --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["deployStatus"])')" in
            complete) return 0 ;;
            install-failed|deploy-failed) cli subcloud show "$1" >&2; exit 1 ;;
        esac
        sleep 0.1
    done
    echo "$1 did not complete" >&2; exit 1
}
# local_node SITE IMAGE PROXY_PORT: the node as a local agent from IMAGE's seed, behind a counting proxy.
local_node() {
    local seed
    seed=$(bmc_seed "$2" "$work/seed-$1")
    python3 - "$seed" "$((port + 1))" <<'PY'
import json, sys
seed = json.load(open(sys.argv[1]))
seed["controller"] = "127.0.0.1:" + sys.argv[2]   # the image says 10.0.2.2 (qemu's name for the host)
json.dump(seed, open(sys.argv[1], "w"))
PY
    python3 scripts/count-proxy.py "$3" "$port" "$work/$1.count" & pids+=($!)
    mkdir -p "$work/$1/root"
    "$bin/tern-agent" run --seed "$seed" --state "$work/$1" --controller "127.0.0.1:$3" --no-fwupd --config-root "$work/$1/root" 2> "$work/$1.log" &
    pids+=($!)
}

echo "content: OSTree commit ${size} MiB tree ($commit), app image; $((content_bytes / 1024)) KiB of objects and blobs"
echo
echo "== 1. boot image"
printf 'software: {name: %s}\nimages: [{name: "app:v1"}]\nconfig:\n  files: [{path: /etc/site/role.conf, content: "role=edge"}]\nboot: {console: "ttyS0,115200"}\n' $ref > "$work/full.yaml"
printf 'prestaged: true\n' | cat "$work/full.yaml" - > "$work/prestaged.yaml"
printf 'images: [{name: "app:v1"}]\nconfig:\n  files: [{path: /etc/site/role.conf, content: "role=edge"}]\nboot: {console: "ttyS0,115200"}\nboot_timeout_seconds: 600\n' > "$work/vm.yaml"
install_site edge-fresh $((port + 10)) "$work/full.yaml"; image_fresh=$booted
read -r bytes cold_seconds cached <<< "$(image_built edge-fresh)"
[ "$cached" = False ] || { echo "expected a cold kit cache" >&2; exit 1; }
install_site edge-pre $((port + 11)) "$work/prestaged.yaml"; image_pre=$booted
read -r _ warm_seconds _ <<< "$(image_built edge-pre)"
printf '%-34s %12s\n' "image size (bytes)" "$bytes" "kit cold: build (s)" "$cold_seconds" "kit cached: build (s)" "$warm_seconds"

echo
echo "== 3. bytes to a fresh node vs a prestaged one (local agents from their images' seeds)"
mkdir -p "$work/edge-pre"
ostree init --repo="$work/edge-pre/ostree-repo" --mode=bare-user
ostree pull-local --repo="$work/edge-pre/ostree-repo" "$work/central" "$commit" >/dev/null
skopeo copy --preserve-digests "oci:$work/app:v1" "oci:$work/edge-pre/images:app:v1" >/dev/null
proxy=$((port + 20))
for site in edge-fresh edge-pre; do
    image_var=image_${site#edge-}
    start=$(bench_now)
    local_node "$site" "${!image_var}" $((proxy++))
    wait_complete "$site"
    eval "${site#edge-}_seconds=$(bench_since "$start")"
    eval "${site#edge-}_bytes=$(bench_received "$site")"
done
[ "$(ostree rev-parse --repo="$work/edge-fresh/ostree-repo" $ref)" = "$commit" ] && skopeo inspect "oci:$work/edge-fresh/images:app:v1" >/dev/null
printf '%-12s %14s %12s %14s\n' node "received" "/ content" "seconds"
printf '%-12s %14d %12s %14s\n' fresh "$fresh_bytes" "$(python3 -c "print(f'{$fresh_bytes / $content_bytes:.3f}')")" "$fresh_seconds"
printf '%-12s %14d %12s %14s\n' prestaged "$pre_bytes" "$(python3 -c "print(f'{$pre_bytes / $content_bytes:.4f}')")" "$pre_seconds"
echo "prestaged / fresh: $(python3 -c "print(f'{$pre_bytes / $fresh_bytes:.4f}')")"

[ -n "$with_qemu" ] || exit 0
echo
echo "== 2. a qemu machine, subcloud add --install to complete (images and config)"
start=$(bench_now)
install_site edge-vm $((port + 12)) "$work/vm.yaml"; image_vm=$booted
qemu_start=$(bench_now)
qemu_boot "$image_vm" "$work/edge-vm-console.log"
until grep -q "tern: starting the agent" "$work/edge-vm-console.log" 2>/dev/null; do sleep 0.1; done
boot_seconds=$(bench_since "$qemu_start")
wait_complete edge-vm
total=$(bench_since "$start")
printf '%-34s %8s\n' "phase (controller's record)" seconds
phase_seconds edge-vm | while read -r status seconds; do printf '%-34s %8s\n' "$status" "$seconds"; done
printf '%-34s %8s\n' "total, add to complete" "$total" "baseline: power-on to agent start" "$boot_seconds"
echo "install / machine boot: $(python3 -c "print(f'{$total / $boot_seconds:.2f}')")×; Tern's own share: $(python3 -c "print(f'{$total - $boot_seconds:.2f}')") s"
