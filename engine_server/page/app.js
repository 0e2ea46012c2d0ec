// Stagecraft's web stage: wires the connection, the tree, the inspector, the camera switcher,
// the stats overlay, shortcuts and viewport input together.

import { StageConnection } from "./connection.js";
import { ViewportControls } from "./controls.js";
import { Inspector } from "./inspector.js";
import { opticsTable } from "./fields.js";
import { FocusBar, Peaking } from "./focus.js";
import { FrameGuides } from "./guides.js";
import { fmt } from "./math.js";
import { MirrorGap, StageMirror } from "./mirror.js";
import { Timeline } from "./timeline.js";
import { StageTree, esc } from "./tree.js";

const $ = (selector) => document.querySelector(selector);

const video = $("#video");
const params = new URLSearchParams(location.search);
const [width, height] = (params.get("size") || "640x360").split("x").map(Number);
// path traced: the samples a still picture converges to; Solid and EEVEE render once a change,
// with these (Workbench anti-aliasing, EEVEE samples), fast enough to follow the view
const RASTER_SAMPLES = { workbench: 8, eevee: 16 };
const samplesFor = (engine, chosen) => (engine === "cycles" ? chosen : RASTER_SAMPLES[engine] || 1);
const startEngine = params.get("engine") || "cycles";
const quality = { engine: startEngine, samples: Number(params.get("samples")) || samplesFor(startEngine, 64) };
let view = { camera: params.get("camera"), width, height, ...quality };
if (params.get("camera") === "viewport") view = { viewport: true, width, height, ...quality };
let mirror = null; // the page's copy of the stage: the welcome's snapshot + every event's result
let resyncing = null; // events that arrive while a new snapshot is on its way
let opticsTimer = null;

const conn = new StageConnection(video, {
  state: showState,
  welcome(msg) {
    follow(msg.snapshot);
    if (!view.viewport && !view.camera) view.camera = mirror.scene.active_camera;
    if (!view.viewport && view.camera) view.camera = resolve(view.camera);
    conn.view = view;
    renderSwitcher();
  },
  async open() {
    try {
      Object.assign(opticsTable, await conn.query({ type: "get_optics_table" }));
    } catch (err) {
      toast(`the camera bodies and lenses did not load: ${err.message}`, "error");
    }
    if (!tree.selected && view.camera) select(view.camera);
    else if (tree.selected) select(tree.selected);
    scheduleFocusBar();
  },
  event(evt) {
    if (resyncing) return resyncing.push(evt);
    if (!mirror) return;
    let touched;
    try {
      touched = mirror.apply(evt);
    } catch (err) {
      if (err instanceof MirrorGap) return resync();
      throw err;
    }
    if (touched) showChanges(touched, StageMirror.reshapes(evt.result));
  },
  stats: showServerStats,
  error(err) {
    $('[data-testid="camera-switcher-error"]').textContent = err.message;
    toast(`${err.code}: ${err.message}`, "error");
  },
});

const tree = new StageTree($('[data-testid="tree"]'), $("#tree-filter"), select);
const inspector = new Inspector($('[data-testid="inspector"]'), conn, tree, { lookThrough: (uuid) => switchView(uuid) });
const controls = new ViewportControls($("#stage-surface"), (m) => conn.input(m), () => Boolean(view.viewport), (t) => toast(t));
controls.onGamepad = (id) => {
  const pad = $("#gamepad");
  pad.hidden = !id;
  pad.title = id || "";
};
inspector.clear();

/** A camera name or UUID → its UUID (names in the URL are for people). */
function resolve(ref) {
  const byName = tree.byKind("camera").find((c) => c.name === ref);
  return byName ? byName.uuid : ref;
}

/** Start following from `snapshot` (the welcome's, or a new one after a gap). */
function follow(snapshot) {
  mirror = new StageMirror(snapshot);
  tree.setNodes(mirror.treeNodes());
  showChanges(new Set(tree.selected ? [tree.selected] : []), false);
  scheduleFocusBar();
}

/** Events were missed (the page's socket fell behind): take a new snapshot, then go on. */
async function resync() {
  if (resyncing) return;
  resyncing = [];
  try {
    follow(await conn.query({ type: "get_snapshot" }));
  } catch (err) {
    toast(`Stage: ${err.message}`, "error");
  }
  const waiting = resyncing;
  resyncing = null;
  for (const evt of waiting) conn.on.event(evt);
}

/** Show what an event changed: the tree if it reshaped it, the inspector if it touched the selection. */
function showChanges(touched, reshaped) {
  $("#stage-seq").textContent = `seq ${mirror.seq}`;
  if (reshaped) tree.setNodes(mirror.treeNodes());
  renderSwitcher();
  if (tree.selected && touched.has(tree.selected)) showSelected();
  timeline.show(mirror.scene);
  if (!view.viewport && view.camera) scheduleFocusBar(); // a subject may have moved: ask again
}

function showSelected() {
  const node = mirror && mirror.nodes.get(tree.selected);
  if (!node) return inspector.clear();
  inspector.show(node);
  if (node.camera) scheduleOptics(node.uuid);
}

function select(uuid) {
  tree.select(uuid);
  if (!uuid) return inspector.clear();
  showSelected();
}

/** The optics readout is worked out by the stage: ask again after changes, at most every 50 ms. */
function scheduleOptics(uuid) {
  if (opticsTimer) return;
  opticsTimer = setTimeout(() => {
    opticsTimer = null;
    if (tree.selected === uuid) refreshOptics(uuid);
  }, 50);
}

async function refreshOptics(uuid) {
  try {
    inspector.showOptics(await conn.query({ type: "get_optics", node: uuid }));
  } catch (err) {
    inspector.showOptics(null, err);
  }
}

// --- camera switcher --------------------------------------------------------------------------

function renderSwitcher() {
  const cameras = tree.byKind("camera");
  const buttons = cameras.map((cam, i) => {
    const current = !view.viewport && view.camera === cam.uuid;
    const stage = mirror && cam.uuid === mirror.scene.active_camera ? '<span class="dot" title="the stage\'s active camera"></span>' : "";
    return `<button role="tab" aria-selected="${current}" data-camera="${cam.uuid}" data-name="${esc(cam.name)}" title="Look through ${esc(cam.name)} (${i + 1})">${i < 9 ? `<kbd>${i + 1}</kbd>` : ""}${esc(cam.name)}${stage}</button>`;
  });
  buttons.unshift(`<button role="tab" aria-selected="${Boolean(view.viewport)}" data-viewport="1" title="Your own free camera (V)"><kbd>V</kbd>Viewport</button>`);
  $("#camera-buttons").innerHTML = buttons.join("");
}

// --- focus bar, peaking, timeline, viewport tools ---------------------------------------------

let lastCamera = null; // the stage camera seen last: what the viewport's "to camera" goes to
let focusTimer = null;
const focusBar = new FocusBar($("#focus-bar"), (metres) => {
  if (view.viewport || !view.camera) return;
  const focus_distance = Math.round(metres * 1000) / 1000;
  conn.command({ type: "set_camera", node: view.camera, camera: { focus_target: "", focus_distance } })
    .catch((err) => toast(`${err.code}: ${err.message}`, "error"));
});

function scheduleFocusBar() {
  if (focusTimer) return;
  focusTimer = setTimeout(async () => {
    focusTimer = null;
    if (view.viewport || !view.camera) return focusBar.show(null);
    try {
      const camera = mirror && mirror.nodes.get(view.camera);
      focusBar.show(camera && camera.camera.use_dof ? await conn.query({ type: "get_optics", node: view.camera }) : null);
    } catch {
      focusBar.show(null);
    }
  }, 80);
}

function playView(play) {
  view = { ...view, play };
  conn.setView(view);
}
const timeline = new Timeline(
  $("#timeline"),
  playView,
  (frame) => conn.command({ type: "set_frame_range", current: frame }).catch((err) => toast(`${err.code}: ${err.message}`, "error")),
);

$("#to-camera").addEventListener("click", () => viewportToCamera());
$("#reset-view").addEventListener("click", () => conn.input({ reset: true }));
function viewportToCamera() {
  const camera = lastCamera || (mirror && mirror.scene.active_camera);
  if (camera) conn.input({ to_camera: camera });
  else toast("No stage camera to go to");
}
$("#fullscreen").addEventListener("click", () => toggleFullscreen());
function toggleFullscreen() {
  if (document.fullscreenElement) document.exitFullscreen();
  else $("#stage-surface").requestFullscreen().catch((err) => toast(`fullscreen: ${err.message}`));
}

function switchView(camera) {
  $('[data-testid="camera-switcher-error"]').textContent = "";
  const { width, height, engine, samples, play } = view;
  if (view.camera) lastCamera = view.camera;
  view = camera ? { camera, width, height, engine, samples, play } : { viewport: true, width, height, engine, samples, play };
  conn.setView(view);
  scheduleFocusBar();
  renderSwitcher();
  $("#stage-surface").classList.toggle("viewport", !camera);
}

$("#camera-buttons").addEventListener("click", (e) => {
  const button = e.target.closest("button");
  if (button) switchView(button.dataset.camera || null);
});

for (const id of ["#view-size", "#view-engine", "#view-samples"]) {
  $(id).addEventListener("change", () => {
    const [w, h] = $("#view-size").value.split("x").map(Number);
    const engine = $("#view-engine").value;
    view = { ...view, width: w, height: h, engine, samples: samplesFor(engine, Number($("#view-samples").value)) };
    conn.setView(view);
    showQuality();
  });
}
$("#view-size").value = `${view.width}x${view.height}`;
$("#view-engine").value = view.engine;
if (view.engine === "cycles") $("#view-samples").value = String(view.samples);
const guides = new FrameGuides($("#guides"), video);
const peaking = new Peaking($("#peaking"), video, guides);
$("#peaking-on").addEventListener("change", () => peaking.set($("#peaking-on").checked));
for (const id of ["#guide-aspect", "#guide-safe", "#guide-thirds"]) {
  $(id).addEventListener("change", () =>
    guides.set({ aspect: $("#guide-aspect").value, safe: $("#guide-safe").checked, thirds: $("#guide-thirds").checked }),
  );
}

function showQuality() {
  $("#view-samples").hidden = view.engine !== "cycles";
}
showQuality();

// --- connection state and stats ---------------------------------------------------------------

function showState(state, detail) {
  const badge = $("#status");
  badge.dataset.state = state;
  $("#status-text").textContent = state;
  $("#status-detail").textContent = detail;
  badge.title = detail;
  document.body.dataset.connection = state;
}

let last = null;
setInterval(async () => {
  const pc = conn.pc;
  if (!pc) return;
  const report = await pc.getStats();
  report.forEach((s) => {
    if (s.type !== "inbound-rtp" || s.kind !== "video") return;
    if (last && last.id === s.id && s.timestamp > last.timestamp) {
      const dt = (s.timestamp - last.timestamp) / 1000;
      setStat("fps", fmt((s.framesDecoded - last.framesDecoded) / dt, 1));
      setStat("bitrate", `${fmt(((s.bytesReceived - last.bytesReceived) * 8) / dt / 1e6, 2)} Mb/s`);
    }
    setStat("frames", String(s.framesDecoded || 0));
    if (s.frameWidth) setStat("resolution", `${s.frameWidth}×${s.frameHeight}`);
    last = s;
  });
}, 1000);

function showServerStats(stats) {
  setStat("latency", `${fmt(stats.frame_latency_ms, 0)} ms`);
  setStat("render", `${fmt(stats.render_ms, 1)} ms`);
  setStat("server-fps", fmt(stats.fps, 1));
  setStat("samples", samplesText(stats));
  const samples = $('[data-testid="stats-samples"]');
  samples.dataset.seq = String(stats.seq ?? "");
  samples.dataset.converged = String(Boolean(stats.converged));
  samples.dataset.changedAt = String(stats.changed_at ?? "");
}

/** "preview" while the view changes, then "12 / 64" as samples add up, "64 ✓" once converged. */
function samplesText(stats) {
  if (stats.samples == null || view.engine !== "cycles") return "–";
  if (stats.samples === 0) return "preview";
  return stats.converged ? `${stats.samples} ✓` : `${stats.samples} / ${view.samples}`;
}

function setStat(name, value) {
  const el = $(`[data-testid="stats-${name}"]`);
  el.textContent = value;
  el.dataset.value = value;
}

// --- keyboard -----------------------------------------------------------------------------------

const typing = (el) => el && (el.matches("input, select, textarea") || el.isContentEditable);

document.addEventListener("keydown", (e) => {
  if (e.key === "Escape" && typing(document.activeElement)) return document.activeElement.blur();
  if (typing(e.target) || e.ctrlKey || e.metaKey || e.altKey) return;
  if (controls.key(e.code, true, e.shiftKey)) return e.preventDefault();
  if (e.key === "?") return toggleSheet();
  if (e.key === "v" || e.key === "V") return switchView(null);
  if (e.key === "c" && view.viewport) return viewportToCamera();
  if (e.key === "Home" && view.viewport) return conn.input({ reset: true });
  if (e.key === "f") return toggleFullscreen();
  if (e.key === "p") return $("#peaking-on").click();
  if (e.key === " ") {
    e.preventDefault();
    return timeline.toggle(playView);
  }
  if (/^[1-9]$/.test(e.key)) {
    const camera = tree.byKind("camera")[Number(e.key) - 1];
    if (camera) switchView(camera.uuid);
    else toast(`No camera ${e.key} on this stage`);
  }
});
document.addEventListener("keyup", (e) => controls.key(e.code, false, e.shiftKey));

function toggleSheet() {
  const sheet = $("#shortcuts");
  if (sheet.open) sheet.close();
  else sheet.showModal();
}
$("#help").addEventListener("click", toggleSheet);
$("#shortcuts").addEventListener("click", (e) => {
  if (e.target === $("#shortcuts") || e.target.closest("[data-close]")) $("#shortcuts").close();
});

// --- toasts -------------------------------------------------------------------------------------

let toastTimer = null;
function toast(text, kind = "info") {
  const el = $("#toast");
  el.textContent = text;
  el.dataset.kind = kind;
  el.hidden = false;
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => (el.hidden = true), kind === "error" ? 6000 : 2500);
}

conn.start(view);
$("#stage-surface").classList.toggle("viewport", Boolean(view.viewport));
