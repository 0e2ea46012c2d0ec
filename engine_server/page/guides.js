// Frame guides over the live picture, as a camera's monitor draws them: a target aspect ratio
// (the area outside it dimmed), action and title safe (EBU R 95: 93 % and 90 % of each side, of
// the target frame), and the rule of thirds. Drawn on a canvas laid exactly over the picture
// (the video's letterboxed content box), in device pixels, and redrawn as either changes.

export const ASPECTS = { off: null, "2.39": 2.39, "2.00": 2.0, "1.85": 1.85, "16:9": 16 / 9, "4:3": 4 / 3, "1:1": 1 };
export const SAFE = { action: 0.93, title: 0.9 };

export class FrameGuides {
  constructor(canvas, video) {
    this.canvas = canvas;
    this.video = video;
    this.options = { aspect: "off", safe: false, thirds: false };
    new ResizeObserver(() => this.draw()).observe(video);
    video.addEventListener("resize", () => this.draw()); // the stream's size changed
  }

  set(options) {
    this.options = { ...this.options, ...options };
    this.draw();
  }

  /** The picture's box inside the video element (object-fit: contain), in CSS pixels. */
  pictureBox() {
    const { clientWidth: w, clientHeight: h, videoWidth: vw, videoHeight: vh } = this.video;
    if (!vw || !vh) return { x: 0, y: 0, width: w, height: h };
    const scale = Math.min(w / vw, h / vh);
    const width = vw * scale, height = vh * scale;
    return { x: (w - width) / 2, y: (h - height) / 2, width, height };
  }

  /** The target frame inside the picture: the largest box of the chosen aspect, centred. */
  frameBox(box) {
    const aspect = ASPECTS[this.options.aspect];
    if (!aspect) return box;
    if (box.width / box.height > aspect) {
      const width = box.height * aspect;
      return { x: box.x + (box.width - width) / 2, y: box.y, width, height: box.height };
    }
    const height = box.width / aspect;
    return { x: box.x, y: box.y + (box.height - height) / 2, width: box.width, height };
  }

  draw() {
    const box = this.pictureBox();
    const ratio = window.devicePixelRatio || 1;
    Object.assign(this.canvas.style, { left: `${box.x}px`, top: `${box.y}px`, width: `${box.width}px`, height: `${box.height}px` });
    this.canvas.width = Math.round(box.width * ratio);
    this.canvas.height = Math.round(box.height * ratio);
    const ctx = this.canvas.getContext("2d");
    ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
    ctx.clearRect(0, 0, box.width, box.height);
    const frame = this.frameBox({ x: 0, y: 0, width: box.width, height: box.height });
    if (ASPECTS[this.options.aspect]) {
      ctx.fillStyle = "rgba(0, 0, 0, 0.55)"; // outside the target frame
      ctx.fillRect(0, 0, box.width, frame.y);
      ctx.fillRect(0, frame.y + frame.height, box.width, box.height - frame.y - frame.height);
      ctx.fillRect(0, frame.y, frame.x, frame.height);
      ctx.fillRect(frame.x + frame.width, frame.y, box.width - frame.x - frame.width, frame.height);
      this.rect(ctx, frame, "rgba(255, 255, 255, 0.8)", []);
    }
    if (this.options.safe) {
      for (const [name, share] of Object.entries(SAFE)) {
        const inset = { x: frame.x + (frame.width * (1 - share)) / 2, y: frame.y + (frame.height * (1 - share)) / 2, width: frame.width * share, height: frame.height * share };
        this.rect(ctx, inset, name === "action" ? "rgba(255, 214, 10, 0.85)" : "rgba(10, 200, 255, 0.85)", [6, 4]);
      }
    }
    if (this.options.thirds) {
      ctx.strokeStyle = "rgba(255, 255, 255, 0.7)";
      ctx.setLineDash([]);
      ctx.lineWidth = 1;
      ctx.beginPath();
      for (const t of [1 / 3, 2 / 3]) {
        ctx.moveTo(frame.x + frame.width * t, frame.y);
        ctx.lineTo(frame.x + frame.width * t, frame.y + frame.height);
        ctx.moveTo(frame.x, frame.y + frame.height * t);
        ctx.lineTo(frame.x + frame.width, frame.y + frame.height * t);
      }
      ctx.stroke();
    }
  }

  rect(ctx, r, colour, dash) {
    ctx.strokeStyle = colour;
    ctx.setLineDash(dash);
    ctx.lineWidth = 1;
    ctx.strokeRect(r.x + 0.5, r.y + 0.5, r.width - 1, r.height - 1);
  }
}
