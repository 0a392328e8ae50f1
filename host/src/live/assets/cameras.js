// edgepipe camera list: a tile per camera with its newest frame (a snapshot
// fetched again once the last one has loaded), its figures from /api/status
// and the people in its frame from its `person` messages (one Server-Sent
// Events stream for every camera). A tile opens that camera's page.
"use strict";
const $ = (id) => document.getElementById(id);
const tiles = new Map();

function el(tag, cls, text) {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text !== undefined) e.textContent = text;
  return e;
}

function tile(row) {
  let t = tiles.get(row.camera);
  if (t) return t;
  const a = el("a", "tile");
  a.href = "cameras/" + encodeURIComponent(row.camera) + "/";
  a.dataset.camera = row.camera;
  const img = el("img");
  img.alt = row.camera;
  const figs = el("div", "figs");
  const f = {};
  for (const [k, label] of [["people", "people"], ["fps", "fps"], ["frames", "frames"], ["dropped", "dropped"], ["faults", "faults"]]) {
    const s = el("span");
    f[k] = el("b", k, k === "people" ? "–" : "0");
    s.append(f[k], document.createTextNode(" " + label));
    figs.append(s);
  }
  const name = el("div", "name");
  const dot = el("span", "dot");
  name.append(dot, document.createTextNode(" " + row.camera));
  a.append(img, name, figs);
  $("tiles").append(a);
  t = { row, img, f, dot, loading: false };
  tiles.set(row.camera, t);
  refreshImage(t);
  return t;
}

// One snapshot at a time per tile: the next is asked for once this one came.
function refreshImage(t) {
  if (t.loading) return;
  t.loading = true;
  const next = new Image();
  next.onload = () => { t.img.src = next.src; t.loading = false; };
  next.onerror = () => { t.loading = false; };
  next.src = "cameras/" + encodeURIComponent(t.row.camera) + "/snapshot.jpg?height=240&n=" + Date.now();
}

function showStatus(s) {
  $("pipeline").textContent = s.pipeline + " · cameras";
  $("cameras").textContent = s.cameras.length;
  $("fps").textContent = s.fps.toFixed(1);
  $("frames").textContent = s.frames;
  let live = false;
  for (const row of s.cameras) {
    const t = tile(row);
    t.row = row;
    t.f.fps.textContent = row.fps.toFixed(1);
    t.f.frames.textContent = row.frames;
    t.f.dropped.textContent = row.dropped;
    t.f.faults.textContent = row.faults;
    const on = row.secs_since_frame >= 0 && row.secs_since_frame < 2;
    t.dot.className = "dot " + (on ? "on" : "stalled");
    live = live || on;
    if (on || !t.img.src) refreshImage(t);
  }
  $("live-dot").className = "dot " + (live ? "on" : "stalled");
}

async function poll() {
  try {
    const r = await fetch("api/status", { cache: "no-store" });
    if (r.ok) showStatus(await r.json());
  } catch (_) { /* the next poll tries again */ }
}

function start() {
  const es = new EventSource("api/events");
  es.addEventListener("message", (e) => {
    const m = JSON.parse(e.data);
    const t = tiles.get(m.camera);
    if (!t || m.topic !== t.row.topic_prefix + "person") return;
    try {
      const v = JSON.parse(m.payload);
      if (typeof v.count === "number") t.f.people.textContent = v.count;
    } catch (_) { /* not a count */ }
  });
  poll();
  setInterval(poll, 1000);
}
start();
