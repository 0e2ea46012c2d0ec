// Viewport camera input: mouse over the video (drag orbit, right / middle drag pan, wheel
// dolly), WASD / QE fly, and gamepads polled through navigator.getGamepads().

const FLY_KEYS = {
  KeyW: ["forward", 1], KeyS: ["forward", -1],
  KeyD: ["right", 1], KeyA: ["right", -1],
  KeyE: ["up", 1], KeyQ: ["up", -1],
};
const SEND_MS = 33;
const FLY_RATE = 0.25; // fly input per tick while a key is held (the server steps 0.1 × orbit distance per unit)
const DEADZONE = 0.12;

export class ViewportControls {
  /**
   * @param {HTMLElement} surface the element over the video that takes the mouse
   * @param {(message: object) => void} send sends one input-channel message
   * @param {() => boolean} inViewport whether this viewer looks through its own viewport
   * @param {(text: string) => void} hint tells the user why input did nothing
   */
  constructor(surface, send, inViewport, hint) {
    this.send = send;
    this.inViewport = inViewport;
    this.hint = hint;
    this.held = new Map();
    this.drag = null;
    this.pending = { orbit: [0, 0], pan: [0, 0], dolly: 0 };
    this.gamepadIndex = null;
    this.lastPad = "";
    this.onGamepad = () => {};
    surface.addEventListener("pointerdown", (e) => this.down(e, surface));
    surface.addEventListener("pointermove", (e) => this.move(e));
    surface.addEventListener("pointerup", (e) => this.up(e, surface));
    surface.addEventListener("pointercancel", (e) => this.up(e, surface));
    surface.addEventListener("contextmenu", (e) => e.preventDefault());
    surface.addEventListener("wheel", (e) => this.wheel(e), { passive: false });
    window.addEventListener("blur", () => this.held.clear());
    window.addEventListener("gamepadconnected", (e) => this.connectPad(e.gamepad));
    window.addEventListener("gamepaddisconnected", (e) => {
      if (e.gamepad.index === this.gamepadIndex) this.connectPad(null);
    });
    setInterval(() => this.tick(), SEND_MS);
  }

  /** A fly key went down or up; returns whether `code` is a fly key. */
  key(code, down, shift) {
    if (!(code in FLY_KEYS)) return false;
    if (down && !this.inViewport()) {
      this.hint("Fly moves the viewport camera — press V to look through it");
      return true;
    }
    if (down) this.held.set(code, shift ? 3 : 1);
    else this.held.delete(code);
    return true;
  }

  down(e, surface) {
    if (!this.inViewport()) {
      this.hint("Orbit / pan / dolly move the viewport camera — press V to look through it");
      return;
    }
    this.drag = { mode: e.button === 0 && !e.shiftKey ? "orbit" : "pan", x: e.clientX, y: e.clientY };
    surface.setPointerCapture(e.pointerId);
    surface.classList.add(`dragging-${this.drag.mode}`);
  }

  move(e) {
    if (!this.drag) return;
    const delta = this.pending[this.drag.mode];
    delta[0] += e.clientX - this.drag.x;
    delta[1] += e.clientY - this.drag.y;
    this.drag.x = e.clientX;
    this.drag.y = e.clientY;
  }

  up(e, surface) {
    if (!this.drag) return;
    surface.classList.remove(`dragging-${this.drag.mode}`);
    surface.releasePointerCapture(e.pointerId);
    this.drag = null;
  }

  wheel(e) {
    e.preventDefault();
    if (!this.inViewport()) return this.hint("The wheel dollies the viewport camera — press V to look through it");
    this.pending.dolly += -e.deltaY / (e.deltaMode === 1 ? 3 : 100);
  }

  connectPad(gamepad) {
    this.gamepadIndex = gamepad ? gamepad.index : null;
    this.onGamepad(gamepad ? gamepad.id : null);
  }

  /** Every SEND_MS: send what accumulated (mouse), what is held (keys) and the gamepad state. */
  tick() {
    const { orbit, pan } = this.pending;
    if (orbit[0] || orbit[1]) this.send({ orbit: [...orbit] });
    if (pan[0] || pan[1]) this.send({ pan: [...pan] });
    if (this.pending.dolly) this.send({ dolly: Math.round(this.pending.dolly * 100) / 100 });
    this.pending = { orbit: [0, 0], pan: [0, 0], dolly: 0 };
    if (this.held.size) {
      const fly = { forward: 0, right: 0, up: 0 };
      for (const [code, speed] of this.held) {
        const [axis, sign] = FLY_KEYS[code];
        fly[axis] += sign * speed * FLY_RATE;
      }
      this.send({ fly });
    }
    this.pollPad();
  }

  pollPad() {
    if (this.gamepadIndex === null || !this.inViewport()) return;
    const pad = navigator.getGamepads()[this.gamepadIndex];
    if (!pad) return;
    const axes = pad.axes.map((a) => (Math.abs(a) < DEADZONE ? 0 : Math.round(a * 1000) / 1000));
    const buttons = pad.buttons.map((b) => Math.round(b.value * 1000) / 1000);
    const state = JSON.stringify([axes, buttons]);
    const idle = axes.every((a) => a === 0) && buttons.every((b) => b === 0);
    if (idle && state === this.lastPad) return;
    this.lastPad = state;
    this.send({ gamepad: { axes, buttons } });
  }
}
