#!/usr/bin/env bash
# Regenerate the default plugins' golden outputs (plugins/<name>/golden.jsonl)
# from tests/data/vtest-100.jsonl, recorded with:
#   edgepipe run --max-frames 100 --no-mqtt --record tests/data/vtest-100.jsonl
# Run it after an intended change of a default plugin's output, then review
# the diff: the tests (tests/all/plugin_cli.rs) compare against these files.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
BIN=target/release/edgepipe
P=target/plugins
IN=tests/data/vtest-100.jsonl
"$BIN" plugin test "$P/people-counter.wasm" --input "$IN" -o plugins/people-counter/golden.jsonl
"$BIN" plugin test "$P/course-topics.wasm" --input "$IN" --stats-plugin "$P/people-counter.wasm" -o plugins/course-topics/golden.jsonl
"$BIN" plugin test "$P/draw-boxes.wasm" --input "$IN" --video vendor/data/vtest.avi -o plugins/draw-boxes/golden.jsonl
"$BIN" plugin test "$P/draw-boxes.wasm" --input "$IN" --video vendor/data/vtest.avi --stats-plugin "$P/people-counter.wasm" -o plugins/draw-boxes/golden-tracked.jsonl
# Every stat draw-boxes draws (tracks, count, total, speed, lines, zones), from
# tests/data/vtest-100-stats.jsonl: the record with the stats of people-counter,
# speedometer and line-counter (the settings below) in each line. This golden
# was made by the last pixel-world (contract 0.3.0) draw-boxes, before it moved
# to world `overlay`: the shapes it returns now must paint the same bytes.
"$BIN" plugin test "$P/draw-boxes.wasm" --input tests/data/vtest-100-stats.jsonl --video vendor/data/vtest.avi -o plugins/draw-boxes/golden-all-stats.jsonl
"$BIN" plugin test "$P/class-names.wasm" --input "$IN" -o plugins/class-names/golden.jsonl
"$BIN" plugin test "$P/speedometer.wasm" --input "$IN" -o plugins/speedometer/golden.jsonl
# A line across the path right of the lamp post, a zone around the post
# (the same settings as tests/all/plugin_cli.rs).
"$BIN" plugin test "$P/line-counter.wasm" --input "$IN" \
  --set "lines=path: 0.65,0.30 0.65,0.80" --set "zones=lamp-post: 0.45,0.38 0.60,0.38 0.60,0.56 0.45,0.56" \
  -o plugins/line-counter/golden.jsonl
"$BIN" plugin test "$P/occupancy-alert.wasm" --input "$IN" -o plugins/occupancy-alert/golden.jsonl
"$BIN" plugin test "$P/hub-formatter.wasm" --input "$IN" --stats-plugin "$P/people-counter.wasm" -o plugins/hub-formatter/golden.jsonl
wc -l plugins/*/golden.jsonl
