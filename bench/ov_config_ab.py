#!/usr/bin/env python3
"""Two OpenVINO CPU `load_config`s against each other in ONE process on the
Python wheel (vendor/bench-venv): both sessions compiled as edgepipe's
default compiles (num_streams=2, num_of_threads=2, one ORT thread), then
throughput measured in blocks of FRAMES frames run as two concurrent
requests, alternating the sessions block by block (the order flips every
block), so that load from other processes hits both alike. Prints each
session's compile time, fps per block (median [min - max]) and the median
ratio B/A with its range. Defaults: A = edgepipe's default (bf16, pinning
off, no snippets), B = the same with snippets.
  vendor/bench-venv/bin/python bench/ov_config_ab.py [--blocks 30] [--frames 20] [--a JSON] [--b JSON]
"""
import argparse
import statistics
import threading
import time

import numpy as np
import onnxruntime as ort

DEFAULT = '{"CPU":{"INFERENCE_PRECISION_HINT":"bf16","ENABLE_CPU_PINNING":"NO","SNIPPETS_MODE":"DISABLE"}}'
SNIPPETS = '{"CPU":{"INFERENCE_PRECISION_HINT":"bf16","ENABLE_CPU_PINNING":"NO","SNIPPETS_MODE":"ENABLE"}}'


def session(model, load_config):
    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    opts = {"num_streams": "2", "num_of_threads": "2", "load_config": load_config}
    t = time.perf_counter()
    s = ort.InferenceSession(model, so, providers=[("OpenVINOExecutionProvider", opts)])
    return s, time.perf_counter() - t


def block(s, name, x, frames):
    """fps of `frames` runs as two concurrent requests."""
    def work():
        for _ in range(frames // 2):
            s.run(None, {name: x})
    t = time.perf_counter()
    threads = [threading.Thread(target=work) for _ in range(2)]
    for h in threads:
        h.start()
    for h in threads:
        h.join()
    return (frames // 2 * 2) / (time.perf_counter() - t)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="models/yolov12n.onnx")
    ap.add_argument("--blocks", type=int, default=30)
    ap.add_argument("--frames", type=int, default=20)
    ap.add_argument("--a", default=DEFAULT, help="load_config of A")
    ap.add_argument("--b", default=SNIPPETS, help="load_config of B")
    a = ap.parse_args()
    sa, ta = session(a.model, a.a)
    sb, tb = session(a.model, a.b)
    print(f"A {a.a}: compiled in {ta:.3f} s (first: includes loading the libraries)")
    print(f"B {a.b}: compiled in {tb:.3f} s")
    name = sa.get_inputs()[0].name
    x = np.random.default_rng(0).random(tuple(sa.get_inputs()[0].shape), dtype=np.float32)
    for s in (sa, sb):
        for _ in range(3):
            s.run(None, {name: x})
    fa, fb = [], []
    for i in range(a.blocks):
        order = [(sa, fa), (sb, fb)] if i % 2 == 0 else [(sb, fb), (sa, fa)]
        for s, out in order:
            out.append(block(s, name, x, a.frames))
    ratios = [b / x for b, x in zip(fb, fa)]
    for label, f in (("A", fa), ("B", fb)):
        print(f"{label}: {statistics.median(f):.2f} fps [{min(f):.2f} - {max(f):.2f}]")
    print(f"B/A per block: median {statistics.median(ratios):.3f} [{min(ratios):.3f} - {max(ratios):.3f}], "
          f"{a.blocks} blocks of {a.frames} frames")


if __name__ == "__main__":
    main()
