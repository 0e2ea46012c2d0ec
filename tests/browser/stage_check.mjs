// Drive Debian's headless Chromium against the stage's web page and print one JSON result.
//
//   node stage_check.mjs URL SCENARIO [OPTIONS_JSON]
//
// Scenarios:
//   video      the page goes live and decodes frames; a frame drawn to a canvas is not blank
//   lens       two tabs select a camera; tab 1 types a focal length; tab 2's inspector shows it
//   bad-field  a value typed into an inspector field comes back with the server's error beside it
//   stale      a focused field shows a change made elsewhere; a refused entry reverts on Esc
//   first-frame  a view never rendered before: the states the page shows until live, and its
//              very first decoded picture
// Options: {"camera": "CamA", "lens": 50, "field": "fstop", "value": "0.2",
//           "minFrames": 30, "screenshot": "/tmp/page.png", "timeoutMs": 90000}

import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chromium } from "playwright-core";

const [url, scenario, optionsJson] = process.argv.slice(2);
const options = { camera: "CamA", minFrames: 30, timeoutMs: 90000, ...JSON.parse(optionsJson || "{}") };
const CHROMIUM_ARGS = [
  "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
  "--disable-background-networking", "--disable-component-update", "--disable-sync",
  // CI machines may have loopback only: let WebRTC use 127.0.0.1 and show real addresses.
  "--allow-loopback-in-peer-connection", "--disable-features=WebRtcHideLocalIpsWithMdns",
];

const logs = [];
let tabs = 0;

async function openPage(context, query = "") {
  const page = await context.newPage();
  page.setDefaultTimeout(options.timeoutMs);
  const tag = `tab${++tabs}`;
  page.on("console", (m) => logs.push(`${tag} console.${m.type()}: ${m.text()}`));
  page.on("pageerror", (e) => logs.push(`${tag} pageerror: ${e.message}`));
  await page.addInitScript(() => {
    // the video's current picture as RGBA pixels, for the checks below
    window.__videoImage = () => {
      const video = document.querySelector("#video");
      const canvas = document.createElement("canvas");
      canvas.width = video.videoWidth;
      canvas.height = video.videoHeight;
      const ctx = canvas.getContext("2d", { willReadFrequently: true });
      ctx.drawImage(video, 0, 0);
      return ctx.getImageData(0, 0, canvas.width, canvas.height);
    };
    // every state the badge shows, as it happens
    window.__states = [];
    new MutationObserver(() => {
      const state = document.querySelector("#status")?.dataset.state;
      if (state && window.__states.at(-1) !== state) window.__states.push(state);
    }).observe(document, { subtree: true, attributes: true, attributeFilter: ["data-state"] });
  });
  await page.goto(url + query);
  await page.waitForSelector('#status[data-state="live"]');
  return page;
}

async function waitForFrames(page, count) {
  await page.waitForFunction(
    (n) => Number(document.querySelector('[data-testid="stats-frames"]').dataset.value) > n,
    count,
    { polling: 250 },
  );
}

/** Draw the current video frame to a canvas; luminance mean / std-dev and distinct colours. */
function sampleFrame(page) {
  return page.evaluate(() => {
    const { data, width, height } = window.__videoImage();
    let sum = 0, sum2 = 0;
    const colours = new Set();
    for (let i = 0; i < data.length; i += 4) {
      const y = 0.2126 * data[i] + 0.7152 * data[i + 1] + 0.0722 * data[i + 2];
      sum += y;
      sum2 += y * y;
      if (colours.size < 5000) colours.add((data[i] << 16) | (data[i + 1] << 8) | data[i + 2]);
    }
    const n = data.length / 4;
    const mean = sum / n;
    return { width, height, mean, stddev: Math.sqrt(Math.max(0, sum2 / n - mean * mean)), colours: colours.size };
  });
}

async function selectNode(page, name) {
  await page.click(`[data-testid="tree"] .tree-row[data-name="${name}"]`);
  await page.waitForSelector(`[data-testid="inspector-name"][data-current="${name}"]`);
}

const framesDecoded = (page) =>
  page.$eval('[data-testid="stats-frames"]', (el) => Number(el.dataset.value));

async function video(context) {
  const page = await openPage(context);
  // wait for the stage's word that it has rendered this view (the stream starts before the first
  // render, on a busy machine by seconds), then for frames sent after that render
  await page.waitForFunction(
    () => /^\d/.test(document.querySelector('[data-testid="stats-render"]').dataset.value || ""),
    null,
    { polling: 250 },
  );
  await waitForFrames(page, (await framesDecoded(page)) + options.minFrames);
  const frame = await sampleFrame(page);
  await page.waitForFunction(() => document.querySelector('[data-testid="stats-fps"]').textContent !== "–");
  const fps = Number(await page.textContent('[data-testid="stats-fps"]'));
  return { page, result: { framesDecoded: await framesDecoded(page), fps, frame } };
}

async function lens(context) {
  const [one, two] = [await openPage(context), await openPage(context)];
  for (const page of [one, two]) await selectNode(page, options.camera);
  const field = '[data-testid="inspector-lens"]';
  const before = await two.inputValue(field);
  await one.fill(field, String(options.lens));
  await one.press(field, "Enter");
  await one.waitForSelector('.field[data-field="lens"].saved, .field[data-field="lens"].has-error');
  const error = await one.$eval('[data-testid="inspector-lens-error"]', (el) => (el.hidden ? null : el.textContent));
  if (error) throw new Error(`the stage refused the lens: ${error}`);
  await two.waitForFunction(
    ([selector, value]) => Number(document.querySelector(selector).value) === value,
    [field, options.lens],
    { polling: 100 },
  );
  return { page: two, result: { before: Number(before), tab1: Number(await one.inputValue(field)), tab2: Number(await two.inputValue(field)) } };
}

async function badField(context) {
  const page = await openPage(context);
  await selectNode(page, options.camera);
  const field = `[data-testid="inspector-${options.field}"]`;
  await page.fill(field, String(options.value));
  await page.press(field, "Enter");
  const errorSelector = `[data-testid="inspector-${options.field}-error"]`;
  await page.waitForSelector(`${errorSelector}:not([hidden])`);
  const rowHasError = await page.$eval(field, (el) => el.closest(".field").classList.contains("has-error"));
  return { page, result: { error: await page.textContent(errorSelector), code: await page.getAttribute(errorSelector, "title"), rowHasError } };
}

async function stale(context) {
  const [one, two] = [await openPage(context), await openPage(context)];
  for (const page of [one, two]) await selectNode(page, options.camera);
  const field = '[data-testid="inspector-lens"]';
  await one.focus(field); // focused, nothing typed: it must still follow the stage
  await two.fill(field, String(options.lens));
  await two.press(field, "Enter");
  await one.waitForFunction(([s, v]) => Number(document.querySelector(s).value) === v, [field, options.lens], { polling: 100 });
  const focusedFollowed = await one.evaluate((s) => document.activeElement === document.querySelector(s), field);
  await one.fill(field, String(options.bad));
  await one.press(field, "Enter");
  await one.waitForSelector('[data-testid="inspector-lens-error"]:not([hidden])');
  const refusedShown = Number(await one.inputValue(field));
  await one.press(field, "Escape");
  await one.waitForFunction(([s, v]) => Number(document.querySelector(s).value) === v, [field, options.lens], { polling: 100 });
  const errorHidden = await one.$eval('[data-testid="inspector-lens-error"]', (el) => el.hidden);
  return { page: one, result: { focusedFollowed, refusedShown, reverted: Number(await one.inputValue(field)), errorHidden } };
}

async function firstFrame(context) {
  const page = await openPage(context, `?size=${options.size}`); // returns as the badge turns live
  const first = await sampleFrame(page); // the picture shown the moment the page says LIVE
  return { page, result: { states: await page.evaluate(() => window.__states), first } };
}

/** Luminance mean and sharpness (root-mean-square gradient of Y) of boxes [x0, y0, x1, y1] of the video. */
function sampleRegions(page, regions) {
  return page.evaluate((regions) => {
    const image = window.__videoImage();
    const out = {};
    for (const [name, [x0, y0, x1, y1]] of Object.entries(regions)) {
      const { data } = image;
      const w = x1 - x0, h = y1 - y0;
      const Y = (x, y) => { const i = 4 * ((y + y0) * image.width + x + x0); return 0.2126 * data[i] + 0.7152 * data[i + 1] + 0.0722 * data[i + 2]; };
      let sum = 0, grad = 0;
      for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) {
        sum += Y(x, y);
        if (x + 1 < w && y + 1 < h) grad += (Y(x + 1, y) - Y(x, y)) ** 2 + (Y(x, y + 1) - Y(x, y)) ** 2;
      }
      out[name] = { mean: sum / (w * h), sharpness: Math.sqrt(grad / ((w - 1) * (h - 1))) };
    }
    return out;
  }, regions);
}

/** Wait until the picture shown has converged on the stage as this page last saw it (and, with
 * `since` (Unix s), on a change made after that: a new view). */
async function waitForConverged(page, since = 0) {
  const seq = await stageSeq(page);
  await page.waitForFunction(
    ([seq, since]) => {
      const el = document.querySelector('[data-testid="stats-samples"]');
      return el.dataset.converged === "true" && Number(el.dataset.seq) >= seq && Number(el.dataset.changedAt) > since;
    },
    [seq, since],
    { polling: 250 },
  );
  await waitForFrames(page, (await framesDecoded(page)) + 10); // that picture through the encoder
}

/** Set one inspector field as a person would (pick, tick, or type and Enter); the stage's error, if any. */
const stageSeq = (page) => page.evaluate(() => Number(document.querySelector("#stage-seq").textContent.replace(/\D/g, "")));

async function setField(page, field, value) {
  const selector = `[data-testid="inspector-${field}"]`;
  const tag = await page.$eval(selector, (el) => el.tagName.toLowerCase());
  const before = await stageSeq(page);
  if (typeof value === "boolean") {
    if ((await page.isChecked(selector)) === value) return null;
    await page.click(selector);
  } else if (tag === "select") {
    if ((await page.inputValue(selector)) === String(value)) return null;
    await page.selectOption(selector, String(value));
  } else {
    await page.fill(selector, String(value));
    await page.press(selector, "Enter");
  }
  await page.waitForSelector(`.field[data-field="${field}"].saved, .field[data-field="${field}"].has-error`);
  const error = await page.$eval(`[data-testid="inspector-${field}-error"]`, (el) => (el.hidden ? null : el.textContent));
  // the reply may come before the event: wait until the page has the event of this change
  if (!error) await page.waitForFunction((n) => Number(document.querySelector("#stage-seq").textContent.replace(/\D/g, "")) > n, before, { polling: 100 });
  return error;
}

/** Set inspector fields step by step (as a DP types them); after each, measure the converged picture. */
async function look(context) {
  const page = await openPage(context, `?camera=${options.camera}&size=${options.size}&samples=${options.samples}`);
  const steps = [];
  for (const step of options.steps) {
    await selectNode(page, step.node);
    for (const [field, value] of Object.entries(step.set)) {
      const error = await setField(page, field, value);
      if (error) throw new Error(`the stage refused ${field} = ${value}: ${error}`);
    }
    await waitForConverged(page);
    steps.push({ ...(await sampleRegions(page, options.regions)), samples: await page.textContent('[data-testid="stats-samples"]') });
  }
  return { page, result: { steps } };
}

/** Set fields of one node in order; the stage's error (or null) for each, and the options a select offered. */
async function fields(context) {
  const page = await openPage(context);
  await selectNode(page, options.node);
  const offered = {};
  for (const field of options.list || []) {
    offered[field] = await page.$$eval(`[data-testid="inspector-${field}"] option`, (els) => els.map((el) => el.value));
  }
  const errors = [];
  for (const [field, value] of options.set) errors.push([field, await setField(page, field, value)]);
  return { page, result: { offered, errors } };
}

/** Turn on a 2.39 frame, safe areas and thirds; where the overlay's marks fall on the picture. */
async function guides(context) {
  const page = await openPage(context);
  await page.selectOption('[data-testid="guide-aspect"]', "2.39");
  await page.check('[data-testid="guide-safe"]');
  await page.check('[data-testid="guide-thirds"]');
  const found = await page.evaluate(() => {
    const canvas = document.querySelector("#guides");
    const video = document.querySelector("#video");
    const c = canvas.getBoundingClientRect(), v = video.getBoundingClientRect();
    const scale = Math.min(v.width / video.videoWidth, v.height / video.videoHeight);
    const picture = { width: video.videoWidth * scale, height: video.videoHeight * scale };
    const { data, width, height } = canvas.getContext("2d").getImageData(0, 0, canvas.width, canvas.height);
    const alpha = (x, y) => data[4 * (y * width + x) + 3];
    const column = Math.round(width * 0.1); // left of every vertical line
    const dimmedRows = [...Array(height).keys()].filter((y) => alpha(column, y) > 100 && alpha(column, y) < 160);
    const middle = Math.round(height / 2);
    // vertical lines crossing the middle rows (dashed ones cross some of them; anti-aliased ones are faint)
    const marks = [...Array(width).keys()].filter((x) => [...Array(17).keys()].some((d) => alpha(x, middle - 8 + d) > 40));
    return { canvas: { x: c.x - v.x, y: c.y - v.y, width: c.width, height: c.height, px: [width, height] },
             picture: { x: (v.width - picture.width) / 2, y: (v.height - picture.height) / 2, ...picture },
             dimmedRows: dimmedRows.length, marks };
  });
  return { page, result: found };
}

/** Grab the video frame as luminance rows (for comparing two pictures in the test). */
function grabLuma(page) {
  return page.evaluate(() => {
    const { data, width, height } = window.__videoImage();
    const luma = [];
    for (let i = 0; i < data.length; i += 4) luma.push(Math.round(0.2126 * data[i] + 0.7152 * data[i + 1] + 0.0722 * data[i + 2]));
    return { width, height, luma };
  });
}

/** The DP's tools on a camera with depth of field: the focus scale and its wheel, peaking, the
 * timeline scrubber, and the viewport put where the camera is. */
async function dpTools(context) {
  const page = await openPage(context, `?camera=${options.camera}&size=320x180&samples=8`);
  const mark = '[data-testid="focus-mark"]';
  await page.waitForSelector('[data-testid="focus-bar"]:not([hidden])');
  const focusBefore = Number(await page.getAttribute(mark, "data-value"));
  const band = await page.$eval('[data-testid="focus-band"]', (el) => ({ near: Number(el.dataset.near), far: el.dataset.far }));
  const bar = await page.$('[data-testid="focus-bar"]');
  const box = await bar.boundingBox();
  await page.mouse.move(box.x + box.width / 2, box.y + box.height / 2);
  await page.mouse.wheel(0, 300); // three notches toward infinity
  await page.waitForFunction(([s, v]) => Number(document.querySelector(s).dataset.value) !== v, [mark, focusBefore], { polling: 100 });
  const focusAfter = Number(await page.getAttribute(mark, "data-value"));
  await waitForConverged(page);
  await page.check('[data-testid="peaking-on"]');
  await page.waitForFunction(() => Number(document.querySelector("#peaking").dataset.marked || 0) > 0, null, { polling: 100 });
  const peaked = Number(await page.$eval("#peaking", (el) => el.dataset.marked));
  const camera = await grabLuma(page);
  await page.$eval('[data-testid="timeline-frame"]', (el, f) => { el.value = String(f); el.dispatchEvent(new Event("input")); }, options.frame);
  await page.waitForFunction((f) => document.querySelector('[data-testid="timeline-label"]').textContent.startsWith(`${f} /`), options.frame, { polling: 100 });
  await page.click('[data-testid="camera-switcher"] [data-viewport="1"]');
  const since = Date.now() / 1000;
  await page.click('[data-testid="viewport-to-camera"]');
  await waitForConverged(page, since);
  const viewport = await grabLuma(page);
  return { page, result: { focusBefore, focusAfter, band, peaked, camera, viewport } };
}

const SCENARIOS = { video, lens, "bad-field": badField, stale, "first-frame": firstFrame, look, guides, fields, "dp-tools": dpTools };

async function main() {
  if (!SCENARIOS[scenario]) throw new Error(`unknown scenario ${scenario}; one of ${Object.keys(SCENARIOS).join(", ")}`);
  const profile = mkdtempSync(join(tmpdir(), "stagecraft-chromium-"));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
    headless: true,
    args: CHROMIUM_ARGS,
    viewport: { width: 1440, height: 860 },
  });
  try {
    const { page, result } = await SCENARIOS[scenario](context);
    if (options.screenshot) await page.screenshot({ path: options.screenshot });
    return result;
  } finally {
    await context.close();
    rmSync(profile, { recursive: true, force: true });
  }
}

main().then(
  (result) => console.log(JSON.stringify({ ok: true, scenario, result, logs })),
  (err) => {
    console.log(JSON.stringify({ ok: false, scenario, error: String(err.stack || err), logs }));
    process.exitCode = 1;
  },
);
