// {{name}}: a topics stage (stats -> MQTT messages).
//
// Build, check, test (from this folder's parent):
//   edgepipe plugin build {{name}}
//   edgepipe plugin check {{name}}/{{name}}.wasm
//   edgepipe plugin test {{name}}/{{name}}.wasm --input frames.jsonl --stats-plugin people-counter.wasm
import { Topics, exportTopics, message, statsObject } from "./edgepipe-sdk.js";

class {{Class}} extends Topics {
  configure(settings) {
    this.prefix = settings.text("prefix", "{{name}}");
    this.qos = settings.number("qos", 1);
    // this.state is saved as JSON and survives hot reloads.
    this.state = { last: null };
  }

  route(info, stats) {
    const s = statsObject(stats);
    if (s.count === undefined || s.count === this.state.last) return [];
    this.state.last = s.count;
    // info.camera: the camera the frame is from ("default" with one source).
    return [message(`${this.prefix}/count`, { count: s.count, frame: info.index, camera: info.camera }, this.qos)];
  }

  finish(stats) {
    return [message(`${this.prefix}/total`, statsObject(stats), this.qos, true)];
  }
}

export const { configure, route, finish, save, restore } = exportTopics({{Class}});
