// hostile-js: a JavaScript stats stage that misbehaves on purpose, chosen by
// its `mode` setting: `loop` (never returns), `alloc` (asks for 1 GiB), `ok`.
// With `at = N` only on frame N. Counts the frames it saw (`seen`) in
// `state`, so tests can tell whether state survived a fault.
import { Stats, exportStats, stat } from "./edgepipe-sdk.js";

const MODES = ["ok", "loop", "alloc"];

class Hostile extends Stats {
  configure(settings) {
    this.mode = settings.text("mode", "ok");
    if (!MODES.includes(this.mode)) throw new Error(`setting mode: unknown mode ${JSON.stringify(this.mode)}`);
    this.at = settings.number("at", -1);
    this.state = { seen: 0 };
  }

  update(info, detections) {
    if (this.at < 0 || this.at === info.index) {
      if (this.mode === "loop") {
        let n = 0;
        for (;;) n += 1;
      } else if (this.mode === "alloc") {
        const big = new Uint8Array(1 << 30);
        big[big.length - 1] = 1;
      }
    }
    this.state.seen += 1;
    return [stat("seen", this.state.seen)];
  }
}

export const { configure, update, finish, save, restore } = exportStats(Hostile);
