#!/usr/bin/env bash
# Backups and restores at fleet scale, for BENCHMARKS.md: N in-process agents
# (`tern-bench fleet`, PER agents per process: one process keeps its descriptors
# below 1,024, which Foundation's Process needs to spawn tar), each backing up
# MIB MiB (half a file every site shares, half its own), against a release
# controller on its SQLite store. Backups all at once (--max-parallel N), then a
# restore of every site (max_parallel_restores at a time). Prints wall time,
# controller CPU and peak RSS, bytes stored with and without deduplication, and the
# disk floor: the bytes the controller stored, written with dd + fsync in the same run.
# Usage: scripts/bench-backup.sh [AGENTS] [PER_PROCESS] [MIB]
set -euo pipefail
cd "$(dirname "$0")/.."
agents=${1:-1000}
per=${2:-100}
mib=${3:-8}
swift build -c release --product tern-controller >/dev/null
swift build -c release --product tern-bench >/dev/null
bin=$(swift build -c release --show-bin-path)
work=$(mktemp -d -t tern-backup.XXXXXX)
pids=()
trap 'for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; cp "$work/controller.log" "${TMPDIR:-/tmp}/tern-bench-backup-controller.log" 2>/dev/null; rm -rf "$work"' EXIT
ulimit -n 65536 2>/dev/null || true
source scripts/lib/bench-site.sh
"$bin/tern-controller" serve --data "$work/c" --listen 127.0.0.1:17747 --enrol-listen 127.0.0.1:17748 --api-listen 127.0.0.1:17780 \
    --heartbeat-interval 30 --max-parallel-backups "$agents" --log-level warning 2> "$work/controller.log" &
controller=$!; pids+=($controller)
for _ in $(seq 50); do [ -s "$work/c/api-address" ] && break; sleep 0.2; done
cli() { "$bin/tern-controller" "$@" --data "$work/c"; }
cpu() { python3 -c "import os; f=open('/proc/$controller/stat').read().rsplit(')',1)[1].split(); print((int(f[11])+int(f[12]))/os.sysconf('SC_CLK_TCK'))"; }
hwm() { grep VmHWM "/proc/$controller/status" | awk '{print int($2/1024)}'; }

start=$(bench_now)
for offset in $(seq 0 "$per" $((agents - 1))); do
    "$bin/tern-bench" fleet --data "$work/c" --controller 127.0.0.1:17747 --agents "$per" --offset "$offset" --hold 100000 \
        --work "$work/agents" --backup-mib "$mib" > "$work/fleet-$offset.out" 2>&1 &
    pids+=($!)
done
until [ "$(cat "$work"/fleet-*.out | grep -c '^READY')" -ge $((agents / per)) ]; do sleep 1; done
echo "== $agents sites connected, $mib MiB each to back up ($(bench_since "$start") s to make the data and connect)"

objects() { du -sb "$work/c/objects" | cut -f1; }
stored_before=$(objects)
cpu_before=$(cpu); start=$(bench_now)
cli backup create --all --max-parallel "$agents" --watch > "$work/backup.out" || { tail -5 "$work/backup.out"; exit 1; }
backup_seconds=$(bench_since "$start"); backup_cpu=$(python3 -c "print(round($(cpu) - $cpu_before, 2))"); backup_hwm=$(hwm)
read -r complete archives uploaded <<< "$(cli backup list --json | python3 -c '
import json, sys
b = json.load(sys.stdin)
print(sum(x["state"] == "complete" for x in b), sum(x.get("archiveBytes") or 0 for x in b), sum(x["bytesUploaded"] for x in b))')"
stored=$(( $(objects) - stored_before ))
start=$(bench_now)
dd if=/dev/zero of="$work/c/floor.bin" bs=1M count=$(( (stored + 1048575) / 1048576 )) conv=fsync status=none
floor_seconds=$(bench_since "$start"); rm -f "$work/c/floor.bin"

cpu_before=$(cpu); start=$(bench_now)
token=$(cat "$work/c/api-token"); api=$(cat "$work/c/api-address")
cli backup list --json | python3 -c 'import json,sys; [print(x["id"]) for x in json.load(sys.stdin)]' \
    | xargs -P 8 -I{} curl -sf -o /dev/null -X POST -H "Authorization: Bearer $token" -d '{}' "$api/v1/backups/{}/restore"
until [ "$(cli deployment list --json | python3 -c 'import json,sys; print(sum(d["kind"]=="backup" and d["state"] in ("activated","failed") for d in json.load(sys.stdin)))')" -ge "$agents" ]; do sleep 1; done
restore_seconds=$(bench_since "$start"); restore_cpu=$(python3 -c "print(round($(cpu) - $cpu_before, 2))")
restored=$(cli deployment list --json | python3 -c 'import json,sys; print(sum(d["kind"]=="backup" and d["state"]=="activated" for d in json.load(sys.stdin)))')

echo "backups:  $complete of $agents complete in $backup_seconds s; controller CPU $backup_cpu s; controller peak RSS $backup_hwm MiB"
echo "bytes:    archives $archives; uploaded $uploaded; stored $stored (deduplicated: $(python3 -c "print(f'{$stored/$archives:.3f}')") of the archives)"
echo "floor:    dd + fsync of the $stored stored bytes: $floor_seconds s; backups / floor: $(python3 -c "print(f'{$backup_seconds/$floor_seconds:.2f}')")"
echo "restores: $restored of $agents activated in $restore_seconds s (max_parallel_restores 100); controller CPU $restore_cpu s; peak RSS $(hwm) MiB"
