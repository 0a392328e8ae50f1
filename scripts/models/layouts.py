"""Test models of the layouts no registry publishes, made from yolov12n so
that the same frames give the same detections through every layout:

- yolov5: [1, N, 5 + C] rows (cx, cy, w, h, objectness, C class scores):
  the transpose of yolov12n's [1, 4 + C, N] with objectness = the best class
  score and the class scores divided by it (objectness x class = the score).
- end2end: [1, K, 6] rows (x1, y1, x2, y2, score, class), NMS inside the
  graph (NonMaxSuppression, then TopK by score and gathers), as YOLOv10-style
  end-to-end detectors give them: the host runs no NMS on these.
- end2end-badclass: the same with every class id + 1000 (ids beyond the labels).

Usage: layouts.py YOLOV12N.onnx OUT_DIR
"""
import os
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper


MAX_OUT = 300


def _const(g, name, array):
    g.initializer.append(numpy_helper.from_array(np.asarray(array), name))
    return name


def _retarget(model, nodes, output, shape):
    g = model.graph
    g.node.extend(nodes)
    del g.output[:]
    g.output.append(helper.make_tensor_value_info(output, TensorProto.FLOAT, shape))
    # No edgepipe.layout key: the host must recognise these by their shapes.
    onnx.checker.check_model(model)
    return model


def yolov5(model, src, classes, anchors):
    g, n = model.graph, helper.make_node
    nodes = [
        n("Transpose", [src], ["t_rows"], perm=[0, 2, 1]),  # [1, N, 4+C]
        n("Slice", ["t_rows", _const(g, "v5_b0", [0]), _const(g, "v5_b1", [4]), _const(g, "v5_ax", [2])], ["t_box"]),
        n("Slice", ["t_rows", _const(g, "v5_c0", [4]), _const(g, "v5_c1", [4 + classes]), "v5_ax"], ["t_cls"]),
        n("ReduceMax", ["t_cls", _const(g, "v5_rax", [2])], ["t_obj"], keepdims=1),
        n("Max", ["t_obj", _const(g, "v5_eps", np.array(1e-6, np.float32))], ["t_den"]),
        n("Div", ["t_cls", "t_den"], ["t_cond"]),
        n("Concat", ["t_box", "t_obj", "t_cond"], ["rows5"], axis=2),
    ]
    return _retarget(model, nodes, "rows5", [1, anchors, 5 + classes])


def end2end(model, src, classes, class_offset=0.0):
    g, n = model.graph, helper.make_node
    c = lambda name, a: _const(g, name, a)
    nodes = [
        n("Slice", [src, c("e_b0", [0]), c("e_b1", [4]), c("e_ax", [1])], ["e_box_t"]),  # [1,4,N]
        n("Transpose", ["e_box_t"], ["e_boxes"], perm=[0, 2, 1]),  # [1,N,4] cx,cy,w,h
        n("Slice", [src, c("e_c0", [4]), c("e_c1", [4 + classes]), "e_ax"], ["e_scores"]),  # [1,C,N]
        n("NonMaxSuppression", ["e_boxes", "e_scores", c("e_max", np.array([MAX_OUT], np.int64)),
                                c("e_iou", np.array([0.45], np.float32)), c("e_thr", np.array([0.25], np.float32))],
          ["e_sel"], center_point_box=1),  # [K, 3] = batch, class, box
        n("GatherND", ["e_scores", "e_sel"], ["e_sc"]),  # [K]
        n("Shape", ["e_sc"], ["e_k"]),
        n("Min", ["e_k", c("e_cap", np.array([MAX_OUT], np.int64))], ["e_kk"]),
        n("TopK", ["e_sc", "e_kk"], ["e_top", "e_ti"], axis=0, largest=1, sorted=1),
        n("Gather", ["e_sel", "e_ti"], ["e_tsel"], axis=0),  # [k, 3]
        n("Gather", ["e_tsel", c("e_i2", np.array(2, np.int64))], ["e_bi"], axis=1),
        n("Gather", ["e_tsel", c("e_i1", np.array(1, np.int64))], ["e_ci"], axis=1),
        n("Squeeze", ["e_boxes", c("e_sq", [0])], ["e_b2"]),  # [N,4]
        n("Gather", ["e_b2", "e_bi"], ["e_kb"], axis=0),  # [k,4]
        n("Slice", ["e_kb", c("e_p0", [0]), c("e_p2", [2]), c("e_ax1", [1])], ["e_xy"]),
        n("Slice", ["e_kb", c("e_p2b", [2]), c("e_p4", [4]), "e_ax1"], ["e_wh"]),
        n("Mul", ["e_wh", c("e_half", np.array(0.5, np.float32))], ["e_hwh"]),
        n("Sub", ["e_xy", "e_hwh"], ["e_x1y1"]),
        n("Add", ["e_xy", "e_hwh"], ["e_x2y2"]),
        n("Unsqueeze", ["e_top", "e_ax1"], ["e_sc1"]),
        n("Cast", ["e_ci"], ["e_cf"], to=TensorProto.FLOAT),
        n("Add", ["e_cf", c("e_off", np.array(class_offset, np.float32))], ["e_cfo"]),
        n("Unsqueeze", ["e_cfo", "e_ax1"], ["e_cl1"]),
        n("Concat", ["e_x1y1", "e_x2y2", "e_sc1", "e_cl1"], ["e_rows"], axis=1),
        n("Unsqueeze", ["e_rows", c("e_ax0", [0])], ["dets"]),
    ]
    return _retarget(model, nodes, "dets", [1, "detections", 6])


def main(src_path, out_dir):
    os.makedirs(out_dir, exist_ok=True)
    import onnxruntime as ort
    out = ort.InferenceSession(src_path).get_outputs()[0]
    _, rows, anchors = out.shape
    classes = rows - 4
    made = {
        "yolov12n-yolov5.onnx": lambda m: yolov5(m, out.name, classes, anchors),
        "yolov12n-end2end.onnx": lambda m: end2end(m, out.name, classes),
        "yolov12n-end2end-badclass.onnx": lambda m: end2end(m, out.name, classes, 1000.0),
    }
    for name, make in made.items():
        model = make(onnx.load(src_path))
        tmp = os.path.join(out_dir, name + ".part")
        onnx.save(model, tmp)
        os.replace(tmp, os.path.join(out_dir, name))


if __name__ == "__main__":
    main(*sys.argv[1:3])
