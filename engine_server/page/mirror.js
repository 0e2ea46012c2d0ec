// The page's copy of the stage: a snapshot, then every event's result (as docs/protocol.md,
// "Following the stage", describes). The tree, the inspector and the camera switcher read it, so
// nothing they show waits on a reply or goes stale for want of one.

const CHANGEABLE = ["name", "parent", "parent_bone", "transform", "world", "material", "camera", "light", "pose", "animation"];

export class StageMirror {
  /** @param {{seq: number, scene: object, nodes: object[]}} snapshot a get_snapshot reply */
  constructor(snapshot) {
    this.seq = snapshot.seq;
    this.scene = snapshot.scene;
    this.nodes = new Map(snapshot.nodes.map((n) => [n.uuid, n]));
  }

  /**
   * Apply the next event ({seq, result}). Returns the UUIDs it touched, or null for an event the
   * mirror holds already; throws a MirrorGap for one past the next (take a new snapshot).
   */
  apply(evt) {
    if (evt.seq <= this.seq) return null;
    if (evt.seq !== this.seq + 1) throw new MirrorGap(this.seq, evt.seq);
    const result = evt.result;
    const touched = new Set();
    for (const uuid of result.deleted || []) {
      this.nodes.delete(uuid);
      touched.add(uuid);
    }
    for (const node of result.created || []) {
      this.nodes.set(node.uuid, node);
      touched.add(node.uuid);
    }
    for (const change of result.changed || []) {
      const node = this.nodes.get(change.uuid);
      if (!node) throw new MirrorGap(this.seq, evt.seq, `event ${evt.seq} changes node ${change.uuid}, which the page lacks`);
      const next = { ...node };
      for (const field of CHANGEABLE) if (change[field] !== undefined) next[field] = change[field];
      for (const field of change.cleared || []) delete next[field];
      if (change.keyed) next.animation = withKeys(next.animation || [], change.keyed);
      this.nodes.set(change.uuid, next);
      touched.add(change.uuid);
    }
    if (result.scene) this.scene = result.scene;
    this.seq = evt.seq;
    return touched;
  }

  /** Whether an applied result changed what the tree shows (nodes, names, parents). */
  static reshapes(result) {
    return Boolean(
      (result.created && result.created.length) ||
        (result.deleted && result.deleted.length) ||
        (result.changed || []).some((c) => c.name !== undefined || c.parent !== undefined || (c.cleared || []).includes("parent")),
    );
  }

  /** The nodes as the tree shows them. */
  treeNodes() {
    return [...this.nodes.values()].map(({ uuid, name, kind, parent, parent_bone, source }) => ({ uuid, name, kind, parent, parent_bone, source }));
  }
}

/** `curves` with `keys` set: a key on a frame a curve has replaces it, others are added. */
function withKeys(curves, keys) {
  const merged = new Map(curves.map((c) => [`${c.path}|${c.index || 0}`, c]));
  for (const key of keys) {
    const id = `${key.path}|${key.index || 0}`;
    const held = merged.get(id);
    const values = new Map(held ? held.frames.map((f, i) => [f, held.values[i]]) : []);
    key.frames.forEach((f, i) => values.set(f, key.values[i]));
    const frames = [...values.keys()].sort((a, b) => a - b);
    merged.set(id, { path: key.path, index: key.index || 0, frames, values: frames.map((f) => values.get(f)) });
  }
  return [...merged.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([, c]) => c);
}

export class MirrorGap extends Error {
  constructor(held, got, message) {
    super(message || `the page holds seq ${held}; event ${got} leaves a gap`);
    this.name = "MirrorGap";
  }
}
