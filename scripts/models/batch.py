"""The dynamic-batch test model: yolov12n with its batch dimension made
dynamic (input and outputs dim 0 = "batch"), so that the host's inference
service runs several cameras' frames in one session run.

yolov12n's Reshape nodes carry constant shapes with the batch (1) written
in: each such shape whose first element k > 0 becomes batch-relative (0:
copy the input's dim 0, when another element is already -1; else -1). The
result is checked, not trusted: batches of 2 and 3 real frames of the clip
must give the outputs of single runs (on the CPU provider, and on OpenVINO
where this venv has it), or the script fails and setup with it.

Usage: batch.py YOLOV12N.onnx OUT.onnx VTEST.avi
"""
import os
import sys

import cv2
import numpy as np
import onnx
import onnxruntime as ort
from onnx import numpy_helper

import meta

TOLERANCE = 1e-4


def dynamic_batch(model):
    g = model.graph
    for v in list(g.input) + list(g.output):
        v.type.tensor_type.shape.dim[0].dim_param = "batch"
    del g.value_info[:]
    inits = {i.name: i for i in g.initializer}
    for node in g.node:
        if node.op_type != "Reshape" or node.input[1] not in inits:
            continue
        init = inits[node.input[1]]
        shape = numpy_helper.to_array(init).copy()
        if shape.size == 0 or shape[0] <= 0:
            continue
        if (shape[1:] == -1).any():
            assert shape[0] == 1, f"Reshape {node.name}: batch {shape[0]} beside a -1"
            shape[0] = 0
        else:
            shape[0] = -1
        init.CopyFrom(numpy_helper.from_array(shape, init.name))
    return model


def frames(clip, n):
    cap = cv2.VideoCapture(clip)
    out = []
    while len(out) < n:
        ok, img = cap.read()
        if not ok:
            raise SystemExit(f"{clip}: fewer than {n} frames")
        out.append(img)
    return out


def check(path, tensors, providers):
    s = ort.InferenceSession(path, providers=providers)
    name = s.get_inputs()[0].name
    singles = [s.run(None, {name: t}) for t in tensors]
    for n in (2, 3):
        batch = s.run(None, {name: np.concatenate(tensors[:n])})
        for o, out in enumerate(batch):
            assert out.shape[0] == n, f"{providers}: output {o} has batch {out.shape[0]}, not {n}"
            for i in range(n):
                diff = float(np.abs(out[i : i + 1] - singles[i][o]).max())
                assert diff <= TOLERANCE, f"{providers}: batch {n}, frame {i}, output {o}: max diff {diff}"
    print(f"batch.py: {os.path.basename(path).removesuffix('.part')}: batches of 2 and 3 = single runs on {providers[0]}")


def main(src, out, clip):
    model = dynamic_batch(onnx.load(src))
    onnx.checker.check_model(model)
    tmp = out + ".part"
    onnx.save(model, tmp)
    inp = meta.Input(ort.InferenceSession(tmp, providers=["CPUExecutionProvider"]))
    # Frames 0, 40, 80: different people, different detections.
    tensors = [inp.tensor(f)[0] for f in frames(clip, 81)[::40]]
    check(tmp, tensors, ["CPUExecutionProvider"])
    if "OpenVINOExecutionProvider" in ort.get_available_providers():
        check(tmp, tensors, ["OpenVINOExecutionProvider"])
    os.replace(tmp, out)


if __name__ == "__main__":
    main(*sys.argv[1:4])
