// The stage tree: nodes in their hierarchy (bone-parented children under their armature, with
// the bone named), kind icons, a filter, click / arrow-key selection.

const ICONS = {
  camera: '<path d="M2 5h8v6H2z M10 7l4-2v6l-4-2z"/>',
  light: '<circle cx="8" cy="7" r="3.5"/><path d="M6.5 12h3 M7 14h2"/>',
  mesh: '<path d="M8 2l5.5 3v6L8 14l-5.5-3V5z M8 8l5.5-3 M8 8v6 M8 8L2.5 5"/>',
  armature: '<circle cx="8" cy="3.5" r="1.8"/><path d="M8 5.5v5 M4.5 7.5h7 M8 10.5l-2.5 4 M8 10.5l2.5 4"/>',
  empty: '<path d="M8 2v12 M2 8h12"/>',
  asset: '<path d="M3 3h7l3 3v7H3z M10 3v3h3"/>',
};
const KIND_ORDER = ["armature", "mesh", "asset", "empty", "camera", "light"];

export function kindIcon(kind) {
  return `<svg class="icon kind-${kind}" viewBox="0 0 16 16" aria-hidden="true">${ICONS[kind] || ICONS.empty}</svg>`;
}

export class StageTree {
  /** @param {HTMLElement} root the list's container; @param {(uuid) => void} onSelect */
  constructor(root, filterInput, onSelect) {
    this.root = root;
    this.filter = filterInput;
    this.onSelect = onSelect;
    this.nodes = new Map();
    this.selected = null;
    this.collapsed = new Set();
    filterInput.addEventListener("input", () => this.render());
    root.addEventListener("click", (e) => this.onClick(e));
    root.addEventListener("keydown", (e) => this.onKey(e));
  }

  /** Replace the whole tree with `nodes` (from the page's mirror of the stage). */
  setNodes(nodes) {
    this.nodes = new Map(nodes.map((n) => [n.uuid, n]));
    if (this.selected && !this.nodes.has(this.selected)) this.onSelect(null);
    this.render();
  }

  byKind(kind) {
    return [...this.nodes.values()].filter((n) => n.kind === kind).sort((a, b) => a.name.localeCompare(b.name));
  }

  name(uuid) {
    const node = this.nodes.get(uuid);
    return node ? node.name : uuid;
  }

  select(uuid) {
    this.selected = uuid;
    for (const row of this.root.querySelectorAll(".tree-row")) {
      row.classList.toggle("selected", row.dataset.uuid === uuid);
      row.setAttribute("aria-selected", row.dataset.uuid === uuid);
    }
    const row = this.root.querySelector(`.tree-row[data-uuid="${uuid}"]`);
    if (row) row.scrollIntoView({ block: "nearest" });
  }

  render() {
    const children = new Map();
    for (const node of this.nodes.values()) {
      const parent = node.parent && this.nodes.has(node.parent) ? node.parent : "";
      if (!children.has(parent)) children.set(parent, []);
      children.get(parent).push(node);
    }
    const order = (a, b) =>
      KIND_ORDER.indexOf(a.kind) - KIND_ORDER.indexOf(b.kind) || a.name.localeCompare(b.name);
    const needle = this.filter.value.trim().toLowerCase();
    const matches = (node) =>
      !needle ||
      node.name.toLowerCase().includes(needle) ||
      (children.get(node.uuid) || []).some(matches);
    const rows = [];
    const walk = (parent, depth) => {
      for (const node of (children.get(parent) || []).sort(order)) {
        if (!matches(node)) continue;
        const kids = children.get(node.uuid) || [];
        const open = needle || !this.collapsed.has(node.uuid);
        rows.push(this.row(node, depth, kids.length > 0, open));
        if (open) walk(node.uuid, depth + 1);
      }
    };
    walk("", 0);
    this.root.innerHTML = rows.join("") || '<li class="tree-empty">No nodes match</li>';
    if (this.selected) this.select(this.selected);
  }

  row(node, depth, hasKids, open) {
    const twisty = hasKids ? `<button class="twisty" data-toggle="${node.uuid}" aria-label="expand">${open ? "▾" : "▸"}</button>` : '<span class="twisty"></span>';
    const bone = node.parent_bone ? `<span class="bone" title="parented to bone ${esc(node.parent_bone)}">⟂ ${esc(node.parent_bone)}</span>` : "";
    const imported = node.source ? '<span class="bone" title="imported by an asset">asset</span>' : "";
    return `<li class="tree-row" role="treeitem" tabindex="-1" data-uuid="${node.uuid}" data-kind="${node.kind}" data-name="${esc(node.name)}" style="--depth:${depth}">${twisty}${kindIcon(node.kind)}<span class="tree-name">${esc(node.name)}</span>${bone}${imported}</li>`;
  }

  onClick(e) {
    const toggle = e.target.closest("[data-toggle]");
    if (toggle) {
      const uuid = toggle.dataset.toggle;
      if (this.collapsed.has(uuid)) this.collapsed.delete(uuid);
      else this.collapsed.add(uuid);
      this.render();
      return;
    }
    const row = e.target.closest(".tree-row");
    if (row) {
      row.focus();
      this.onSelect(row.dataset.uuid);
    }
  }

  onKey(e) {
    if (e.key !== "ArrowDown" && e.key !== "ArrowUp") return;
    const rows = [...this.root.querySelectorAll(".tree-row")];
    const index = rows.findIndex((r) => r.dataset.uuid === this.selected);
    const next = rows[Math.max(0, Math.min(rows.length - 1, index + (e.key === "ArrowDown" ? 1 : -1)))];
    if (next) {
      e.preventDefault();
      next.focus();
      this.onSelect(next.dataset.uuid);
    }
  }
}

export function esc(text) {
  return String(text).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}
