#!/usr/bin/env bash
# One large object through the real processes: a firmware image of SIZE MiB
# (random, so blocks go raw) prestaged to one agent. Prints the time, the rate,
# and the peak resident memory (VmHWM) of the agent and the controller against
# their own resident memory just before the transfer, measured in the same run:
# memory must stay bounded by a few blocks, not grow with the object.
# With --tmpfs (root), the whole work directory is a tmpfs: the figure is then the
# goodput through the agent's real receive path (parser, pwrite, block records,
# SHA-256, rename) without a disk, and the baseline is raw swift-nio-ssl TLS
# goodput of the same size measured in the same run (`tern-bench --only goodput`).
# usage: scripts/bench-bigobject.sh [--tmpfs] [SIZE_MIB]
set -euo pipefail
cd "$(dirname "$0")/.."
tmpfs=0
if [ "${1:-}" = "--tmpfs" ]; then tmpfs=1; shift; fi
size=${1:-1024}
scripts/install-deps.sh >/dev/null
swift build -c release --product tern-controller >/dev/null
swift build -c release --product tern-agent >/dev/null
bin=$(swift build -c release --show-bin-path)
work=$(mktemp -d -t tern-bench-big.XXXXXX)
if [ "$tmpfs" = 1 ]; then
    mount -t tmpfs -o size=$((3 * size + 512))m tern-bench "$work"
    swift build -c release --product tern-bench >/dev/null
fi
pids=()
cleanup() {
    for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done; wait 2>/dev/null || true
    if [ "$tmpfs" = 1 ]; then umount "$work" || umount -l "$work"; fi
    rm -rf "$work"
}
trap cleanup EXIT INT TERM
source scripts/lib/bench-site.sh
kib() { awk -v key="$2:" '$1 == key { print $2 }' "/proc/$1/status"; }

head -c $((size << 20)) /dev/urandom > "$work/image.bin"
port=$((20000 + RANDOM % 20000))
bench_controller "$port"
controller=${pids[0]}
bench_agent edge direct
agent=$(pgrep -f "tern-agent run --state $work/edge" | head -1)
cli firmware import "$work/image.bin" --component bios --version 2.0 >/dev/null
# Baseline, same run, same filesystem: writing the same bytes and fsyncing them, as the agent must.
start=$(bench_now)
dd if="$work/image.bin" of="$work/edge/dd-baseline" bs=1M conv=fsync status=none
disk_seconds=$(bench_since "$start")
rm -f "$work/edge/dd-baseline"
# The controller reads the image once to import it; start from a settled page cache.
sync
agent_before=$(kib "$agent" VmRSS)
controller_before=$(kib "$controller" VmRSS)
start=$(bench_now)
bench_wait edge "$(cli firmware deploy bios --prestage --subcloud edge --json | bench_deploy_id)" prestaged
seconds=$(bench_since "$start")
[ "$(sha256sum < "$work/image.bin" | cut -d' ' -f1)" = "$(ls "$work/edge/transfers/objects")" ]
printf 'object: %d MiB in %s s = %s MB/s (agent writes it, fsyncs, verifies the SHA-256; includes the CLI polling)\n' \
    "$size" "$seconds" "$(python3 -c "print(f'{$size * 1048576 / $seconds / 1e6:.0f}')")"
printf 'baseline: dd of the same bytes with fsync on the same filesystem: %s s; Tern / baseline time: %s\n' \
    "$disk_seconds" "$(python3 -c "print(f'{$seconds / $disk_seconds:.2f}')")"
if [ "$tmpfs" = 1 ]; then
    # Same run: raw swift-nio-ssl goodput (and Tern's library-level goodput) for the same size.
    "$bin/tern-bench" --only goodput --size-mib "$size" --repeat 3 > "$work/goodput.out"
    grep -A1 "(random) data" "$work/goodput.out"
    raw=$(sed -n 's/.*(random) data: raw swift-nio-ssl \([0-9.]*\) MB\/s.*/\1/p' "$work/goodput.out" | head -1)
    printf 'receive path to tmpfs / raw TLS goodput: %s\n' "$(python3 -c "print(f'{($size * 1048576 / $seconds / 1e6) / $raw:.2f}')")"
fi
printf '%-11s %14s %14s %8s\n' "process" "RSS before" "peak (VmHWM)" "ratio"
for who in agent controller; do
    pid=${!who}
    before_var="${who}_before"
    before=${!before_var}
    peak=$(kib "$pid" VmHWM)
    printf '%-11s %11d KiB %11d KiB %8s\n' "$who" "$before" "$peak" "$(python3 -c "print(f'{$peak / $before:.2f}')")"
done
