#!/usr/bin/env bash
# Container layers on the wire: the same image content as a gzip layer (as umoci
# writes it) and as a plain tar layer, each deployed to its own fresh site. Tern
# compresses each 1 MiB block with zlib unless that does not shrink it, so the
# plain layer should shrink and the gzip layer go raw. Prints blob bytes against
# bytes received by each agent (TLS included), counted by a TCP proxy.
# usage: scripts/bench-layers.sh [CONTENT_MIB]
set -euo pipefail
cd "$(dirname "$0")/.."
size=${1:-32}
scripts/install-deps.sh >/dev/null
swift build -c release --product tern-controller >/dev/null
swift build -c release --product tern-agent >/dev/null
bin=$(swift build -c release --show-bin-path)
work=$(mktemp -d -t tern-bench-layers.XXXXXX)
pids=()
cleanup() { for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT INT TERM
source scripts/lib/bench-site.sh

# An application image: config files, scripts and logs (text), as umoci packs it (gzip).
(
    cd "$work"
    umoci init --layout app >/dev/null && umoci new --image app:gzip >/dev/null
    umoci unpack --rootless --image app:gzip bundle >/dev/null
    mkdir -p bundle/rootfs/srv/app bundle/rootfs/var/log/app
    python3 - bundle/rootfs "$size" <<'PY'
import random, sys
root, size = sys.argv[1], int(sys.argv[2]) << 20
rng = random.Random(7)
written, n = 0, 0
while written < size:
    lines = ["%s level=info svc=app-%d req=%08x path=/api/v1/items/%d status=200 ms=%d\n" % ("2026-11-29T10:%02d:%02d" % (rng.randrange(60), rng.randrange(60)), rng.randrange(8), rng.getrandbits(32), rng.randrange(10**6), rng.randrange(500)) for _ in range(20000)]
    text = "".join(lines)
    with open("%s/var/log/app/app-%03d.log" % (root, n), "w") as f:
        f.write(text)
    written += len(text)
    n += 1
PY
    umoci repack --image app:gzip bundle >/dev/null
)
python3 scripts/lib/oci-plain-layers.py "$work/app" gzip plain
skopeo inspect "oci:$work/app:plain" >/dev/null

port=$((20000 + RANDOM % 20000))
bench_controller "$port"
bench_agent site-gzip $((port + 3))
bench_agent site-plain $((port + 4))
printf '%-12s %14s %14s %16s %10s\n' "layer" "blob bytes" "received" "received / blob" "seconds"
for kind in gzip plain; do
    cli images import "oci:$work/app:$kind" >/dev/null
    blobs=$(cli images list --json | python3 -c "import json,sys; print(next(r['size'] for r in json.load(sys.stdin) if r['name'] == 'app:$kind'))")
    before=$(bench_received "site-$kind")
    start=$(bench_now)
    bench_wait "site-$kind" "$(cli images deploy "app:$kind" --subcloud "site-$kind" --json | bench_deploy_id)" activated
    seconds=$(bench_since "$start")
    received=$(( $(bench_received "site-$kind") - before ))
    skopeo inspect "oci:$work/site-$kind/images:app:$kind" >/dev/null
    printf '%-12s %14d %14d %16s %10s\n' "$kind" "$blobs" "$received" "$(python3 -c "print(f'{$received / $blobs:.3f}')")" "$seconds"
done
