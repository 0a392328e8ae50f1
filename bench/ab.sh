#!/usr/bin/env bash
# Two edgepipe binaries against each other, whole processes alternated (the
# order flips every round) after one warm-up run of each: the default `run`
# that bench/compare.sh measures (frames to stdout, drained). Prints each
# run's peak resident memory, start to first frame and wall time
# (bench/measure.py) and the run's median capture ms a frame (decode and
# conversion to BGR), then the medians of both and the load (uptime).
#   bash bench/ab.sh OLD_BINARY NEW_BINARY
#   FRAMES=N (default 150)  ROUNDS=N (default 6)  INPUT=FILE (vendor/data/vtest.avi)
#   ARGS="..." extra flags for both (default --no-mqtt)
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
[ $# -eq 2 ] || { echo "usage: bash bench/ab.sh OLD_BINARY NEW_BINARY" >&2; exit 2; }
old="$1"; new="$2"
FRAMES="${FRAMES:-150}"; ROUNDS="${ROUNDS:-6}"; INPUT="${INPUT:-vendor/data/vtest.avi}"
ARGS="${ARGS:---no-mqtt}"
size="$(ffprobe -v error -select_streams v:0 -show_entries stream=width,height -of csv=p=0:s=x "$INPUT")"
frame_bytes=$(( ${size%x*} * ${size#*x} * 3 ))
logs="$(mktemp -d)"; trap 'rm -rf "$logs"' EXIT
one() { # name binary: measure.py's JSON line with the run's median capture (decode) ms added
  local out cap
  out="$(python3 bench/measure.py --frame-bytes "$frame_bytes" --log "$logs/$1.log" -- \
    "$2" run --input "$INPUT" --max-frames "$FRAMES" --stdout $ARGS)"
  cap="$(sed -n 's/^edgepipe: summary: median ms per frame: capture \([0-9.]*\),.*/\1/p' "$logs/$1.log")"
  echo "$1 ${out%\}},\"capture_ms\":${cap:-null}}"
}
echo "load before: $(uptime)"
one old "$old" >/dev/null; one new "$new" >/dev/null
for r in $(seq "$ROUNDS"); do
  if [ $((r % 2)) = 1 ]; then one old "$old"; one new "$new"; else one new "$new"; one old "$old"; fi
done | tee "$logs/runs"
echo "load after: $(uptime)"
python3 - "$logs/runs" <<'PY'
import json, statistics, sys
runs = {}
for line in open(sys.argv[1]):
    name, js = line.split(" ", 1)
    runs.setdefault(name, []).append(json.loads(js))
for name in ("old", "new"):
    r = runs[name]
    med = lambda k: statistics.median(x[k] for x in r)
    print(f"{name}: peak memory {med('maxrss_kib') / 1024:.1f} MiB "
          f"[{min(x['maxrss_kib'] for x in r) / 1024:.1f}-{max(x['maxrss_kib'] for x in r) / 1024:.1f}], "
          f"start to first frame {med('first_frame_s'):.3f} s "
          f"[{min(x['first_frame_s'] for x in r):.3f}-{max(x['first_frame_s'] for x in r):.3f}], "
          f"wall {med('wall_s'):.2f} s, capture (decode + convert) {med('capture_ms'):.2f} ms a frame "
          f"(medians of {len(r)})")
PY
