// hub-formatter: publishes the people count the way a home-automation hub
// (Home Assistant's MQTT integration) expects it, instead of every frame:
// - once: a retained discovery config, so the hub creates the sensor itself;
// - the state (`<prefix>/<device>/people`, retained) only when the count
//   changes, and at least every `heartbeat_ms` of stream time;
// - an attributes JSON (`.../attributes`: total, last visit duration);
// - `<prefix>/<device>/alert` ON/OFF (retained) when a stats stage such as
//   occupancy-alert reports `occupancy_alert`;
// - at the end, `.../total` (retained).
// The last published count, its time and whether discovery was sent survive
// hot reloads, so a new version neither repeats nor drops a change.
import { Topics, exportTopics, message, statsObject } from "./edgepipe-sdk.js";

class HubFormatter extends Topics {
  configure(settings) {
    this.device = settings.text("device", "edgepipe");
    this.prefix = settings.text("prefix", "home");
    this.discovery = settings.text("discovery_prefix", "homeassistant");
    this.heartbeatMs = settings.number("heartbeat_ms", 10000);
    this.qos = settings.number("qos", 1);
    if (!/^[A-Za-z0-9_-]+$/.test(this.device)) throw new Error(`device ${JSON.stringify(this.device)}: use letters, digits, _ and -`);
    this.state = { discovered: false, last: null, lastMs: 0, total: 0 };
  }

  base() {
    return `${this.prefix}/${this.device}/people`;
  }

  route(info, stats) {
    const s = statsObject(stats);
    const out = [];
    if (!this.state.discovered) {
      const config = {
        name: `${this.device} people`,
        unique_id: `${this.device}_people`,
        state_topic: this.base(),
        json_attributes_topic: `${this.base()}/attributes`,
        unit_of_measurement: "people",
        icon: "mdi:account-group",
      };
      out.push(message(`${this.discovery}/sensor/${this.device}_people/config`, config, this.qos, true));
      this.state.discovered = true;
    }
    if (typeof s.count !== "number") return out;
    const stale = info.timestampMs - this.state.lastMs >= this.heartbeatMs;
    if (s.count !== this.state.last || stale) {
      out.push(message(this.base(), String(s.count), this.qos, true));
      this.state.last = s.count;
      this.state.lastMs = info.timestampMs;
    }
    if (s.occupancy_alert && typeof s.occupancy_alert.state === "string") {
      out.push(message(`${this.prefix}/${this.device}/alert`, s.occupancy_alert.state.toUpperCase(), this.qos, true));
    }
    if (typeof s.total === "number" && (s.total !== this.state.total || s.duration !== undefined)) {
      this.state.total = s.total;
      const attrs = { total: s.total };
      if (typeof s.duration === "number") attrs.last_duration_s = s.duration;
      out.push(message(`${this.base()}/attributes`, attrs, this.qos, false));
    }
    return out;
  }

  finish(stats) {
    const s = statsObject(stats);
    const total = typeof s.total === "number" ? s.total : this.state.total;
    return [message(`${this.base()}/total`, String(total), this.qos, true)];
  }
}

export const { configure, route, finish, save, restore } = exportTopics(HubFormatter);
