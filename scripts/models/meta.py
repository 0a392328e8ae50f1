"""What the model tools share: edgepipe's metadata keys on an ONNX model and
the pre-processing they describe (the same rules as host/src/layouts/input.rs,
written again here as the independent reference)."""
import os

import cv2
import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def set_props(model, props):
    """Set (or replace) metadata_props of an onnx ModelProto."""
    kept = [p for p in model.metadata_props if p.key not in props]
    del model.metadata_props[:]
    model.metadata_props.extend(kept)
    for k, v in props.items():
        p = model.metadata_props.add()
        p.key, p.value = k, v


def names_dict(labels):
    return "{" + ", ".join(f"{i}: '{n}'" for i, n in enumerate(labels)) + "}"


def coco_names():
    with open(os.path.join(ROOT, "models", "coco-labels.txt")) as f:
        return names_dict([l.strip() for l in f if l.strip()])


class Input:
    """The model's input as the host reads it: size and type from the
    tensor, channel order, normalisation and resize from edgepipe.* keys."""

    def __init__(self, session):
        inp = session.get_inputs()[0]
        meta = session.get_modelmeta().custom_metadata_map
        self.name = inp.name
        shape = inp.shape
        self.nchw = shape[1] == 3
        self.h, self.w = (shape[2], shape[3]) if self.nchw else (shape[1], shape[2])
        self.uint8 = inp.type == "tensor(uint8)"
        self.bgr = meta.get("edgepipe.channels", "rgb") == "bgr"
        floats = lambda k, d: np.array([float(x) for x in meta.get(k, d).split(",")], np.float32)
        self.mean = floats("edgepipe.mean", "0,0,0")
        self.std = floats("edgepipe.std", "255,255,255")
        layout = meta.get("edgepipe.layout", "")
        default_resize = "stretch" if layout == "tfod" else "letterbox"
        self.stretch = meta.get("edgepipe.resize", default_resize) == "stretch"

    def tensor(self, frame):
        """(tensor, to_frame) for a BGR uint8 frame; to_frame maps input
        pixel boxes (x1, y1, x2, y2) back to frame pixels, clipped."""
        fh, fw = frame.shape[:2]
        if self.stretch:
            sx, sy, px, py = self.w / fw, self.h / fh, 0, 0
            canvas = cv2.resize(frame, (self.w, self.h), interpolation=cv2.INTER_LINEAR)
        else:
            s = min(self.w / fw, self.h / fh)
            nw, nh = min(max(round(fw * s), 1), self.w), min(max(round(fh * s), 1), self.h)
            px, py = (self.w - nw) // 2, (self.h - nh) // 2
            sx = sy = s
            canvas = np.full((self.h, self.w, 3), 114, np.uint8)
            canvas[py:py + nh, px:px + nw] = cv2.resize(frame, (nw, nh), interpolation=cv2.INTER_LINEAR)
        img = canvas if self.bgr else canvas[:, :, ::-1]
        if self.uint8:
            t = np.ascontiguousarray(img)
        else:
            t = (img.astype(np.float32) - self.mean) / self.std
        t = t.transpose(2, 0, 1) if self.nchw else t
        t = np.ascontiguousarray(t[None])

        def to_frame(b):
            x1 = np.clip((b[:, 0] - px) / sx, 0, fw)
            y1 = np.clip((b[:, 1] - py) / sy, 0, fh)
            x2 = np.clip((b[:, 2] - px) / sx, 0, fw)
            y2 = np.clip((b[:, 3] - py) / sy, 0, fh)
            return np.stack([x1, y1, x2, y2], axis=1)

        return t, to_frame
