"""The Python reference of edgepipe's detector: ONNX Runtime in Python, the
same pre-processing (meta.Input), each output layout decoded again in numpy.
The tests compare the host's detections with these.

Usage: reference.py MODEL.onnx LAYOUT CONFIDENCE IOU FRAME.png...
Prints one JSON line per frame: [[class, score, x1, y1, x2, y2], ...].
"""
import json
import sys

import cv2
import numpy as np
import onnxruntime as ort

import meta

MAX_DETECTIONS = 300


def xywh_to_xyxy(b):
    return np.stack([b[:, 0] - b[:, 2] / 2, b[:, 1] - b[:, 3] / 2,
                     b[:, 0] + b[:, 2] / 2, b[:, 1] + b[:, 3] / 2], axis=1)


def iou(a, b):
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def nms(dets, thr):
    kept = []
    for d in sorted(dets, key=lambda d: -d[1]):
        if len(kept) >= MAX_DETECTIONS:
            break
        if all(k[0] != d[0] or iou(k[2:], d[2:]) <= thr for k in kept):
            kept.append(d)
    return kept


def rows(classes, scores, boxes, to_frame, conf):
    """Detections at least `conf`, boxes (x1, y1, x2, y2 input pixels) in frame pixels."""
    keep = scores >= conf
    fb = to_frame(boxes[keep]) if keep.any() else np.zeros((0, 4))
    out = []
    for c, s, b in zip(classes[keep], scores[keep], fb):
        if b[2] > b[0] and b[3] > b[1]:
            out.append([int(c), float(s)] + [float(v) for v in b])
    return out


def decode(layout, outs, inp, to_frame, conf, iou_thr):
    if layout == "yolov8":
        o = outs[0][0]
        cls = o[4:]
        boxes, scores, classes = xywh_to_xyxy(o[:4].T), cls.max(0), cls.argmax(0)
        ok = (o[2] > 0) & (o[3] > 0)
        return nms(rows(classes[ok], scores[ok], boxes[ok], to_frame, conf), iou_thr)
    if layout == "yolov5":
        o = outs[0][0]
        prod = o[:, 4:5] * o[:, 5:]
        ok = (o[:, 2] > 0) & (o[:, 3] > 0)
        boxes = xywh_to_xyxy(o[:, :4])
        return nms(rows(prod.argmax(1)[ok], prod.max(1)[ok], boxes[ok], to_frame, conf), iou_thr)
    if layout == "end2end":
        o = outs[0][0]
        d = rows(o[:, 5].astype(int), o[:, 4], o[:, :4], to_frame, conf)
        return sorted(d, key=lambda r: -r[1])[:MAX_DETECTIONS]
    if layout == "tfod":
        named = dict(outs)
        num = int(named["num_detections"][0])
        b = named["detection_boxes"][0][:num]
        boxes = np.stack([b[:, 1] * inp.w, b[:, 0] * inp.h, b[:, 3] * inp.w, b[:, 2] * inp.h], axis=1)
        classes = named["detection_classes"][0][:num].astype(int) - 1
        d = rows(classes, named["detection_scores"][0][:num], boxes, to_frame, conf)
        return sorted(d, key=lambda r: -r[1])[:MAX_DETECTIONS]
    raise SystemExit(f"unknown layout {layout}")


def main(model, layout, conf, iou_thr, *frames):
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 2
    s = ort.InferenceSession(model, opts, providers=["CPUExecutionProvider"])
    inp = meta.Input(s)
    names = [o.name.split(":")[0] for o in s.get_outputs()]
    for path in frames:
        t, to_frame = inp.tensor(cv2.imread(path, cv2.IMREAD_COLOR))
        outs = s.run(None, {inp.name: t})
        outs = outs if layout != "tfod" else list(zip(names, outs))
        print(json.dumps(decode(layout, outs, inp, to_frame, float(conf), float(iou_thr))))


if __name__ == "__main__":
    main(*sys.argv[1:])
