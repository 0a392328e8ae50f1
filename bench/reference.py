#!/usr/bin/env python3
"""The reference loop edgepipe is compared with, written the way the course's
people-counter app is: one thread, OpenCV capture, onnxruntime (the
`onnxruntime-openvino` wheel, the same ONNX Runtime edgepipe loads) on the
OpenVINO provider with its defaults (`--ep cpu`: the CPU provider;
`--precision bf16`: OpenVINO told to compute in bfloat16, as edgepipe asks
it to, the loop's best configuration on a CPU with BF16), numpy
letterbox and NMS, paho-mqtt publishing `person` / `person/duration` (unless
`--no-mqtt`), the annotated frames as raw BGR24 on stdout. Same model, same
clip, same thresholds as edgepipe's defaults. The last stderr line is the
figure: `reference: N frames in S s (F fps)`.
"""
import argparse
import json
import sys
import time

import cv2
import numpy as np
import onnxruntime as ort
import paho.mqtt.client as mqtt

PAD = 114
PROVIDERS = {"openvino": "OpenVINOExecutionProvider", "cpu": "CPUExecutionProvider"}


def letterbox(frame, w, h):
    """Resize keeping the aspect ratio, pad with grey; NCHW RGB float32 /255."""
    fh, fw = frame.shape[:2]
    scale = min(w / fw, h / fh)
    nw, nh = round(fw * scale), round(fh * scale)
    px, py = (w - nw) // 2, (h - nh) // 2
    canvas = np.full((h, w, 3), PAD, dtype=np.uint8)
    canvas[py:py + nh, px:px + nw] = cv2.resize(frame, (nw, nh), interpolation=cv2.INTER_LINEAR)
    blob = canvas[:, :, ::-1].transpose(2, 0, 1).astype(np.float32) / 255.0
    return blob[None], scale, px, py


def nms(boxes, scores, iou):
    """Greedy NMS on x1, y1, x2, y2 boxes; indices kept, best first."""
    x1, y1, x2, y2 = boxes.T
    areas = (x2 - x1) * (y2 - y1)
    order = scores.argsort()[::-1]
    keep = []
    while order.size:
        i = order[0]
        keep.append(i)
        xx1 = np.maximum(x1[i], x1[order[1:]])
        yy1 = np.maximum(y1[i], y1[order[1:]])
        xx2 = np.minimum(x2[i], x2[order[1:]])
        yy2 = np.minimum(y2[i], y2[order[1:]])
        inter = np.clip(xx2 - xx1, 0, None) * np.clip(yy2 - yy1, 0, None)
        ovr = inter / (areas[i] + areas[order[1:]] - inter + 1e-9)
        order = order[1:][ovr <= iou]
    return keep


def detect(session, name, frame, w, h, conf, iou):
    blob, scale, px, py = letterbox(frame, w, h)
    out = session.run(None, {name: blob})[0][0]  # [4 + C, N]
    scores_all = out[4:]
    cls = scores_all.argmax(0)
    scores = scores_all[cls, np.arange(out.shape[1])]
    keep = scores >= conf
    cx, cy, bw, bh = out[:4, keep]
    cls, scores = cls[keep], scores[keep]
    boxes = np.stack([cx - bw / 2, cy - bh / 2, cx + bw / 2, cy + bh / 2], 1)
    boxes = (boxes - [px, py, px, py]) / scale
    fh, fw = frame.shape[:2]
    boxes = boxes.clip(0, [fw, fh, fw, fh])
    # Class-wise NMS in one pass: offset each class far apart.
    kept = nms(boxes + cls[:, None] * 10000.0, scores, iou) if len(scores) else []
    return boxes[kept], scores[kept], cls[kept]


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--input", required=True)
    ap.add_argument("--model", required=True)
    ap.add_argument("--frames", type=int, default=0, help="stop after this many frames (0: the whole clip)")
    ap.add_argument("--mqtt-host", default="127.0.0.1")
    ap.add_argument("--mqtt-port", type=int, default=1883)
    ap.add_argument("--no-mqtt", action="store_true", help="publish nothing")
    ap.add_argument("--ep", choices=["openvino", "cpu"], default="openvino", help="ONNX Runtime execution provider")
    ap.add_argument(
        "--precision",
        choices=["default", "bf16"],
        default="default",
        help="OpenVINO's inference precision: its default (f32 on most CPUs) or bf16",
    )
    ap.add_argument("--confidence", type=float, default=0.25)
    ap.add_argument("--iou", type=float, default=0.45)
    args = ap.parse_args()

    if args.ep == "openvino":
        # The course ran on OpenVINO: its provider on the CPU device, its defaults.
        options = {"device_type": "CPU"}
        if args.precision == "bf16":
            options["load_config"] = json.dumps({"CPU": {"INFERENCE_PRECISION_HINT": "bf16"}})
        session = ort.InferenceSession(args.model, providers=["OpenVINOExecutionProvider"], provider_options=[options])
    else:
        session = ort.InferenceSession(args.model, providers=["CPUExecutionProvider"])
    if session.get_providers()[0] != PROVIDERS[args.ep]:
        sys.exit(f"reference: error: {args.ep} provider not active (got {session.get_providers()})")
    if args.precision != "default" and args.ep != "openvino":
        sys.exit("reference: error: --precision is an OpenVINO setting")
    inp = session.get_inputs()[0]
    h, w = inp.shape[2], inp.shape[3]

    client = None
    if not args.no_mqtt:
        client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"reference-{time.time_ns()}")
        client.connect(args.mqtt_host, args.mqtt_port, 60)
        client.loop_start()
    publish = client.publish if client else (lambda *a, **k: None)

    cap = cv2.VideoCapture(args.input)
    if not cap.isOpened():
        sys.exit(f"reference: error: cannot open {args.input}")
    fps_in = cap.get(cv2.CAP_PROP_FPS) or 10.0
    out = sys.stdout.buffer
    last_count, total, start_frame, frames = 0, 0, 0, 0
    pending = []
    started = time.perf_counter()
    while cap.isOpened():
        if args.frames and frames >= args.frames:
            break
        ok, frame = cap.read()
        if not ok:
            break
        boxes, scores, cls = detect(session, inp.name, frame, w, h, args.confidence, args.iou)
        people = [(b, s) for b, s, c in zip(boxes, scores, cls) if c == 0]
        count = len(people)
        # The course app's counting: a rise adds to the total, a fall ends a stay.
        if count > last_count:
            start_frame = frames
            total += count - last_count
        elif count < last_count:
            duration = (frames - start_frame) / fps_in
            pending.append(publish("person/duration", json.dumps({"duration": duration}), qos=1))
        last_count = count
        pending.append(publish("person", json.dumps({"count": count, "total": total}), qos=1))
        for b, s in people:
            x1, y1, x2, y2 = (int(v) for v in b)
            cv2.rectangle(frame, (x1, y1), (x2, y2), (0, 255, 0), 2)
            cv2.putText(frame, f"person {s:.2f}", (x1, max(y1 - 4, 10)), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (0, 255, 0), 1)
        cv2.putText(frame, f"count {count} total {total}", (8, 16), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (255, 255, 255), 1)
        out.write(frame.tobytes())
        out.flush()
        frames += 1
        pending = [p for p in pending if p is not None and not p.is_published()]
    elapsed = time.perf_counter() - started
    for p in pending:
        p.wait_for_publish(5)
    if client:
        # paho's order: disconnect, then stop the loop. The other way round
        # its network thread sits out its 1 s select timeout before the
        # join returns (measured: ~1 s more wall time, nothing more sent).
        client.disconnect()
        client.loop_stop()
    print(f"reference: {frames} frames in {elapsed:.2f} s ({frames / elapsed:.2f} fps)", file=sys.stderr)


if __name__ == "__main__":
    main()
