#!/usr/bin/env python3
"""Keepalive RTT over a steady window, from tern-sim's once-a-second lines.

Usage: sim-rtt.py SECONDS FILE...   (reads each file's last SECONDS lines that start with t=)

The agents ping when they have heard nothing for a heartbeat interval, so the samples
come in bursts (most seconds have none); the last line alone says little. Each line
gives that second's p50 and p99, not its samples, so this prints the sample-weighted
median of the per-second p50s and the worst per-second p99 (an upper bound of the
window's p99), with the number of samples they came from.
"""
import re
import sys

LINE = re.compile(r"rtt p50 ([0-9.]+) ms p99 ([0-9.]+) ms \((\d+) samples\)")


def main() -> None:
    window = int(sys.argv[1])
    seconds = []
    for path in sys.argv[2:]:
        lines = [line for line in open(path) if line.startswith("t=")][-window:]
        for line in lines:
            match = LINE.search(line)
            if match:
                seconds.append((float(match[1]), float(match[2]), int(match[3])))
    samples = sum(count for _, _, count in seconds)
    if samples == 0:
        print("keepalive RTT: no samples in the window")
        return
    weighted = sorted((p50, count) for p50, _, count in seconds)
    half, running, median = samples / 2, 0, weighted[-1][0]
    for p50, count in weighted:
        running += count
        if running >= half:
            median = p50
            break
    worst = max(p99 for _, p99, _ in seconds)
    print(f"keepalive RTT: p50 {median:.1f} ms, p99 <= {worst:.1f} ms (worst second; {samples} samples over {window} s)")


if __name__ == "__main__":
    main()
