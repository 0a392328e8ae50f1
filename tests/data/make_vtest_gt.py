#!/usr/bin/env python3
"""Build tests/data/vtest-gt.txt (MOTChallenge gt.txt layout) from the hand
identities in tests/data/vtest-identities.txt and a record of vtest.avi.

Identities, entry and exit frames are decided by hand (see vtest-gt.md); the
boxes of each frame are the detector's boxes of the track fragments that were
assigned by hand to that person, linearly interpolated across frames where
the person is there but was not detected, and held at the ends.

Usage: make_vtest_gt.py vtest-gt-source.jsonl.gz vtest-identities.txt > vtest-gt.txt
(the source record is kept next to this script: the identities name its tracks)
"""
import gzip
import json
import sys


def load_record(path):
    """frame -> {track id: detection box [x, y, w, h]}"""
    out = {}
    with (gzip.open(path, "rt") if path.endswith(".gz") else open(path)) as f:
        for line in f:
            r = json.loads(line)
            stats = {s["name"]: s["value"] for s in r.get("stats", [])}
            tracks = json.loads(stats.get("tracks", "[]"))
            boxes = {}
            for t in tracks:
                d = t.get("det")
                if d is None:
                    continue
                b = r["detections"][d]["box"]
                boxes[t["id"]] = [b["x"], b["y"], b["width"], b["height"]]
            out[r["index"]] = boxes
    return out


def load_identities(path):
    """[(gt id, first, last, [(track id, from, to)])]: one line per time a
    person is in view; frames 0-based, inclusive. A track is given as
    `id:from-to` (the frames where that track follows this person)."""
    out = []
    with open(path) as f:
        for line in f:
            line = line.split("#", 1)[0].strip()
            if not line:
                continue
            gid, first, last, *tracks = line.split()
            spans = []
            for t in tracks:
                tid, rng = t.split(":")
                a, b = rng.split("-")
                spans.append((int(tid), int(a), int(b)))
            out.append((int(gid), int(first), int(last), spans))
    return out


def main():
    record = load_record(sys.argv[1])
    rows = []
    for gid, first, last, tracks in load_identities(sys.argv[2]):
        known = {}
        for tid, a, b in tracks:
            for f in range(max(a, first), min(b, last) + 1):
                if tid in record.get(f, {}):
                    known.setdefault(f, record[f][tid])
        if not known:
            sys.exit(f"identity {gid}: none of its tracks {tracks} is seen in frames {first}..{last}")
        frames = sorted(known)
        for f in range(first, last + 1):
            if f in known:
                b = known[f]
            else:
                before = [k for k in frames if k < f]
                after = [k for k in frames if k > f]
                if before and after:
                    a, z = before[-1], after[0]
                    w = (f - a) / (z - a)
                    b = [known[a][i] * (1 - w) + known[z][i] * w for i in range(4)]
                else:
                    b = known[before[-1] if before else after[0]]
            rows.append((f + 1, gid, b))
    rows.sort(key=lambda r: (r[0], r[1]))
    for f, gid, b in rows:
        print(f"{f},{gid},{b[0]:.1f},{b[1]:.1f},{b[2]:.1f},{b[3]:.1f},1,1,1")


if __name__ == "__main__":
    main()
