// The focus tools a focus puller reaches for, over the live picture of a stage camera:
// - FocusBar: a distance scale (0.3 m … ∞, evenly spaced in dioptres, as a lens barrel is
//   marked) with the depth of field's near–far band and the focus mark, from the stage's optics
//   readout; the mouse wheel over it (or dragging along it) pulls focus, sent as set_camera.
// - Peaking: the picture's sharpest edges drawn in red over it, recomputed as frames arrive.

const NEAR_M = 0.3; // the scale's closest mark
const WHEEL_DIOPTRES = 0.02; // one wheel notch: a fine pull at distance, a coarse one up close

const dioptres = (m) => (m == null ? 0 : 1 / m);
const toMetres = (d) => (d <= 1e-6 ? Infinity : 1 / d);

export class FocusBar {
  /** `pull(metres)` sends a focus distance for the viewed camera. */
  constructor(root, pull) {
    this.root = root;
    this.pull = pull;
    this.optics = null;
    root.innerHTML = `<div class="focus-scale"><div class="focus-band" data-testid="focus-band"></div>
      <div class="focus-mark" data-testid="focus-mark"></div></div>
      <div class="focus-ticks">${[0.5, 1, 2, 3, 5, 10, Infinity].map((m) => `<span style="left:${this.position(m) * 100}%">${m === Infinity ? "∞" : m}</span>`).join("")}</div>
      <output class="focus-readout" data-testid="focus-readout"></output>`;
    root.addEventListener("wheel", (e) => this.onWheel(e), { passive: false });
    root.addEventListener("pointerdown", (e) => this.onDrag(e));
  }

  /** 0 at NEAR_M, 1 at infinity. */
  position(metres) {
    return 1 - dioptres(metres) / dioptres(NEAR_M);
  }

  metresAt(position) {
    return toMetres((1 - Math.min(Math.max(position, 0), 1)) * dioptres(NEAR_M));
  }

  /** Show a get_optics reply (null: hide the bar). */
  show(optics) {
    this.optics = optics;
    this.root.hidden = !optics;
    if (!optics) return;
    const near = this.position(optics.near_m), far = this.position(optics.far_m ?? Infinity);
    const band = this.root.querySelector(".focus-band");
    Object.assign(band.style, { left: `${near * 100}%`, width: `${Math.max(far - near, 0.002) * 100}%` });
    band.dataset.near = String(optics.near_m);
    band.dataset.far = String(optics.far_m ?? "inf");
    const mark = this.root.querySelector(".focus-mark");
    mark.style.left = `${this.position(optics.focus_m) * 100}%`;
    mark.dataset.value = String(optics.focus_m);
    const dof = optics.dof_m == null ? "∞" : `${optics.dof_m < 1 ? (optics.dof_m * 100).toFixed(1) + " cm" : optics.dof_m.toFixed(2) + " m"}`;
    this.root.querySelector(".focus-readout").textContent = `focus ${optics.focus_m.toFixed(2)} m · DOF ${dof} · T${optics.tstop.toFixed(1)}`;
  }

  onWheel(e) {
    if (!this.optics) return;
    e.preventDefault();
    const notches = Math.sign(e.deltaY) * Math.max(1, Math.round(Math.abs(e.deltaY) / 100));
    const d = Math.max(dioptres(this.optics.focus_m) - notches * WHEEL_DIOPTRES, 0.001); // down: farther
    this.pull(toMetres(d));
  }

  onDrag(e) {
    if (!this.optics) return;
    const scale = this.root.querySelector(".focus-scale").getBoundingClientRect();
    const at = (ev) => this.metresAt((ev.clientX - scale.left) / scale.width);
    const move = (ev) => this.pull(Math.min(at(ev), 1e5));
    move(e);
    const up = () => {
      window.removeEventListener("pointermove", move);
      window.removeEventListener("pointerup", up);
    };
    window.addEventListener("pointermove", move);
    window.addEventListener("pointerup", up);
  }
}

/** Focus peaking: edges whose luminance gradient is in the frame's top share drawn in red. */
export class Peaking {
  constructor(canvas, video, guides) {
    this.canvas = canvas;
    this.video = video;
    this.guides = guides; // for the picture's box
    this.on = false;
    this.work = document.createElement("canvas");
  }

  set(on) {
    this.on = on;
    this.canvas.hidden = !on;
    if (on) this.tick();
  }

  tick() {
    if (!this.on) return;
    this.draw();
    if (this.video.requestVideoFrameCallback) this.video.requestVideoFrameCallback(() => this.tick());
    else setTimeout(() => this.tick(), 100);
  }

  draw() {
    const { videoWidth: w, videoHeight: h } = this.video;
    if (!w || !h) return;
    this.work.width = w;
    this.work.height = h;
    const ctx = this.work.getContext("2d", { willReadFrequently: true });
    ctx.drawImage(this.video, 0, 0);
    const src = ctx.getImageData(0, 0, w, h).data;
    const y = new Float32Array(w * h);
    for (let i = 0; i < w * h; i++) y[i] = 0.2126 * src[4 * i] + 0.7152 * src[4 * i + 1] + 0.0722 * src[4 * i + 2];
    const out = ctx.createImageData(w, h);
    let marked = 0;
    for (let row = 1; row < h - 1; row++) {
      for (let col = 1; col < w - 1; col++) {
        const i = row * w + col;
        const gx = y[i + 1] - y[i - 1], gy = y[i + w] - y[i - w];
        if (gx * gx + gy * gy > peakingThreshold2) {
          out.data.set([255, 40, 40, 255], 4 * i);
          marked++;
        }
      }
    }
    const box = this.guides.pictureBox();
    Object.assign(this.canvas.style, { left: `${box.x}px`, top: `${box.y}px`, width: `${box.width}px`, height: `${box.height}px` });
    this.canvas.width = w;
    this.canvas.height = h;
    this.canvas.getContext("2d").putImageData(out, 0, 0);
    this.canvas.dataset.marked = String(marked);
  }
}

const peakingThreshold2 = 48 * 48; // a central-difference gradient of 48 codes: an in-focus edge
