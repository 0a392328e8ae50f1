// {{name}}: a stats stage (detections -> stats).
//
// Build, check, test (from this folder's parent):
//   edgepipe plugin build {{name}}
//   edgepipe plugin check {{name}}/{{name}}.wasm
//   edgepipe plugin test {{name}}/{{name}}.wasm --input frames.jsonl
import { Stats, exportStats, stat } from "./edgepipe-sdk.js";

class {{Class}} extends Stats {
  configure(settings) {
    this.label = settings.text("label", "person");
    this.minScore = settings.number("min_score", 0.5);
    // this.state is saved as JSON and survives hot reloads.
    this.state = { framesWith: 0 };
  }

  update(info, detections) {
    const n = detections.filter((d) => d.label === this.label && d.score >= this.minScore).length;
    if (n > 0) this.state.framesWith += 1;
    return [stat(this.label, n), stat(`${this.label}_frames`, this.state.framesWith)];
  }

  finish() {
    return [stat(`${this.label}_frames`, this.state.framesWith)];
  }
}

export const { configure, update, finish, save, restore } = exportStats({{Class}});
