#!/usr/bin/env python3
"""bench/compare.sh's report: the four figures of issue 22, edgepipe beside
the Python loop on the same provider, each with its spread over the rounds
and its target. Input: the rounds file (`ROUND NAME MEASURE_JSON FPS` a line),
the raw file (`PROVIDER REFERENCE_FPS STEADY_FPS STEADY_RATIO WHOLE_FPS
WHOLE_RATIO` a line, one per `edgepipe bench` run, from its section 3;
`none none` when the run had no steady state), the frames of a run, and the load before and after.
"""
import json
import statistics
import sys

TARGET_RATIO = 2.0
# The targets are judged against this peer (the Python loop with its
# provider's defaults); other peers are printed beside it, for comparison.
TARGET_PEER = "python-openvino"
TARGET_PIPELINE_OVER_RAW = 0.95


def spread(values, fmt):
    """`median [min - max]` of values."""
    return f"{fmt(statistics.median(values))} [{fmt(min(values))} - {fmt(max(values))}]"


def verdict(ok):
    return "met" if ok else "MISSED"


def judged(name, ok):
    """The verdict against the target's peer; other peers are not judged."""
    return verdict(ok) if name == TARGET_PEER else "not the target's reference"


def main():
    rounds_file, raw_file, frames, load_before, load_after = sys.argv[1:6]
    runs = {}  # name -> {round: (measure, fps)}
    for line in open(rounds_file):
        r, name, measure, *fps = line.split()
        runs.setdefault(name, {})[int(r)] = (json.loads(measure), float(fps[0]) if fps else 0.0)
    ours = runs.get("edgepipe", {})
    rounds = sorted(ours)
    sec = lambda v: f"{v:.2f} s"
    mib = lambda v: f"{v:.1f} MiB"
    num = lambda v: f"{v:.2f}"
    print(f"compare: {len(rounds)} rounds of {frames} frames, whole processes alternated")
    print(f"  load before: {load_before.strip()}")
    print(f"  load after:  {load_after.strip()}")
    print("  median [min - max] over the rounds:")
    for name in ["edgepipe"] + sorted(n for n in runs if n != "edgepipe"):
        rs = [runs[name][r] for r in rounds if r in runs[name]]
        wall = [m["wall_s"] for m, _ in rs]
        print(
            f"  {name:<16} wall {spread(wall, sec)}  = {spread([int(frames) / w for w in wall], num)} fps whole process"
            f" ({spread([f for _, f in rs], num)} fps in its loop)"
        )
        print(
            f"  {'':<16} peak memory {spread([m['maxrss_kib'] / 1024 for m, _ in rs], mib)}"
            f", start to first frame {spread([m['first_frame_s'] for m, _ in rs], sec)}"
        )
    for name in sorted(n for n in runs if n != "edgepipe"):
        pairs = [(ours[r][0], runs[name][r][0]) for r in rounds if r in runs[name]]
        ratio = [p["wall_s"] / e["wall_s"] for e, p in pairs]
        peak = [e["maxrss_kib"] / p["maxrss_kib"] for e, p in pairs]
        start = [e["first_frame_s"] - p["first_frame_s"] for e, p in pairs]
        e_mem = statistics.median(e["maxrss_kib"] for e, _ in pairs) / 1024
        p_mem = statistics.median(p["maxrss_kib"] for _, p in pairs) / 1024
        e_st = statistics.median(e["first_frame_s"] for e, _ in pairs)
        p_st = statistics.median(p["first_frame_s"] for _, p in pairs)
        print(f"  edgepipe against {name}:")
        print(
            f"    throughput, {name} wall / edgepipe wall per round: {spread(ratio, num)}"
            f"  (target >= {TARGET_RATIO} in every round: {judged(name, min(ratio) >= TARGET_RATIO)})"
        )
        print(
            f"    peak memory: {mib(e_mem)} vs {mib(p_mem)}, edgepipe / {name} per round {spread(peak, num)}"
            f"  (target <= 1: {judged(name, e_mem <= p_mem)})"
        )
        print(
            f"    start to first frame: {sec(e_st)} vs {sec(p_st)}, difference per round {spread(start, lambda v: f'{v:+.2f} s')}"
            f"  (target <= 0: {judged(name, e_st <= p_st)})"
        )
    raw = [line.split() for line in open(raw_file) if line.strip()]
    if raw:
        print("  edgepipe pipeline / best raw shape of the same provider (edgepipe bench --ep P; raw: its best shape,")
        print("  mean of before and after the pipeline, timed after 2 warm-up runs a session). Steady state: the frames")
        print("  out after every worker's first 2 session runs (like with like: the target's figure); whole run: every")
        print("  frame from the threads' start to the end (the pipeline's fill and drain included):")
        by_ep = {}
        for ep, *figures in raw:
            by_ep.setdefault(ep, []).append(figures)
        for ep, runs in by_ep.items():
            print(f"    {ep:<9} {pipeline_over_raw(runs)}")


def pipeline_over_raw(runs):
    """One provider's line: the steady-state ratio (the target's figure) and
    the whole run's, median [min - max] over the bench runs, the target
    judged on the median, and how many runs met it on their own."""
    t = TARGET_PIPELINE_OVER_RAW
    ratio = lambda v: f"{v:.3f}"
    whole = [float(w) for *_, w in runs]
    steady = [float(r) for _, s, r, *_ in runs if s != "none"]
    n = len(runs)
    if steady:
        met = sum(v >= t for v in steady)
        st = (
            f"steady state {spread(steady, ratio)} over {len(steady)} run(s)  (target >= {t}, on the median: "
            f"{verdict(statistics.median(steady) >= t)}; {met} of {len(steady)} runs >= {t})"
        )
    else:
        st = f"steady state: none (target >= {t}: not measured)"
    if len(steady) < n:
        st += f"; {n - len(steady)} run(s) without a steady state"
    return f"{st};  whole run {spread(whole, ratio)}"

if __name__ == "__main__":
    main()
