// {{name}}: an overlay stage (a draw stage that returns shapes: the host
// paints them, the frame's pixels never travel into the stage).
//
// Build, check, test (from this folder's parent):
//   edgepipe plugin build {{name}}
//   edgepipe plugin check {{name}}/{{name}}.wasm
//   edgepipe plugin test {{name}}/{{name}}.wasm --input frames.jsonl --video clip.avi
//
// In a pipeline it is a stage of kind = "draw".
import { Overlay, Shapes, exportOverlay, textWidth } from "./edgepipe-sdk.js";

const GREEN = [0, 255, 0]; // [blue, green, red]
const WHITE = [255, 255, 255];
const BLACK = [0, 0, 0];

class {{Class}} extends Overlay {
  configure(settings) {
    this.thickness = settings.number("thickness", 2);
    this.minScore = settings.number("min_score", 0.5);
  }

  overlay(info, detections, stats) {
    const shapes = new Shapes();
    const shown = detections.filter((d) => d.score >= this.minScore);
    for (const d of shown) {
      // Whole pixels, truncated toward zero (as `Math.trunc` does).
      const [x, y] = [Math.trunc(d.bbox.x), Math.trunc(d.bbox.y)];
      const [w, h] = [Math.trunc(d.bbox.width), Math.trunc(d.bbox.height)];
      shapes.rect(x, y, x + w, y + h, this.thickness, GREEN);
      shapes.text(x, y - 10, d.label, 1, GREEN);
    }
    // A half-transparent panel with the count in the top-left corner.
    const label = `${shown.length} shown`;
    shapes.blend(0, 0, textWidth(label, 2) + 8, 24, BLACK, 128);
    shapes.text(4, 4, label, 2, WHITE);
    return shapes;
  }
}

export const { configure, overlay, save, restore } = exportOverlay({{Class}});
