"""Check a converted model by its outputs, not its bytes: on a known frame of
vtest.avi it must find every person of the hand-made ground truth
(tests/data/vtest-gt.txt) with a `person` box (IoU >= 0.5, score >= 0.3).

Usage: check.py MODEL.onnx LAYOUT VTEST.avi VTEST-GT.txt
"""
import sys

import cv2
import onnxruntime as ort

import meta
import reference

FRAME = 10  # MOT frame 11: three people apart from each other, every model finds them


def gt_boxes(path, frame):
    out = []
    with open(path) as f:
        for line in f:
            v = line.split(",")
            if int(v[0]) == frame + 1:
                x, y, w, h = map(float, v[2:6])
                out.append([x, y, x + w, y + h])
    return out


def found(model, layout, clip, frame):
    cap = cv2.VideoCapture(clip)
    for _ in range(frame + 1):
        ok, img = cap.read()
        if not ok:
            raise SystemExit(f"{clip}: no frame {frame}")
    s = ort.InferenceSession(model, providers=["CPUExecutionProvider"])
    inp = meta.Input(s)
    t, to_frame = inp.tensor(img)
    outs = s.run(None, {inp.name: t})
    if layout == "tfod":
        outs = list(zip([o.name.split(":")[0] for o in s.get_outputs()], outs))
    return reference.decode(layout, outs, inp, to_frame, 0.3, 0.45)


def main(model, layout, clip, gt, frame=FRAME):
    dets = [d for d in found(model, layout, clip, int(frame)) if d[0] == 0]
    missed = [g for g in gt_boxes(gt, int(frame)) if not any(reference.iou(g, d[2:]) >= 0.5 for d in dets)]
    if missed:
        sys.exit(f"check: {model}: frame {frame}: no person found at {missed} (found {dets})")
    print(f"check: {model}: the {len(gt_boxes(gt, int(frame)))} people of frame {frame} found")


if __name__ == "__main__":
    main(*sys.argv[1:])
