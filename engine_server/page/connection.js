// The page's link to the stage: WebSocket signaling, one WebRTC peer connection (video in,
// data channels "stage" and "input" out), request/reply over "stage", and reconnection.

const RETRY_MS = [500, 1000, 2000, 4000, 8000];
const ICE_GATHER_MS = 3000;

/** An error the stage (or the link to it) reported: `code`, `message`, optional `field`. */
export class StageError extends Error {
  constructor({ code, message, field }) {
    super(message);
    this.code = code;
    this.field = field || null;
  }
}

export class StageConnection {
  /**
   * @param {HTMLVideoElement} video where the stream goes
   * @param {object} on callbacks: state(state, detail), welcome(msg), open(), event(evt),
   *   stats(stats), error(err) for errors that belong to no request (a view switch, …)
   */
  constructor(video, on) {
    this.video = video;
    this.on = on;
    this.view = null;
    this.attempt = 0;
    this.nextId = 1;
    this.pending = new Map();
    this.ws = null;
    this.pc = null;
    this.stageChannel = null;
    this.inputChannel = null;
    this.retryTimer = null;
    this.everLive = false;
  }

  /** Connect with `view` ({camera, width, height, engine} or {viewport: true, …}). */
  start(view) {
    this.view = view;
    this.connect();
  }

  async connect() {
    this.on.state(this.everLive ? "reconnecting" : "connecting", "");
    try {
      const response = await fetch("config.json", { cache: "no-store" });
      if (!response.ok) throw new Error(`config.json: HTTP ${response.status}`);
      const config = await response.json();
      this.openSocket(config.ws);
    } catch (err) {
      this.fail(err.message);
    }
  }

  openSocket(url) {
    // beyond loopback the stage's address carries a token (/?token=…); the WebSocket must show it
    const token = new URLSearchParams(location.search).get("token");
    if (token) url += `?token=${encodeURIComponent(token)}`;
    const ws = new WebSocket(url);
    this.ws = ws;
    ws.onopen = () => ws.send(JSON.stringify({ type: "hello" }));
    ws.onmessage = (message) => this.onSignal(JSON.parse(message.data));
    ws.onclose = (close) => {
      if (this.ws === ws) this.fail(close.reason || "the stage closed the connection");
    };
  }

  async onSignal(msg) {
    if (msg.type === "welcome") {
      this.on.welcome(msg);
      await this.offer();
    } else if (msg.type === "answer") {
      await this.pc.setRemoteDescription({ type: "answer", sdp: msg.sdp });
    } else if (msg.type === "error") {
      const err = new StageError(msg);
      if (this.pc && this.pc.remoteDescription) this.on.error(err);
      else this.fail(`${err.code}: ${err.message}`, "error");
    }
  }

  async offer() {
    const pc = new RTCPeerConnection({ iceServers: [] });
    this.pc = pc;
    pc.addTransceiver("video", { direction: "recvonly" });
    this.stageChannel = pc.createDataChannel("stage", { ordered: true });
    this.inputChannel = pc.createDataChannel("input", { ordered: true });
    this.stageChannel.onopen = () => this.on.open();
    this.stageChannel.onmessage = (message) => this.onStageMessage(JSON.parse(message.data));
    this.stageChannel.onclose = () => this.dropPending("the stage connection closed");
    pc.ontrack = (track) => {
      this.video.srcObject = track.streams[0] || new MediaStream([track.track]);
    };
    pc.onconnectionstatechange = () => {
      if (pc !== this.pc) return;
      if (pc.connectionState === "failed") this.fail("the video connection failed");
      else if (pc.connectionState === "disconnected") this.on.state("reconnecting", "video interrupted");
      else if (pc.connectionState === "connected" && this.video.readyState >= 2) this.live();
      else if (pc.connectionState === "connected") this.rendering();
    };
    this.video.onloadeddata = () => this.live();
    await pc.setLocalDescription(await pc.createOffer());
    await gathered(pc);
    this.ws.send(JSON.stringify({ type: "offer", sdp: pc.localDescription.sdp, view: this.view }));
  }

  live() {
    clearInterval(this.renderingTimer);
    this.everLive = true;
    this.attempt = 0;
    this.on.state("live", "");
  }

  /** Connected, the first picture not here yet: the stage sends video only from its first render. */
  rendering() {
    const since = performance.now();
    const show = () => this.on.state("rendering", `rendering… ${Math.round((performance.now() - since) / 1000)} s`);
    clearInterval(this.renderingTimer);
    show();
    this.renderingTimer = setInterval(show, 1000);
  }

  onStageMessage(msg) {
    if (msg.event) this.on.event(msg.event);
    else if (msg.stats) this.on.stats(msg.stats);
    else if (msg.id && this.pending.has(msg.id)) {
      const { resolve, reject } = this.pending.get(msg.id);
      this.pending.delete(msg.id);
      if (msg.ok) resolve(msg.result);
      else reject(new StageError(msg.error));
    }
  }

  /** Send a typed command ({type, …}); resolves with its result, rejects with a StageError. */
  command(command) {
    return this.request("c", "command", command);
  }

  /** Send a query ({type, …}); resolves with its reply. */
  query(query) {
    return this.request("q", "query", query);
  }

  request(prefix, key, body) {
    const channel = this.stageChannel;
    if (!channel || channel.readyState !== "open") {
      return Promise.reject(new StageError({ code: "unavailable", message: "not connected to the stage" }));
    }
    const id = `${prefix}${this.nextId++}`;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      channel.send(JSON.stringify({ id, [key]: body }));
    });
  }

  /** Switch what this viewer sees: {camera} or {viewport: true}, with width / height / engine. */
  setView(view) {
    this.view = view;
    if (this.ws && this.ws.readyState === WebSocket.OPEN) this.ws.send(JSON.stringify({ type: "view", ...view }));
  }

  /** Viewport camera input (orbit / pan / dolly / fly / gamepad); dropped while not connected. */
  input(message) {
    const channel = this.inputChannel;
    if (channel && channel.readyState === "open") channel.send(JSON.stringify(message));
  }

  dropPending(message) {
    for (const { reject } of this.pending.values()) reject(new StageError({ code: "unavailable", message }));
    this.pending.clear();
  }

  fail(message, state = "reconnecting") {
    this.close();
    const delay = RETRY_MS[Math.min(this.attempt, RETRY_MS.length - 1)];
    this.attempt += 1;
    const shown = this.everLive || state === "error" ? state : "error";
    this.on.state(shown, `${message} — retrying in ${Math.round(delay / 100) / 10} s`);
    this.retryTimer = setTimeout(() => this.connect(), delay);
  }

  close() {
    clearTimeout(this.retryTimer);
    clearInterval(this.renderingTimer);
    const { ws, pc } = this;
    this.ws = this.pc = this.stageChannel = this.inputChannel = null;
    this.dropPending("the stage connection closed");
    if (ws) ws.close();
    if (pc) pc.close();
  }
}

/** Wait until ICE gathering is complete (the answer carries no trickled candidates). */
function gathered(pc) {
  if (pc.iceGatheringState === "complete") return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ICE_GATHER_MS);
    pc.addEventListener("icegatheringstatechange", () => {
      if (pc.iceGatheringState === "complete") {
        clearTimeout(timer);
        resolve();
      }
    });
  });
}
