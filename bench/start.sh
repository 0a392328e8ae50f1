#!/usr/bin/env bash
# Where edgepipe's start goes, by session shape: process start to the first
# whole frame on stdout (bench/measure.py) and the OpenVINO session's build
# (`session_ms` of `--log edgepipe::model=debug`), for the default (one
# session serving two requests: num_streams=2, num_of_threads=2, bf16, no
# snippets) and the shapes that differ from it in one thing, beside the Python loop on the
# same runtime (bench/reference.py). Whole processes, alternated ROUNDS
# times (the order flips every round), no MQTT on either side. Prints the
# load (uptime) before and after: figures taken above a load of the core
# count are noise; compare shapes within one run.
#   ROUNDS=N   rounds (default 5)
#   FRAMES=N   frames for each run (default 5: the start is what is measured)
# Needs what bench/compare.sh installs (vendor/bench-venv).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
ROUNDS="${ROUNDS:-5}"
FRAMES="${FRAMES:-5}"
INPUT="vendor/data/vtest.avi"
MODEL="models/yolov12n.onnx"
VENV="vendor/bench-venv"
[ -x "$VENV/bin/python" ] || { echo "start: run bench/compare.sh once first (it installs $VENV)" >&2; exit 1; }
F32='load_config={"CPU":{"INFERENCE_PRECISION_HINT":"f32","ENABLE_CPU_PINNING":"NO","SNIPPETS_MODE":"DISABLE"}}'
SNIPPETS='load_config={"CPU":{"INFERENCE_PRECISION_HINT":"bf16","ENABLE_CPU_PINNING":"NO","SNIPPETS_MODE":"ENABLE"}}'
names=(default one-stream one-request f32 snippets two-sessions python)
declare -A args=(
  [default]=""
  [one-stream]="--ep-option num_streams=1"
  [one-request]="--requests 1"
  [two-sessions]="--sessions 2"
)
size="$(ffprobe -v error -select_streams v:0 -show_entries stream=width,height -of csv=p=0:s=x "$INPUT")"
frame_bytes=$(( ${size%x*} * ${size#*x} * 3 ))
logs="$(mktemp -d)"
trap 'rm -rf "$logs"' EXIT

one() {
  local cmd
  case "$1" in
    python) cmd=("$VENV/bin/python" bench/reference.py --ep openvino --input "$INPUT" --model "$MODEL" --frames "$FRAMES" --no-mqtt) ;;
    f32) cmd=(./target/release/edgepipe run --input "$INPUT" --max-frames "$FRAMES" --stdout --no-mqtt --log edgepipe::model=debug --ep-option "$F32") ;;
    snippets) cmd=(./target/release/edgepipe run --input "$INPUT" --max-frames "$FRAMES" --stdout --no-mqtt --log edgepipe::model=debug --ep-option "$SNIPPETS") ;;
    # shellcheck disable=SC2206
    *) cmd=(./target/release/edgepipe run --input "$INPUT" --max-frames "$FRAMES" --stdout --no-mqtt --log edgepipe::model=debug ${args[$1]}) ;;
  esac
  local out
  out="$(python3 bench/measure.py --frame-bytes "$frame_bytes" --log "$logs/run.log" -- "${cmd[@]}")"
  echo "$1 $out $(grep -o 'session_ms=[0-9.]*' "$logs/run.log" | sed 's/session_ms=//' | paste -sd+ -)"
}

echo "start: load before: $(uptime)" >&2
one default >/dev/null; one python >/dev/null   # warm-up: page cache
for r in $(seq "$ROUNDS"); do
  order=("${names[@]}")
  [ $((r % 2)) = 0 ] && mapfile -t order < <(printf '%s\n' "${names[@]}" | tac)
  for n in "${order[@]}"; do one "$n" >> "$logs/rounds"; done
done
echo "start: load after: $(uptime)" >&2
python3 - "$logs/rounds" "${names[@]}" <<'PY'
import collections, json, statistics, sys
first, session = collections.defaultdict(list), collections.defaultdict(list)
for line in open(sys.argv[1]):
    name, js, *rest = line.split(" ", 2)
    first[name].append(json.loads(js)["first_frame_s"])
    if rest and rest[0].strip():
        session[name].append(rest[0].strip())
print(f"{'shape':14s} {'first frame s: median [min - max]':36s} session ms per round")
for name in sys.argv[2:]:
    f = first[name]
    s = " ".join(str(x) for x in session[name]) or "-"
    print(f"{name:14s} {statistics.median(f):.3f} [{min(f):.3f} - {max(f):.3f}]{'':14s} {s}")
PY
