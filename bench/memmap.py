#!/usr/bin/env python3
"""Where a process's resident memory is: runs a command (its stdout thrown
away), reads /proc/PID/smaps every --every seconds and, for the sample with
the most resident memory, prints the resident MiB grouped by what is mapped
(each shared library or file by name, [heap], [stack], anonymous mappings),
largest first. Usage:
  bench/memmap.py [--top N] [--every S] -- COMMAND ARGS...
e.g. bench/memmap.py -- ./target/release/edgepipe run --input vendor/data/vtest.avi --max-frames 150 --stdout --no-mqtt
"""
import argparse
import collections
import os
import re
import subprocess
import sys
import time

HEADER = re.compile(r"^[0-9a-f]+-[0-9a-f]+ \S+ \S+ \S+ \S+\s*(.*)$")


def sample(pid):
    """Resident KiB by mapping name, or None once the process is gone."""
    groups = collections.Counter()
    name = None
    try:
        with open(f"/proc/{pid}/smaps") as f:
            for line in f:
                m = HEADER.match(line)
                if m:
                    path = m.group(1).strip()
                    if not path:
                        name = "anonymous"
                    elif path.startswith("["):
                        name = path
                    else:
                        # libfoo.so.1.2.3 -> libfoo.so
                        name = re.sub(r"\.so[.0-9]*$", ".so", os.path.basename(path))
                elif line.startswith("Rss:"):
                    groups[name] += int(line.split()[1])
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return None
    return groups


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--top", type=int, default=15)
    ap.add_argument("--every", type=float, default=0.2)
    ap.add_argument("cmd", nargs=argparse.REMAINDER)
    a = ap.parse_args()
    if a.cmd[:1] == ["--"]:
        a.cmd = a.cmd[1:]
    if not a.cmd:
        sys.exit("memmap: no command given")
    p = subprocess.Popen(a.cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    best, best_total = collections.Counter(), 0
    while p.poll() is None:
        g = sample(p.pid)
        if g and sum(g.values()) > best_total:
            best, best_total = g, sum(g.values())
        time.sleep(a.every)
    if p.returncode != 0:
        sys.exit(f"memmap: {a.cmd[0]} exited with {p.returncode}")
    print(f"memmap: {os.path.basename(a.cmd[0])}: largest sample {best_total / 1024:.1f} MiB resident")
    rest = 0
    for i, (name, kib) in enumerate(best.most_common()):
        if i < a.top:
            print(f"  {kib / 1024:8.1f} MiB  {name}")
        else:
            rest += kib
    print(f"  {rest / 1024:8.1f} MiB  {len(best) - min(a.top, len(best))} others")


if __name__ == "__main__":
    main()
