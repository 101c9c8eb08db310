#!/usr/bin/env bash
# The same OSTree commit pair delivered two ways, in one run: Tern (a static delta
# streamed over the wire protocol, applied offline) against `ostree pull` over HTTP
# from a local web server (python3 -m http.server), first object by object, then
# with the same static delta published in the repository. Bytes are counted by a
# TCP proxy in front of each server. The controller generates the delta once, when
# the commit is imported (timed separately); each site's time runs from `software
# deploy` until its ref moved, watched every 10 ms.
# usage: scripts/bench-ostree.sh [TREE_MIB]
set -euo pipefail
cd "$(dirname "$0")/.."
size=${1:-64}
scripts/install-deps.sh >/dev/null
swift build -c release --product tern-controller >/dev/null
swift build -c release --product tern-agent >/dev/null
bin=$(swift build -c release --show-bin-path)
work=$(mktemp -d -t tern-bench-ostree.XXXXXX)
pids=()
cleanup() { for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT INT TERM
source scripts/lib/bench-site.sh
ref=tern/x86_64/os

# Two trees: binaries (incompressible), text (compressible); v2 changes ~10 %.
mkdir -p "$work/tree1/usr/bin" "$work/tree1/usr/share"
for i in $(seq 1 $((size / 4))); do head -c 2000000 /dev/urandom > "$work/tree1/usr/bin/bin$i"; done
for i in $(seq 1 $((size / 4))); do seq $((i * 1000)) $((i * 1000 + 240000)) > "$work/tree1/usr/share/text$i"; done
cp -a "$work/tree1" "$work/tree2"
for i in $(seq 1 $((size / 40 + 1))); do head -c 2000000 /dev/urandom > "$work/tree2/usr/bin/bin$i"; seq 7 200000 > "$work/tree2/usr/share/text$i"; done
ostree init --repo="$work/central" --mode=archive
c1=$(ostree commit --repo="$work/central" --branch=$ref --subject=v1 --tree=dir="$work/tree1")
c2=$(ostree commit --repo="$work/central" --branch=$ref --subject=v2 --tree=dir="$work/tree2")
ostree init --repo="$work/central-c1" --mode=archive
ostree pull-local --repo="$work/central-c1" "$work/central" "$c1" >/dev/null
ostree refs --repo="$work/central-c1" --create=$ref "$c1"
echo "tree: $(du -sm "$work/tree1" | cut -f1) MiB; commits $c1 → $c2"

# --- Tern: two sites on c1, then c2 to each in turn.
port=$((20000 + RANDOM % 20000))
bench_controller "$port"
bench_agent edge-1 $((port + 3))
bench_agent edge-2 $((port + 4))
cli software import --repo "$work/central-c1" --ref $ref >/dev/null
for site in edge-1 edge-2; do bench_wait "$site" "$(cli software deploy $ref --subcloud "$site" --json | bench_deploy_id)" activated; done
start=$(bench_now)
cli software import --repo "$work/central" --ref $ref >/dev/null
# The controller prepares the deltas the fleet needs right after the import.
until [ -s "$bench_data/deltas/$c1-$c2/objects.json" ]; do sleep 0.05; done
prepare_time=$(bench_since "$start")
tern() {  # site → "seconds bytes"
    local before start
    before=$(bench_received "$1")
    start=$(bench_now)
    cli software deploy $ref --subcloud "$1" >/dev/null
    until [ "$(ostree rev-parse --repo="$work/$1/ostree-repo" $ref 2>/dev/null)" = "$c2" ]; do sleep 0.01; done
    echo "$(bench_since "$start") $(( $(bench_received "$1") - before ))"
}
read -r first_time first_bytes <<< "$(tern edge-1)"
read -r second_time second_bytes <<< "$(tern edge-2)"
ostree fsck --repo="$work/edge-2/ostree-repo" >/dev/null 2>&1

# --- ostree pull over HTTP
http_port=$((port + 10))
(cd "$work" && exec python3 -m http.server "$http_port" --bind 127.0.0.1 >/dev/null 2>&1) & pids+=($!)
python3 scripts/count-proxy.py $((http_port + 1)) "$http_port" "$work/http.count" & pids+=($!)
sleep 0.5
pull() {  # label, server repo dir → "seconds bytes"
    local repo="$work/pull-$1" before start
    ostree init --repo="$repo" --mode=bare-user
    ostree remote add --repo="$repo" --no-gpg-verify origin "http://127.0.0.1:$((http_port + 1))/$2"
    ostree pull --repo="$repo" origin "$c1" >/dev/null
    before=$(bench_received http)
    start=$(bench_now)
    ostree pull --repo="$repo" origin $ref >/dev/null
    echo "$(bench_since "$start") $(( $(bench_received http) - before ))"
}
read -r objects_time objects_bytes <<< "$(pull objects central)"
cp -a "$work/central" "$work/published"
ostree static-delta generate --repo="$work/published" --from="$c1" --to="$c2" --min-fallback-size=0 >/dev/null 2>&1
ostree summary --repo="$work/published" -u >/dev/null
read -r delta_time delta_bytes <<< "$(pull delta published)"

ratio() { python3 -c "print(f'{$1 / $2:.2f}')"; }
printf '%-44s %12s %8s %14s\n' "c1 → c2 update" "bytes" "seconds" "bytes vs Tern"
echo "import of c2 until its delta from c1 was ready (generated once, at import): $prepare_time s"
printf '%-44s %12d %8s %14s\n' "Tern, first site" "$first_bytes" "$first_time" "1.00"
printf '%-44s %12d %8s %14s\n' "Tern, second site" "$second_bytes" "$second_time" "$(ratio "$second_bytes" "$first_bytes")"
printf '%-44s %12d %8s %14s\n' "ostree pull, HTTP, objects" "$objects_bytes" "$objects_time" "$(ratio "$objects_bytes" "$first_bytes")"
printf '%-44s %12d %8s %14s\n' "ostree pull, HTTP, static delta published" "$delta_bytes" "$delta_time" "$(ratio "$delta_bytes" "$first_bytes")"
