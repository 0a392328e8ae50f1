#!/usr/bin/env bash
# edgepipe (default settings) against the Python reference loop
# (bench/reference.py) on the same clip, model and broker (a mosquitto on a
# free loopback port), frames drained from stdout for both. The two run
# alternately, ROUNDS times (the order flips every round, so load that drifts
# lands on both sides); prints each round and the medians: fps ratio, peak
# resident memory and seconds from process start to the first frame out
# (bench/measure.py). The machine's load (uptime) is printed before and after.
#   FRAMES=N    frames for each run (default 200)
#   ROUNDS=N    rounds (default 5)
#   INPUT=FILE  the clip (default vendor/data/vtest.avi)
#   EDGEPIPE_ARGS="..."  extra flags for edgepipe run (e.g. "--ep cpu")
# Installs the Python dependencies (bench/requirements.txt) into bench/.venv
# the first time, and again only when that file changes.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
export PATH="$HOME/.cargo/bin:$PATH"
FRAMES="${FRAMES:-200}"
ROUNDS="${ROUNDS:-5}"
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
trap 'kill "$broker" 2>/dev/null || true; rm -rf "$logs"' EXIT
size="$(ffprobe -v error -select_streams v:0 -show_entries stream=width,height -of csv=p=0:s=x "$INPUT")"
frame_bytes=$(( ${size%x*} * ${size#*x} * 3 ))
say "load before: $(uptime)"
# One run of edgepipe, then of the reference (or the other way round); a warm-up
# run first fills the compiled-plugin and OpenVINO caches ("with cached plugins").
ours() {
  python3 bench/measure.py --frame-bytes "$frame_bytes" --log "$logs/edgepipe.log" -- \
    ./target/release/edgepipe run --input "$INPUT" --max-frames "$FRAMES" --stdout --mqtt-url "mqtt://127.0.0.1:$port" ${EDGEPIPE_ARGS:-}
  sed -n 's/^edgepipe: summary: [0-9]* frames in [0-9.]* s (\([0-9.]*\) fps).*/\1/p' "$logs/edgepipe.log"
}
theirs() {
  python3 bench/measure.py --frame-bytes "$frame_bytes" --log "$logs/reference.log" -- \
    "$VENV/bin/python" bench/reference.py --input "$INPUT" --model "$MODEL" --frames "$FRAMES" --mqtt-port "$port"
  sed -n 's/^reference: [0-9]* frames in [0-9.]* s (\([0-9.]*\) fps)$/\1/p' "$logs/reference.log"
}
ours >/dev/null
grep -E "model loaded" "$logs/edgepipe.log" | sed 's/^.*INFO //' >&2
: > "$logs/rounds"
for r in $(seq "$ROUNDS"); do
  if [ $((r % 2)) = 1 ]; then a="$(ours)"; b="$(theirs)"; else b="$(theirs)"; a="$(ours)"; fi
  echo "$a" | tr '\n' ' ' >> "$logs/rounds"; echo "$b" | tr '\n' ' ' >> "$logs/rounds"; echo >> "$logs/rounds"
  say "round $r: edgepipe $(echo "$a" | tr '\n' ' ')| python $(echo "$b" | tr '\n' ' ')"
done
say "load after: $(uptime)"
python3 - "$logs/rounds" "$FRAMES" <<'PY'
import json, statistics, sys
rows = []
for line in open(sys.argv[1]):
    parts = line.split()
    # edgepipe: json, fps; python: json, fps
    (ej, ef, pj, pf) = parts
    rows.append((json.loads(ej), float(ef), json.loads(pj), float(pf)))
med = statistics.median
ratio = med(r[1] / r[3] for r in rows)
ours, theirs = med(r[1] for r in rows), med(r[3] for r in rows)
rss = (med(r[0]["maxrss_kib"] for r in rows) / 1024, med(r[2]["maxrss_kib"] for r in rows) / 1024)
start = (med(r[0]["first_frame_s"] for r in rows), med(r[2]["first_frame_s"] for r in rows))
ok = lambda c: "met" if c else "missed"
print(f"{len(rows)} rounds of {sys.argv[2]} frames, medians:")
print(f"  fps: edgepipe {ours:.2f} / Python {theirs:.2f}; median of the per-round ratios {ratio:.2f} (target >= 1.6: {ok(ratio >= 1.6)})")
print(f"  peak resident memory: edgepipe {rss[0]:.1f} MiB, Python {rss[1]:.1f} MiB (target edgepipe <= Python: {ok(rss[0] <= rss[1])})")
print(f"  process start to first frame out: edgepipe {start[0]:.2f} s, Python {start[1]:.2f} s (target edgepipe <= 0.6 s: {ok(start[0] <= 0.6)})")
PY
