#!/usr/bin/env python3
"""Live heap of a heaptrack profile by owner: folded stacks (heaptrack_print
--flamegraph-cost-type leaked -F FILE) grouped into NIOSSL/BoringSSL (the floor has
them too), SQLite, and for the rest the innermost frame of Tern's own modules (or the
allocating frame when no Tern frame is on the stack). Usage: heap-by-owner.py STACKS AGENTS"""
import collections
import re
import sys

stacks, agents = sys.argv[1], int(sys.argv[2])
owners = collections.Counter()
total = 0
for line in open(stacks):
    stack, _, cost = line.rstrip().rpartition(' ')
    cost = int(cost)
    total += cost
    frames = stack.split(';')
    if any('NIOSSL' in f or 'BoringSSL' in f for f in frames):
        owner = '(NIOSSL and BoringSSL: in the floor too)'
    elif any('sqlite' in f.lower() for f in frames):
        owner = '(SQLite: page cache and statements, not per agent)'
    else:
        tern = [f for f in frames if re.search(r'10Controller|4Wire|8Platform', f)]
        owner = tern[-1][:110] if tern else '(no Tern frame) ' + ' <- '.join(f[:50] for f in frames[-4:-1])
    owners[owner] += cost
print(f'live heap {total / 2**20:.1f} MiB = {total / 1024 / agents:.1f} KiB per agent')
for owner, cost in owners.most_common(25):
    print(f'{cost / 1024:10.0f} KiB {cost / 1024 / agents:6.2f} KiB/agent  {owner}')
