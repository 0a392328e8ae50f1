// {{name}}: a draw stage (BGR24 pixels -> BGR24 pixels, same size).
//
// Build, check, test (from this folder's parent):
//   edgepipe plugin build {{name}}
//   edgepipe plugin check {{name}}/{{name}}.wasm
//   edgepipe plugin test {{name}}/{{name}}.wasm --input frames.jsonl --video clip.avi
//
// `pixels` is freed when the next frame arrives (the SDK detaches it, so the
// engine need not collect 1.3 MB per frame): draw on it and return it, or
// return one array you keep and reuse; copy (`pixels.slice()`) what you need
// from an earlier frame. A new array returned every frame is garbage the
// engine collects too late for the 64 MiB cap (see plugins/sdk-js/README.md).
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
