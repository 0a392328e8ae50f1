// edgepipe live view: the course's figures from the pipeline's own messages
// (Server-Sent Events), health from /api/status. Paths are relative, so the
// same page serves /tenants/<id>/ with that tenant's stream and messages, and
// with several cameras /cameras/<name>/ (its topics under its prefix).
"use strict";
const $ = (id) => document.getElementById(id);
const HISTORY = 60;
const state = { base: "", people: [], durations: 0, durationSum: 0, lastFrame: 0 };

function drawChart() {
  const c = $("chart"), g = c.getContext("2d"), v = state.people;
  g.clearRect(0, 0, c.width, c.height);
  if (v.length < 2) return;
  const max = Math.max(1, ...v), step = c.width / (HISTORY - 1);
  g.beginPath();
  v.forEach((n, i) => {
    const x = i * step, y = c.height - 4 - (n / max) * (c.height - 8);
    i ? g.lineTo(x, y) : g.moveTo(x, y);
  });
  g.strokeStyle = "#0b7a75"; g.lineWidth = 2; g.stroke();
}

function addLine(list, topic, text) {
  const li = document.createElement("li");
  const t = document.createElement("span");
  t.className = "t"; t.textContent = topic;
  li.append(t, document.createTextNode(text));
  list.prepend(li);
  while (list.children.length > 50) list.lastChild.remove();
}

function onMessage(topic, payload) {
  const isEvent = topic.startsWith("edgepipe/") || topic.includes("/$events");
  addLine(isEvent ? $("events") : $("messages"), topic, payload);
  let v;
  try { v = JSON.parse(payload); } catch (_) { return; }
  if (topic === state.base + "person" && typeof v.count === "number") {
    $("people").textContent = v.count;
    state.people.push(v.count);
    if (state.people.length > HISTORY) state.people.shift();
    drawChart();
  } else if (topic === state.base + "person/duration" && typeof v.duration === "number") {
    state.durations += 1;
    state.durationSum += v.duration;
    $("total").textContent = state.durations;
    $("avg").textContent = (state.durationSum / state.durations).toFixed(1);
  }
}

function showStatus(s) {
  const where = [s.camera && s.camera !== "default" ? s.camera : "", state.tenant].filter(Boolean).join(" · ");
  $("pipeline").textContent = s.pipeline + (where ? " · " + where : "");
  $("fps").textContent = s.fps.toFixed(1);
  $("frames").textContent = s.frames;
  $("dropped").textContent = s.dropped;
  $("faults").textContent = s.faults;
  const live = s.secs_since_frame >= 0 && s.secs_since_frame < 2;
  $("live-dot").className = "dot " + (live ? "on" : "stalled");
  $("caption").textContent = live ? `${s.width}×${s.height} · frame ${s.frames}` : "waiting for frames";
  $("stages").replaceChildren(...s.stages.map((st) => {
    const li = document.createElement("li");
    const t = document.createElement("span");
    t.className = "t"; t.textContent = st.name;
    const extra = (st.faults ? ` · ${st.faults} faults` : "") + (st.disabled ? " · disabled" : "");
    li.append(t, document.createTextNode(`${st.kind} v${st.generation} ${st.hash.slice(0, 12)}${extra}`));
    return li;
  }));
  const t = $("parts");
  t.replaceChildren(...s.stage_ms.map(([name, ms]) => {
    const tr = document.createElement("tr");
    const a = document.createElement("td"), b = document.createElement("td");
    a.textContent = name; b.textContent = ms.toFixed(2); b.className = "ms";
    tr.append(a, b);
    return tr;
  }));
}

async function poll() {
  try {
    const r = await fetch("api/status", { cache: "no-store" });
    if (r.ok) showStatus(await r.json());
  } catch (_) { /* the next poll tries again */ }
}

async function start() {
  if (location.pathname.startsWith("/cameras/")) {
    // One camera of several: the way back to the list.
    const back = document.createElement("a");
    back.href = "/"; back.className = "back"; back.textContent = "all cameras";
    $("pipeline").after(back);
  }
  try {
    const s = await (await fetch("api/status")).json();
    if (location.pathname.includes("/tenants/") && s.tenants.length) {
      state.base = s.tenants[0].prefix + "/";
      state.tenant = s.tenants[0].id;
    } else {
      state.base = s.topic_prefix || "";
    }
  } catch (_) { /* the camera's topics then */ }
  const es = new EventSource("api/events");
  es.addEventListener("message", (e) => {
    const m = JSON.parse(e.data);
    onMessage(m.topic, m.payload);
  });
  poll();
  setInterval(poll, 1000);
}
start();
