// Loads edgepipe's live page in a real headless Chromium (Debian's, driven by
// playwright-core from vendor/node) and reports, as one JSON line on stdout,
// whether the video moves and the counters change; keeps a screenshot.
// Usage: node live-page.cjs URL SCREENSHOT.png   (PLAYWRIGHT_CORE: the module's path)
"use strict";
const { chromium } = require(process.env.PLAYWRIGHT_CORE || "playwright-core");

const ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
  "--disable-background-networking", "--disable-component-update", "--disable-sync"];

async function main() {
  const [url, shot] = process.argv.slice(2);
  const browser = await chromium.launch({ executablePath: "/usr/bin/chromium", args: ARGS });
  try {
    const page = await browser.newPage({ viewport: { width: 1280, height: 860 } });
    const errors = [];
    page.on("pageerror", (e) => errors.push(String(e)));
    // The MJPEG stream never finishes loading.
    await page.goto(url, { waitUntil: "domcontentloaded" });
    await page.waitForFunction(() => {
      const i = document.getElementById("video");
      return i && i.complete && i.naturalWidth > 0;
    }, null, { timeout: 60000 });
    await page.waitForFunction(() => document.querySelectorAll("#messages li").length > 0, null, { timeout: 60000 });
    const read = () => page.evaluate(() => ({
      frames: Number(document.getElementById("frames").textContent),
      people: document.getElementById("people").textContent,
      total: document.getElementById("total").textContent,
      messages: document.querySelectorAll("#messages li").length,
      lastTopic: (document.querySelector("#messages li .t") || {}).textContent,
      width: document.getElementById("video").naturalWidth,
      height: document.getElementById("video").naturalHeight,
    }));
    const video = page.locator("#video");
    const grab0 = await video.screenshot();
    const first = await read();
    await page.waitForTimeout(Number(process.env.LIVE_PAGE_WAIT_MS || 3000));
    const grab1 = await video.screenshot();
    const second = await read();
    await page.screenshot({ path: shot });
    console.log(JSON.stringify({ videoDiffers: !grab0.equals(grab1), first, second, errors }));
  } finally {
    await browser.close();
  }
}
main().catch((e) => { console.error(String(e && e.stack || e)); process.exit(1); });
