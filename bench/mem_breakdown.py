#!/usr/bin/env python3
"""Where a process's resident memory goes, from /proc/PID/smaps: the binary's own pages,
shared libraries, the main heap, thread stacks and other anonymous mappings (glibc's
per-thread malloc arenas are 64 MiB-aligned anonymous regions), and the thread count.
Usage: mem_breakdown.py PID   (run where the process is: inside the sandbox)"""
import collections
import os
import re
import sys

pid = sys.argv[1]
exe = os.readlink(f"/proc/{pid}/exe")
groups = collections.Counter()
anon_regions = []
cur = None
with open(f"/proc/{pid}/smaps") as f:
    for line in f:
        m = re.match(r"^([0-9a-f]+)-([0-9a-f]+) (\S+) \S+ \S+ \S+\s*(.*)$", line)
        if m:
            start, end, _perms, name = int(m[1], 16), int(m[2], 16), m[3], m[4].strip()
            if name == exe:
                cur = "binary (text, data)"
            elif name == "[heap]":
                cur = "main heap (brk)"
            elif name.startswith("[stack"):
                cur = "main stack"
            elif name.startswith("/"):
                cur = "shared libraries"
            elif name == "":
                cur = "anonymous (arenas, thread stacks, mmap'd blocks)"
                anon_regions.append([end - start, 0])
            else:
                cur = "other " + name
            continue
        if line.startswith("Rss:") and cur:
            kb = int(line.split()[1])
            groups[cur] += kb
            if cur.startswith("anonymous"):
                anon_regions[-1][1] = kb
threads = len(os.listdir(f"/proc/{pid}/task"))
total = sum(groups.values())
print(f"pid {pid}: RSS {total} kB, {threads} threads")
for k, v in groups.most_common():
    print(f"  {v:8d} kB  {k}")
big = sorted((r for r in anon_regions if r[1] > 0), key=lambda r: -r[1])[:12]
print("  largest anonymous regions (size kB -> resident kB): " +
      ", ".join(f"{s // 1024}->{r}" for s, r in big))
