#!/usr/bin/env python3
"""Run a command that writes raw BGR24 frames on stdout and measure it from
the outside: seconds from process start to the first whole frame out, and
the process's peak resident memory (getrusage of the child). Its stderr goes
to --log. Prints one JSON line: first_frame_s, wall_s, frames, maxrss_kib.
The frames are read into one reused buffer and dropped: a new bytes object
per read (as `read1` gives) cost the reader a fresh mmap and its page
faults for every chunk, CPU taken from the 2 cores the measured process
runs on, and more of it from the side that writes frames faster.
"""
import argparse
import json
import os
import subprocess
import sys
import time


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--frame-bytes", type=int, required=True, help="bytes of one frame (width * height * 3)")
    ap.add_argument("--log", required=True, help="file for the command's stderr")
    ap.add_argument("cmd", nargs=argparse.REMAINDER)
    a = ap.parse_args()
    if a.cmd[:1] == ["--"]:
        a.cmd = a.cmd[1:]
    with open(a.log, "wb") as log:
        t0 = time.monotonic()
        p = subprocess.Popen(a.cmd, stdout=subprocess.PIPE, stderr=log)
        first, total = None, 0
        buf = memoryview(bytearray(1 << 21))
        fd = p.stdout.fileno()
        while True:
            n = os.readv(fd, [buf])
            if not n:
                break
            total += n
            if first is None and total >= a.frame_bytes:
                first = time.monotonic() - t0
        _, status, usage = os.wait4(p.pid, 0)
        wall = time.monotonic() - t0
    code = os.waitstatus_to_exitcode(status)
    if code != 0:
        sys.stderr.write(open(a.log, errors="replace").read())
        sys.exit(f"measure: {a.cmd[0]} exited with {code}")
    out = {"first_frame_s": first, "wall_s": wall, "frames": total // a.frame_bytes, "maxrss_kib": usage.ru_maxrss}
    print(json.dumps(out, separators=(",", ":")))


if __name__ == "__main__":
    main()
