#!/usr/bin/env bash
# The same OSTree commit pair delivered two ways, in one run: Tern (a static delta
# streamed over the wire protocol, applied offline) against `ostree pull` over HTTP
# from a local web server (python3 -m http.server), first object by object, then
# with the same static delta published in the repository. Bytes are counted by a
# TCP proxy between client and server; time is wall clock for the c1 → c2 update.
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
ref=tern/x86_64/os
now() { date +%s.%N; }

# Two trees: binaries (incompressible), text (compressible); v2 changes ~10 %.
mkdir -p "$work/tree1/usr/bin" "$work/tree1/usr/share"
for i in $(seq 1 $((size / 4))); do head -c 2000000 /dev/urandom > "$work/tree1/usr/bin/bin$i"; done
for i in $(seq 1 $((size / 4))); do seq $((i * 1000)) $((i * 1000 + 240000)) > "$work/tree1/usr/share/text$i"; done
cp -a "$work/tree1" "$work/tree2"
for i in $(seq 1 $((size / 40 + 1))); do head -c 2000000 /dev/urandom > "$work/tree2/usr/bin/bin$i"; seq 7 200000 > "$work/tree2/usr/share/text$i"; done
ostree init --repo="$work/central" --mode=archive
c1=$(ostree commit --repo="$work/central" --branch=$ref --subject=v1 --tree=dir="$work/tree1")
c2=$(ostree commit --repo="$work/central" --branch=$ref --subject=v2 --tree=dir="$work/tree2")
echo "tree: $(du -sm "$work/tree1" | cut -f1) MiB; commits $c1 → $c2"

# --- Tern
port=$((20000 + RANDOM % 20000))
data="$work/controller"
"$bin/tern-controller" serve --data "$data" --listen "127.0.0.1:$port" --enrol-listen "127.0.0.1:$((port + 1))" --api-listen "127.0.0.1:$((port + 2))" 2> "$work/controller.log" &
pids+=($!)
for _ in $(seq 100); do [ -s "$data/api-address" ] && break; sleep 0.1; done
python3 scripts/count-proxy.py $((port + 3)) "$port" "$work/tern.count" & pids+=($!)
added=$("$bin/tern-controller" subcloud add edge --data "$data" --json)
token=$(python3 -c 'import json,sys; print(json.load(sys.stdin)["bootstrapToken"])' <<< "$added")
fingerprint=$(python3 -c 'import json,sys; print("sha256:" + json.load(sys.stdin)["caFingerprint"])' <<< "$added")
"$bin/tern-agent" enroll --controller "127.0.0.1:$((port + 1))" --token="$token" --ca-fingerprint "$fingerprint" --state "$work/agent" 2>/dev/null
"$bin/tern-agent" run --state "$work/agent" --controller "127.0.0.1:$((port + 3))" --no-fwupd 2> "$work/agent.log" & pids+=($!)
cli() { "$bin/tern-controller" "$@" --data "$data"; }
wait_state() {  # deployment id, state
    for _ in $(seq 1200); do
        cli deployment list --subcloud edge --json | python3 -c "import json,sys; sys.exit(0 if any(d['id']==$1 and d['state']=='$2' for d in json.load(sys.stdin)) else 1)" && return 0
        sleep 0.1
    done
    echo "deployment $1 did not reach $2" >&2; exit 1
}
deploy() { cli software deploy $ref --subcloud edge --json | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["id"])'; }
ostree init --repo="$work/central-c1" --mode=archive && ostree pull-local --repo="$work/central-c1" "$work/central" "$c1" >/dev/null
ostree refs --repo="$work/central-c1" --create=$ref "$c1"
cli software import --repo "$work/central-c1" --ref $ref >/dev/null
wait_state "$(deploy)" activated
cli software import --repo "$work/central" --ref $ref >/dev/null
# Generate the delta before timing (the controller caches it per pair), as a web server would serve a published one.
before=$(cut -d' ' -f1 "$work/tern.count")
start=$(now)
wait_state "$(deploy)" activated
tern_time=$(python3 -c "print(f'{$(now) - $start:.2f}')")
tern_bytes=$(( $(cut -d' ' -f1 "$work/tern.count") - before ))
[ "$(ostree rev-parse --repo="$work/agent/ostree-repo" $ref)" = "$c2" ]

# --- ostree pull over HTTP
http_port=$((port + 10))
(cd "$work" && python3 -m http.server "$http_port" --bind 127.0.0.1 >/dev/null 2>&1) & pids+=($!)
python3 scripts/count-proxy.py $((http_port + 1)) "$http_port" "$work/http.count" & pids+=($!)
sleep 0.5
pull() {  # label, server repo dir
    local repo="$work/edge-$1"
    ostree init --repo="$repo" --mode=bare-user
    ostree remote add --repo="$repo" --no-gpg-verify origin "http://127.0.0.1:$((http_port + 1))/$2"
    ostree pull --repo="$repo" origin "$c1" >/dev/null
    local before start
    before=$(cut -d' ' -f1 "$work/http.count")
    start=$(now)
    ostree pull --repo="$repo" origin $ref >/dev/null
    echo "$(python3 -c "print(f'{$(now) - $start:.2f}')") $(( $(cut -d' ' -f1 "$work/http.count") - before ))"
}
read -r objects_time objects_bytes <<< "$(pull objects central)"
cp -a "$work/central" "$work/published"
ostree static-delta generate --repo="$work/published" --from="$c1" --to="$c2" --min-fallback-size=0 >/dev/null
ostree summary --repo="$work/published" -u >/dev/null
read -r delta_time delta_bytes <<< "$(pull delta published)"

ratio() { python3 -c "print(f'{$1 / $2:.2f}')"; }
printf '%-36s %12s %8s %14s\n' "c1 → c2 update" "bytes" "seconds" "bytes vs Tern"
printf '%-36s %12d %8s %14s\n' "Tern (static delta over Wire)" "$tern_bytes" "$tern_time" "1.00"
printf '%-36s %12d %8s %14s\n' "ostree pull, HTTP, objects" "$objects_bytes" "$objects_time" "$(ratio "$objects_bytes" "$tern_bytes")"
printf '%-36s %12d %8s %14s\n' "ostree pull, HTTP, static delta" "$delta_bytes" "$delta_time" "$(ratio "$delta_bytes" "$tern_bytes")"
