#!/usr/bin/env bash
# edgepipe (`run` with its defaults) against the course's loop in Python
# (bench/reference.py) on the SAME ONNX Runtime and OpenVINO (the
# onnxruntime-openvino 1.24.1 wheel edgepipe takes its library from), with
# the OpenVINO provider on both sides, on the same clip and model, both
# publishing to one mosquitto on a free loopback port, frames drained from
# stdout. Whole processes, alternated ROUNDS times (the order flips every
# round, so load that drifts lands on both sides) after one warm-up run of
# each. Then `edgepipe bench` BENCH_ROUNDS times per provider, the providers
# alternated (the order flips every round), for the pipeline / best raw
# shape ratio: one 150-frame run swung by +-2.5% on this shared machine. Prints, beside the targets of issue 22 (README, "Throughput"):
#   - wall time and fps of both (median and spread over the rounds), and the
#     per-round ratio Python wall / edgepipe wall (target >= 2.0 every round);
#   - peak resident memory (getrusage of the child: bench/measure.py)
#     (target edgepipe <= Python);
#   - process start to first whole frame on stdout (target edgepipe <= Python);
#   - pipeline / best raw shape, OpenVINO and CPU providers (target >= 0.95):
#     the pipeline's steady state (frames out after every worker's first two
#     session runs, as raw leaves out two warm-up runs a session) against the
#     raw figure, beside the whole run's (fill and drain included); median
#     and spread over the bench rounds, and how many rounds met it.
# The machine's load (uptime) is printed before and after: figures taken at
# a load above the core count are noise.
#   FRAMES=N     frames for each run (default 150)
#   ROUNDS=N     rounds (default 6)
#   INPUT=FILE   the clip (default vendor/data/vtest.avi)
#   PY_CPU=1     also run the Python loop on the CPU provider each round
#   PY_BF16=1    also run the Python loop with OpenVINO in bfloat16 each round
#                (its best configuration on a CPU with BF16; edgepipe asks
#                for bf16, the target's reference keeps OpenVINO's default)
#   RAW=0        skip the `edgepipe bench` part
#   BENCH_ROUNDS=N  runs of `edgepipe bench` per provider (default 5)
#   MQTT=0       no broker: both sides publish nothing
#   EDGEPIPE_ARGS="..."  extra flags for edgepipe run (not the defaults any more)
# Installs the Python side (bench/requirements.txt) into vendor/bench-venv
# the first time, and again only when that file changes.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
export PATH="$HOME/.cargo/bin:$PATH"
FRAMES="${FRAMES:-150}"
ROUNDS="${ROUNDS:-6}"
INPUT="${INPUT:-vendor/data/vtest.avi}"
PY_CPU="${PY_CPU:-0}"
PY_BF16="${PY_BF16:-0}"
RAW="${RAW:-1}"
MQTT="${MQTT:-1}"
BENCH_ROUNDS="${BENCH_ROUNDS:-5}"
MODEL="models/yolov12n.onnx"
VENV="vendor/bench-venv"
say() { printf 'compare: %s\n' "$*" >&2; }

[ -f "$INPUT" ] && [ -f "$MODEL" ] || EDGEPIPE_SETUP_NO_BUILD=1 bash scripts/setup.sh
if [ ! -x target/release/edgepipe ] || [ ! -f target/plugins/draw-boxes.wasm ]; then bash scripts/setup.sh; fi

# A venv of its own: onnxruntime and onnxruntime-openvino cannot share one.
if ! cmp -s bench/requirements.txt "$VENV/.installed-requirements"; then
  say "installing $(grep -v '^#' bench/requirements.txt | tr '\n' ' ')into $VENV"
  rm -rf "$VENV"
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install --quiet --disable-pip-version-check -r bench/requirements.txt
  cp bench/requirements.txt "$VENV/.installed-requirements"
fi

logs="$(mktemp -d)"
broker=""
trap '[ -n "$broker" ] && kill "$broker" 2>/dev/null; rm -rf "$logs"' EXIT
ep_mqtt=(--no-mqtt); py_mqtt=(--no-mqtt); bench_mqtt=()
if [ "$MQTT" = 1 ]; then
  port="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
  mosquitto -p "$port" >/dev/null 2>&1 &
  broker=$!
  for _ in $(seq 100); do (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break; sleep 0.05; done
  ep_mqtt=(--mqtt-url "mqtt://127.0.0.1:$port"); py_mqtt=(--mqtt-port "$port"); bench_mqtt=("${ep_mqtt[@]}")
fi
size="$(ffprobe -v error -select_streams v:0 -show_entries stream=width,height -of csv=p=0:s=x "$INPUT")"
frame_bytes=$(( ${size%x*} * ${size#*x} * 3 ))
load_before="$(uptime)"
say "load before: $load_before"

# One run: measure.py's JSON line with the process's own fps added.
ours() {
  local out
  out="$(python3 bench/measure.py --frame-bytes "$frame_bytes" --log "$logs/edgepipe.log" -- \
    ./target/release/edgepipe run --input "$INPUT" --max-frames "$FRAMES" --stdout "${ep_mqtt[@]}" ${EDGEPIPE_ARGS:-})"
  echo "edgepipe $out $(sed -n 's/^edgepipe: summary: [0-9]* frames in [0-9.]* s (\([0-9.]*\) fps).*/\1/p' "$logs/edgepipe.log")"
}
theirs() { # PEER: openvino, cpu or openvino-bf16
  local out ep="${1%-bf16}" precision=default
  [ "$1" = "$ep" ] || precision=bf16
  out="$(python3 bench/measure.py --frame-bytes "$frame_bytes" --log "$logs/python-$1.log" -- \
    "$VENV/bin/python" bench/reference.py --ep "$ep" --precision "$precision" --input "$INPUT" --model "$MODEL" --frames "$FRAMES" "${py_mqtt[@]}")"
  echo "python-$1 $out $(sed -n 's/^reference: [0-9]* frames in [0-9.]* s (\([0-9.]*\) fps)$/\1/p' "$logs/python-$1.log")"
}
peers=(openvino); [ "$PY_CPU" = 1 ] && peers+=(cpu); [ "$PY_BF16" = 1 ] && peers+=(openvino-bf16)
# Warm-up: fills the compiled-plugin cache and the page cache for both.
ours >/dev/null
for p in "${peers[@]}"; do theirs "$p" >/dev/null; done
grep -E "model loaded" "$logs/edgepipe.log" | sed 's/^.*INFO //' >&2
: > "$logs/rounds"
for r in $(seq "$ROUNDS"); do
  if [ $((r % 2)) = 1 ]; then
    { ours; for p in "${peers[@]}"; do theirs "$p"; done; } > "$logs/round"
  else
    { for p in "${peers[@]}"; do theirs "$p"; done; ours; } > "$logs/round"
  fi
  sed "s/^/$r /" "$logs/round" >> "$logs/rounds"
  say "round $r: $(awk '{printf "%s %s fps; ", $1, $3}' "$logs/round")"
done

# Per provider and bench round, one line:
# PROVIDER REFERENCE STEADY_FPS STEADY_RATIO WHOLE_FPS WHOLE_RATIO
# (section 3 of `edgepipe bench`; "none none" without a steady state).
raw="$logs/raw"; : > "$raw"
if [ "$RAW" = 1 ]; then
  for r in $(seq "$BENCH_ROUNDS"); do
    if [ $((r % 2)) = 1 ]; then eps=(openvino cpu); else eps=(cpu openvino); fi
    for ep in "${eps[@]}"; do
      say "bench round $r: edgepipe bench --ep $ep --frames $FRAMES --raw-runs 30 (load: $(uptime | sed 's/.*average: //'))"
      out="$logs/bench-$ep-$r.out"
      ./target/release/edgepipe bench --ep "$ep" --frames "$FRAMES" --raw-runs 30 "${bench_mqtt[@]}" 2>"$logs/bench-$ep.log" \
        > "$out" || { cat "$logs/bench-$ep.log" >&2; exit 1; }
      { echo "== bench round $r, $ep"; cat "$out"; } >> "$logs/bench.out"
      num='\([0-9.]*\) \/ \([0-9.]*\) = \([0-9.]*\)'
      steady="$(sed -n "s/^ *$ep *steady state $num .*/\1 \3/p" "$out")"
      whole="$(sed -n "s/^ *$ep *whole run $num .*/\2 \1 \3/p" "$out")"
      [ -n "$whole" ] || { say "no pipeline / raw figures in the bench report:"; cat "$out" >&2; exit 1; }
      read -r ref whole_fps whole_ratio <<<"$whole"
      echo "$ep $ref ${steady:-none none} $whole_fps $whole_ratio" >> "$raw"
    done
  done
  sed 's/^/  /' "$logs/bench.out" >&2
fi
load_after="$(uptime)"
say "load after: $load_after"
python3 bench/summary.py "$logs/rounds" "$raw" "$FRAMES" "$load_before" "$load_after"
