// {{name}}: a draw stage (BGR24 pixels -> BGR24 pixels, same size).
//
// Build, check, test (from this folder's parent):
//   edgepipe plugin build {{name}}
//   edgepipe plugin check {{name}}/{{name}}.wasm
//   edgepipe plugin test {{name}}/{{name}}.wasm --input frames.jsonl --video clip.avi
//
// Known limit (componentize-js 0.23.0): frame buffers are not reclaimed before
// the 64 MiB memory cap is hit (about 40 frames at 768x576; the stage is then
// re-created from its state). Write draw stages that must run for long in Rust
// for now.
import { Draw, exportDraw } from "./edgepipe-sdk.js";

class {{Class}} extends Draw {
  configure(settings) {
    this.thickness = settings.number("thickness", 2);
  }

  draw(info, pixels, detections, stats) {
    // A red bar across the top, as tall as `thickness` (keep per-frame work
    // small: a call has a deadline, 50 ms by default).
    for (let i = 0; i < info.width * this.thickness; i++) {
      pixels[i * 3] = 0;
      pixels[i * 3 + 1] = 0;
      pixels[i * 3 + 2] = 255;
    }
    return pixels;
  }
}

export const { configure, draw, save, restore } = exportDraw({{Class}});
