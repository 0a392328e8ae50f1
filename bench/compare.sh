#!/usr/bin/env bash
# edgepipe against the Python reference loop (bench/reference.py) on the same
# clip, model and broker (a mosquitto on a free loopback port), frames to
# /dev/null for both. Prints both frame rates and edgepipe fps / Python fps.
#   FRAMES=N    frames for each (default 300)
#   INPUT=FILE  the clip (default vendor/data/vtest.avi)
# Installs the Python dependencies (bench/requirements.txt) into bench/.venv
# the first time, and again only when that file changes.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
export PATH="$HOME/.cargo/bin:$PATH"
FRAMES="${FRAMES:-300}"
INPUT="${INPUT:-vendor/data/vtest.avi}"
MODEL="models/yolov12n.onnx"
VENV="bench/.venv"
say() { printf 'compare: %s\n' "$*" >&2; }

[ -f "$INPUT" ] && [ -f "$MODEL" ] || EDGEPIPE_SETUP_NO_BUILD=1 bash scripts/setup.sh
if [ ! -x target/release/edgepipe ] || [ ! -f target/plugins/draw-boxes.wasm ]; then bash scripts/setup.sh; fi

if [ ! -x "$VENV/bin/python" ]; then
  say "creating $VENV"
  python3 -m venv "$VENV"
fi
if ! cmp -s bench/requirements.txt "$VENV/.installed-requirements"; then
  say "installing $(grep -v '^#' bench/requirements.txt | tr '\n' ' ')"
  "$VENV/bin/pip" install --quiet --disable-pip-version-check -r bench/requirements.txt
  cp bench/requirements.txt "$VENV/.installed-requirements"
fi

port="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
mosquitto -p "$port" >/dev/null 2>&1 &
broker=$!
trap 'kill "$broker" 2>/dev/null || true' EXIT
for _ in $(seq 100); do (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break; sleep 0.05; done

logs="$(mktemp -d)"
say "edgepipe: $FRAMES frames of $INPUT, MQTT to mosquitto on port $port"
./target/release/edgepipe run --input "$INPUT" --max-frames "$FRAMES" --stdout --mqtt-url "mqtt://127.0.0.1:$port" \
  >/dev/null 2>"$logs/edgepipe.log" || { cat "$logs/edgepipe.log" >&2; exit 1; }
ours="$(sed -n 's/^edgepipe: summary: [0-9]* frames in [0-9.]* s (\([0-9.]*\) fps).*/\1/p' "$logs/edgepipe.log")"
grep '^edgepipe: summary:' "$logs/edgepipe.log" >&2

say "python reference: $FRAMES frames of $INPUT, same broker"
"$VENV/bin/python" bench/reference.py --input "$INPUT" --model "$MODEL" --frames "$FRAMES" --mqtt-port "$port" \
  >/dev/null 2>"$logs/reference.log" || { cat "$logs/reference.log" >&2; exit 1; }
theirs="$(sed -n 's/^reference: [0-9]* frames in [0-9.]* s (\([0-9.]*\) fps)$/\1/p' "$logs/reference.log")"
tail -n 1 "$logs/reference.log" >&2
rm -rf "$logs"

[ -n "$ours" ] && [ -n "$theirs" ] || { say "error: could not read both frame rates"; exit 1; }
python3 - "$ours" "$theirs" <<'PY'
import sys
ours, theirs = map(float, sys.argv[1:3])
print(f"edgepipe {ours:.2f} fps / Python {theirs:.2f} fps = {ours / theirs:.2f} (target >= 1.2: {'met' if ours / theirs >= 1.2 else 'missed'})")
PY
