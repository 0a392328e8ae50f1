// Loads edgepipe's camera list (several cameras) in a real headless Chromium
// (Debian's, driven by playwright-core from vendor/node), then one camera's
// page, and reports as one JSON line on stdout what a user sees: the tiles
// with their frames and figures, the camera page's video and counters;
// keeps a screenshot of each.
// Usage: node cameras-page.cjs URL CAMERA LIST.png CAMERA.png   (PLAYWRIGHT_CORE: the module's path)
"use strict";
const { chromium } = require(process.env.PLAYWRIGHT_CORE || "playwright-core");

const ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
  "--disable-background-networking", "--disable-component-update", "--disable-sync"];
const WAIT = { timeout: 90000 };

async function list(page, url, want) {
  await page.goto(url, { waitUntil: "domcontentloaded" });
  // Every tile has a frame and its people count.
  await page.waitForFunction((n) => {
    const t = [...document.querySelectorAll(".tile")];
    return t.length === n && t.every((a) => {
      const i = a.querySelector("img");
      return i.complete && i.naturalWidth > 0 && /^\d+$/.test(a.querySelector("b.people").textContent);
    });
  }, want, WAIT);
  return page.evaluate(() => [...document.querySelectorAll(".tile")].map((a) => ({
    camera: a.dataset.camera,
    href: a.getAttribute("href"),
    width: a.querySelector("img").naturalWidth,
    people: a.querySelector("b.people").textContent,
    frames: Number(a.querySelector("b.frames").textContent),
  })));
}

async function camera(page) {
  await page.waitForFunction(() => {
    const i = document.getElementById("video");
    return i && i.complete && i.naturalWidth > 0;
  }, null, WAIT);
  await page.waitForFunction(() => document.querySelectorAll("#messages li").length > 0, null, WAIT);
  const read = () => page.evaluate(() => ({
    frames: Number(document.getElementById("frames").textContent),
    people: document.getElementById("people").textContent,
    title: document.getElementById("pipeline").textContent,
    topics: [...document.querySelectorAll("#messages li .t")].map((t) => t.textContent),
    width: document.getElementById("video").naturalWidth,
  }));
  const video = page.locator("#video");
  const grab0 = await video.screenshot();
  const first = await read();
  await page.waitForFunction((n) => Number(document.getElementById("frames").textContent) > n, first.frames, WAIT);
  const grab1 = await video.screenshot();
  return { first, second: await read(), videoDiffers: !grab0.equals(grab1) };
}

async function main() {
  const [url, name, listShot, cameraShot] = process.argv.slice(2);
  const want = Number(process.env.CAMERAS || 3);
  const browser = await chromium.launch({ executablePath: "/usr/bin/chromium", args: ARGS });
  try {
    const page = await browser.newPage({ viewport: { width: 1280, height: 860 } });
    const errors = [];
    page.on("pageerror", (e) => errors.push(String(e)));
    const tiles = await list(page, url, want);
    await page.screenshot({ path: listShot });
    // The way a user goes: a click on the camera's tile.
    await page.click(`.tile[data-camera="${name}"]`);
    await page.waitForURL(/\/cameras\//, WAIT);
    const cam = await camera(page);
    await page.screenshot({ path: cameraShot });
    console.log(JSON.stringify({ tiles, camera: cam, cameraUrl: page.url(), errors }));
  } finally {
    await browser.close();
  }
}
main().catch((e) => { console.error(String(e && e.stack || e)); process.exit(1); });
