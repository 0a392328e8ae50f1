#!/usr/bin/env python3
"""Which pages of a program's own file are resident: runs a command (its
stdout thrown away), and at the sample with the most resident memory reads
/proc/PID/pagemap for the mappings of the command's executable; prints the
resident MiB by ELF section and the resident bytes of .text by crate (the
first path segment of each `nm` symbol, so generic code is counted under
`core`/`alloc`), largest first. Needs root (pagemap of another process).
Usage:
  bench/binmap.py [--top N] [--every S] [--dump FILE] -- COMMAND ARGS...
e.g. bench/binmap.py -- ./target/release/edgepipe run --input vendor/data/vtest.avi --max-frames 150 --stdout --no-mqtt
The kernel maps file pages a whole page-cache folio at a time (fault-around),
so a page counts as resident when anything near it ran; --dump writes the
resident .text addresses, one a line.
"""
import argparse
import collections
import os
import re
import struct
import subprocess
import sys
import time

PAGE = 4096


def rss_pages(pid):
    try:
        with open(f"/proc/{pid}/statm") as f:
            return int(f.read().split()[1])
    except (OSError, ValueError, IndexError):
        return None


def resident(pid, exe):
    """File offsets of the executable's resident pages, with the mapping's permissions."""
    maps = []
    try:
        with open(f"/proc/{pid}/maps") as f:
            for line in f:
                p = line.split()
                if len(p) >= 6 and os.path.realpath(p[5]) == exe:
                    lo, hi = (int(x, 16) for x in p[0].split("-"))
                    maps.append((lo, hi, int(p[2], 16), p[1]))
        pages = []
        with open(f"/proc/{pid}/pagemap", "rb") as f:
            for lo, hi, off, perm in maps:
                f.seek(lo // PAGE * 8)
                data = f.read((hi - lo) // PAGE * 8)
                for i in range(len(data) // 8):
                    if struct.unpack_from("<Q", data, i * 8)[0] >> 63:
                        pages.append((off + i * PAGE, perm))
        return pages
    except OSError:
        return None


def sections(exe):
    """(file offset, end, name, address) of each section with file contents."""
    out = subprocess.run(["readelf", "-SW", exe], capture_output=True, text=True, check=True).stdout
    secs = []
    for line in out.splitlines():
        m = re.match(r"\s*\[\s*\d+\]\s+(\S+)\s+(\S+)\s+([0-9a-f]+)\s+([0-9a-f]+)\s+([0-9a-f]+)", line)
        if m and m.group(2) != "NOBITS":
            off = int(m.group(4), 16)
            secs.append((off, off + int(m.group(5), 16), m.group(1), int(m.group(3), 16)))
    return secs


def functions(exe):
    """(address, size, crate) of each function symbol."""
    out = subprocess.run(["nm", "-S", "--defined-only", "-C", exe], capture_output=True, text=True, check=True).stdout
    syms = []
    for line in out.splitlines():
        p = line.split(" ", 3)
        if len(p) == 4 and p[2] in "tTwW":
            m = re.match(r"^<?(?:&(?:mut )?)?([A-Za-z_][A-Za-z0-9_]*)", p[3])
            syms.append((int(p[0], 16), int(p[1], 16), m.group(1) if m else "?"))
    return syms


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--top", type=int, default=30)
    ap.add_argument("--every", type=float, default=0.1)
    ap.add_argument("--dump")
    ap.add_argument("cmd", nargs=argparse.REMAINDER)
    a = ap.parse_args()
    cmd = a.cmd[1:] if a.cmd[:1] == ["--"] else a.cmd
    if not cmd:
        sys.exit("binmap: no command given")
    exe = os.path.realpath(cmd[0])
    p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    best, best_rss = [], 0
    while p.poll() is None:
        r = rss_pages(p.pid)
        if r and r > best_rss:
            pages = resident(p.pid, exe)
            if pages is not None:
                best, best_rss = pages, r
        time.sleep(a.every)
    if p.returncode != 0:
        sys.exit(f"binmap: {cmd[0]} exited with {p.returncode}")
    secs = sections(exe)
    print(f"binmap: largest sample {best_rss * PAGE / 2**20:.1f} MiB resident, "
          f"{len(best) * PAGE / 2**20:.2f} MiB of it {os.path.basename(exe)}'s own pages")
    by_section = collections.Counter()
    for off, perm in best:
        name = next((n for lo, hi, n, _ in secs if lo < off + PAGE and off < hi), "?")
        by_section[(name, perm)] += 1
    for (name, perm), n in by_section.most_common():
        print(f"  {n * PAGE / 2**20:7.2f} MiB  {name} ({perm})")
    text = next(s for s in secs if s[2] == ".text")
    delta = text[3] - text[0]
    res = {off + delta for off, _ in best if text[0] <= off < text[1]}
    total, hit = collections.Counter(), collections.Counter()
    for addr, size, crate in functions(exe):
        total[crate] += size
        pg = addr // PAGE * PAGE
        while pg < addr + size:
            if pg in res:
                hit[crate] += min(addr + size, pg + PAGE) - max(addr, pg)
            pg += PAGE
    print(f"  .text resident by crate (MB resident of MB in the file):")
    for crate, b in hit.most_common(a.top):
        print(f"  {b / 1e6:7.2f} of {total[crate] / 1e6:6.2f}  {crate}")
    if a.dump:
        with open(a.dump, "w") as f:
            f.writelines(f"{addr:x}\n" for addr in sorted(res))


if __name__ == "__main__":
    main()
