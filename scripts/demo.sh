#!/usr/bin/env bash
# The main job: set up what is missing, build, run the default pipeline on
# vtest.avi with the embedded MQTT broker, and pipe the annotated frames into
# ffmpeg to write out/demo.mp4.
#   MAX_FRAMES=N      stop after N frames (default: the whole clip)
#   BROKER_PORT=P     embedded broker port (default 1883)
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
export PATH="$HOME/.cargo/bin:$PATH"
bash scripts/setup.sh

OUT="$ROOT/out"
mkdir -p "$OUT"
args=(run --input vendor/data/vtest.avi --stdout --broker-port "${BROKER_PORT:-1883}" --record "$OUT/demo.jsonl")
[ -n "${MAX_FRAMES:-}" ] && args+=(--max-frames "$MAX_FRAMES")

echo "demo: watch it live at http://127.0.0.1:8080/ (edgepipe's live view) while it runs" >&2
# Frame geometry for ffmpeg comes from the clip: 768x576 at 10 fps.
set +e
./target/release/edgepipe "${args[@]}" 2> >(tee "$OUT/demo.log" >&2) \
  | ffmpeg -hide_banner -loglevel error -y -f rawvideo -pixel_format bgr24 -video_size 768x576 -framerate 10 -i - \
      -c:v libx264 -preset veryfast -pix_fmt yuv420p "$OUT/demo.mp4"
codes=("${PIPESTATUS[@]}")
set -e
sleep 0.2
[ "${codes[0]}" -eq 0 ] || { echo "demo: edgepipe exited with ${codes[0]} (see $OUT/demo.log)" >&2; exit "${codes[0]}"; }
[ "${codes[1]}" -eq 0 ] || { echo "demo: ffmpeg exited with ${codes[1]}" >&2; exit "${codes[1]}"; }
frames=$(ffprobe -v error -count_frames -select_streams v:0 -show_entries stream=nb_read_frames -of csv=p=0 "$OUT/demo.mp4")
echo "demo: annotated video: $OUT/demo.mp4 ($frames frames)"
echo "demo: detections per frame: $OUT/demo.jsonl; log: $OUT/demo.log"
grep -E 'summary: (MQTT|[0-9]+ frames)' "$OUT/demo.log" | sed 's/^edgepipe: summary: /demo: /'
