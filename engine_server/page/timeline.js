// The timeline: play / pause this view (the render process plays the scene's frame range at its
// frame rate), and the stage's current frame as a scrubber (set_frame_range, for everyone).

export class Timeline {
  /** `play(on)` toggles this view's playback; `seek(frame)` sets the stage's current frame. */
  constructor(root, play, seek) {
    this.root = root;
    this.playing = false;
    root.innerHTML = `<button class="icon-button" data-testid="timeline-play" title="Play / pause this view (Space)">▶</button>
      <input type="range" data-testid="timeline-frame" min="1" max="250" step="1" value="1" aria-label="frame">
      <output data-testid="timeline-label">1</output>`;
    this.button = root.querySelector("button");
    this.slider = root.querySelector("input");
    this.label = root.querySelector("output");
    this.button.addEventListener("click", () => this.toggle(play));
    let pending = null;
    this.slider.addEventListener("input", () => {
      this.label.textContent = this.slider.value;
      clearTimeout(pending); // a scrub sends its last position, not every one it passed
      pending = setTimeout(() => seek(Number(this.slider.value)), 60);
    });
  }

  toggle(play) {
    this.playing = !this.playing;
    this.button.textContent = this.playing ? "⏸" : "▶";
    play(this.playing);
  }

  /** Show the stage's scene settings (frame range and current frame), unless being dragged. */
  show(scene) {
    this.slider.min = String(scene.frame_start);
    this.slider.max = String(scene.frame_end);
    if (document.activeElement !== this.slider) {
      this.slider.value = String(scene.frame_current);
      this.label.textContent = `${scene.frame_current} / ${scene.frame_end} · ${scene.fps} fps`;
    }
  }
}
