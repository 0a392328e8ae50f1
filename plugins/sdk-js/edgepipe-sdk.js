// edgepipe SDK for JavaScript stages (componentize-js, edgepipe:plugin@0.4.0).
//
// Extend `Stats`, `Topics`, `Overlay` or `Draw`, override what you need (every
// method has a default), keep what must survive a hot reload in `this.state`
// (an object saved as JSON), and end the module with
//   export const { configure, update, finish, save, restore } = exportStats(MyStage);
// (or exportTopics / exportOverlay / exportDraw). The SDK turns the contract's
// BigInt u64 fields (frame index, timestamp) into plain numbers and back.

import { log as hostLog } from "edgepipe:plugin/host@0.4.0";

const QOS = ["at-most-once", "at-least-once", "exactly-once"];
const LEVELS = ["trace", "debug", "info", "warn", "error"];

/** JSON with BigInt written as a number. */
export function toJson(value) {
  return JSON.stringify(value, (_k, v) => (typeof v === "bigint" ? Number(v) : v));
}

/** Write a line to the host's log (stderr), tagged with the stage's name. */
export function log(level, message) {
  if (!LEVELS.includes(level)) throw new Error(`log level ${level}: not one of ${LEVELS.join(", ")}`);
  hostLog(level, String(message));
}

/** A stat whose value is `value` encoded as JSON. */
export function stat(name, value) {
  return { name, value: toJson(value) };
}

/** The stats a topics or draw stage receives, as {name: decoded JSON value}. */
export function statsObject(stats) {
  const out = {};
  for (const s of stats) {
    try {
      out[s.name] = JSON.parse(s.value);
    } catch {
      out[s.name] = s.value;
    }
  }
  return out;
}

/** An MQTT message; a payload that is not a string is encoded as JSON. */
export function message(topic, payload, qos = 1, retain = false) {
  if (!(qos in QOS)) throw new Error(`qos ${qos}: not 0, 1 or 2`);
  return { topic, payload: typeof payload === "string" ? payload : toJson(payload), qos: QOS[qos], retain };
}

/** The stage's settings (all strings), with typed getters and defaults. */
export class Settings {
  constructor(pairs) {
    this.map = new Map(pairs);
  }
  has(key) {
    return this.map.has(key);
  }
  text(key, fallback = "") {
    return this.map.has(key) ? this.map.get(key) : fallback;
  }
  number(key, fallback) {
    if (!this.map.has(key)) return fallback;
    const v = Number(this.map.get(key));
    if (!Number.isFinite(v)) throw new Error(`setting ${key} = ${JSON.stringify(this.map.get(key))}: not a number`);
    return v;
  }
  flag(key, fallback = false) {
    if (!this.map.has(key)) return fallback;
    const v = this.map.get(key).trim().toLowerCase();
    if (["true", "1", "yes", "on"].includes(v)) return true;
    if (["false", "0", "no", "off"].includes(v)) return false;
    throw new Error(`setting ${key} = ${JSON.stringify(this.map.get(key))}: not true or false`);
  }
}

/** What every world shares: settings, and `state` carried over reloads. */
export class Stage {
  constructor() {
    this.settings = new Settings([]);
    // Saved as JSON by `save` and given back by `restore`.
    this.state = {};
  }
  configure(_settings) {}
  save() {
    return new TextEncoder().encode(toJson(this.state));
  }
  restore(bytes) {
    if (bytes.length > 0) this.state = JSON.parse(new TextDecoder().decode(bytes));
  }
}

export class Stats extends Stage {
  update(_info, _detections) {
    return [];
  }
  finish() {
    return [];
  }
}

export class Topics extends Stage {
  route(_info, _stats) {
    return [];
  }
  finish(_stats) {
    return [];
  }
}

/** The host draws at most this many characters of a text shape, in an 8x8 font. */
export const MAX_TEXT_CHARS = 48;

// `v` truncated toward zero and saturated to [lo, hi], as the Rust SDK does
// (`as` casts): NaN is 0 (or `lo` when 0 is out of range).
function int(v, lo, hi) {
  const n = Number(v);
  if (Number.isNaN(n)) return Math.max(lo, Math.min(0, hi));
  return Math.max(lo, Math.min(Math.trunc(n), hi));
}
const c32 = (v) => int(v, -2147483648, 2147483647);
const colour = (c) => ({ b: int(c[0], 0, 255), g: int(c[1], 0, 255), r: int(c[2], 0, 255) });
const area = (x0, y0, x1, y1) => ({ x0: c32(x0), y0: c32(y0), x1: c32(x1), y1: c32(y1) });
// The first MAX_TEXT_CHARS characters (code points, not UTF-16 units).
const firstChars = (text) => Array.from(String(text)).slice(0, MAX_TEXT_CHARS);

/** Width in pixels of `text` drawn at `scale` (the host's font is 8x8). */
export function textWidth(text, scale = 1) {
  return firstChars(text).length * 8 * Math.trunc(scale);
}

/**
 * The shapes of one frame, painted by the host in order, clipped to the
 * frame. Colours are `[blue, green, red]`; rectangles are `[x0, x1) x [y0, y1)`
 * in frame pixels. Numbers are truncated toward zero.
 */
export class Shapes extends Array {
  /** Fill a rectangle. */
  fill(x0, y0, x1, y1, c) {
    this.push({ tag: "fill", val: { area: area(x0, y0, x1, y1), colour: colour(c) } });
  }
  /** Mix `c` into a rectangle with weight `alpha`/256. */
  blend(x0, y0, x1, y1, c, alpha) {
    this.push({ tag: "blend", val: { area: area(x0, y0, x1, y1), colour: colour(c), alpha: int(alpha, 0, 256) } });
  }
  /** The outline of a rectangle, `thickness` pixels wide, inside it. */
  rect(x0, y0, x1, y1, thickness, c) {
    const t = int(thickness, 0, 4294967295);
    if (t > 0) this.push({ tag: "outline", val: { area: area(x0, y0, x1, y1), thickness: t, colour: colour(c) } });
  }
  /** A line with a square brush `thickness` pixels wide (1 to 64). */
  line(x0, y0, x1, y1, thickness, c) {
    const val = { x0: c32(x0), y0: c32(y0), x1: c32(x1), y1: c32(y1), thickness: int(thickness, 1, 64), colour: colour(c) };
    this.push({ tag: "line", val });
  }
  /** `text` (its first 48 characters) with its top-left corner at (x, y); a font pixel is `scale` x `scale` pixels (1 to 32). */
  text(x, y, text, scale, c) {
    const val = { x: c32(x), y: c32(y), text: firstChars(text).join(""), scale: int(scale, 1, 32), colour: colour(c) };
    this.push({ tag: "text", val });
  }
}

export class Overlay extends Stage {
  /**
   * The shapes to paint on the frame `info` describes: a `Shapes` (or any
   * array of the contract's shapes). The frame's pixels never travel into
   * the stage.
   */
  overlay(_info, _detections, _stats) {
    return new Shapes();
  }
}

export class Draw extends Stage {
  draw(_info, pixels, _detections, _stats) {
    return pixels;
  }
}

function frameInfo(info) {
  return { index: Number(info.index), timestampMs: Number(info.timestampMs), width: info.width, height: info.height, camera: info.camera };
}

// A thrown error becomes the `err` string of a result<_, string> export.
function asResult(f) {
  try {
    f();
  } catch (e) {
    throw e instanceof Error ? e.message : String(e);
  }
}

// One instance of `Class` and the exports every world has: { stage, shared }.
function common(Class) {
  const stage = new Class();
  const shared = {
    configure(settings) {
      asResult(() => {
        stage.settings = new Settings(settings);
        stage.configure(stage.settings);
      });
    },
    save() {
      return stage.save();
    },
    restore(state) {
      asResult(() => stage.restore(state));
    },
  };
  return { stage, shared };
}

/** The exports of the `stats` world for a `Stats` subclass. */
export function exportStats(Class) {
  const c = common(Class);
  return {
    ...c.shared,
    update: (info, detections) => c.stage.update(frameInfo(info), detections),
    finish: () => c.stage.finish(),
  };
}

/** The exports of the `topics` world for a `Topics` subclass. */
export function exportTopics(Class) {
  const c = common(Class);
  return {
    ...c.shared,
    route: (info, stats) => c.stage.route(frameInfo(info), stats),
    finish: (stats) => c.stage.finish(stats),
  };
}

/** The exports of the `overlay` world for an `Overlay` subclass. */
export function exportOverlay(Class) {
  const c = common(Class);
  return {
    ...c.shared,
    overlay: (info, detections, stats) => Array.from(c.stage.overlay(frameInfo(info), detections, stats)),
  };
}

/**
 * Free a frame's memory now. The engine collects a 1.3 MB frame buffer only
 * at its next garbage collection, which at one new frame per call comes after
 * the stage has outgrown its memory cap (64 MiB: ~45 frames of 768x576).
 * Detaching the buffer (`transfer(0)`) frees it at once; the array reads as
 * empty afterwards.
 */
export function releaseFrame(frame) {
  const buffer = frame?.buffer;
  if (buffer instanceof ArrayBuffer && !buffer.detached && typeof buffer.transfer === "function") buffer.transfer(0);
}

/**
 * The exports of the `draw` world for a `Draw` subclass. The `pixels` a call
 * receives are freed when the next frame arrives (`releaseFrame`): draw on
 * them and return them, and keep a copy (`pixels.slice()`) of anything needed
 * later.
 */
export function exportDraw(Class) {
  const c = common(Class);
  let previous = null;
  return {
    ...c.shared,
    draw: (info, pixels, detections, stats) => {
      releaseFrame(previous);
      previous = pixels;
      return c.stage.draw(frameInfo(info), pixels, detections, stats);
    },
  };
}
