// The inspector: the selected node's fields, applied with typed commands on change / Enter,
// the server's errors shown next to the field they name, and a camera's optics readout.

import { cameraFields, lightFields, materialFields, transformFields } from "./fields.js";
import { fmt, hexToLinear, linearToHex, metres } from "./math.js";
import { esc, kindIcon } from "./tree.js";

const AXES = ["x", "y", "z"];

export class Inspector {
  /**
   * @param {HTMLElement} root
   * @param {import("./connection.js").StageConnection} conn
   * @param {import("./tree.js").StageTree} tree
   * @param {{lookThrough(uuid): void}} actions
   */
  constructor(root, conn, tree, actions) {
    this.root = root;
    this.conn = conn;
    this.tree = tree;
    this.actions = actions;
    this.node = null;
    this.fields = new Map();
    this.layout = "";
    root.addEventListener("change", (e) => this.onChange(e));
    root.addEventListener("input", (e) => this.onInput(e));
    root.addEventListener("click", (e) => this.onClick(e));
    root.addEventListener("keydown", (e) => this.onKey(e));
    root.addEventListener("focusout", (e) => this.onLeave(e));
  }

  /** Show nothing selected. */
  clear(message = "Select a node in the stage tree") {
    this.node = null;
    this.layout = "";
    this.fields.clear();
    this.root.innerHTML = `<div class="placeholder">${esc(message)}</div>`;
  }

  /** Show `node` (the mirror's state of it); keeps fields being edited or showing an error. */
  show(node) {
    const specs = this.specsFor(node);
    const layout = `${node.uuid}|${specs.map((s) => s.id).join(",")}`;
    this.node = node;
    if (layout !== this.layout) {
      this.layout = layout;
      this.fields = new Map(specs.map((s) => [s.id, s]));
      this.root.innerHTML = this.html(node, specs);
      for (const spec of specs) this.fill(spec, true);
    } else {
      this.root.querySelector('[data-testid="inspector-name"]').dataset.current = node.name;
      for (const spec of specs) this.fill(spec, false);
    }
  }

  specsFor(node) {
    const groups = [["Transform", transformFields()]];
    if (node.material) groups.push(["Material", materialFields()]);
    if (node.camera) {
      const fields = cameraFields(this.tree);
      groups.push(["Camera", fields.filter((f) => f.type !== "action")], ["Lens moves", fields.filter((f) => f.type === "action")]);
    }
    if (node.light) groups.push(["Light", lightFields(node)]);
    return groups.flatMap(([group, specs]) => specs.map((s) => ({ ...s, group })));
  }

  html(node, specs) {
    const sections = [];
    let group = null;
    for (const spec of specs) {
      if (spec.group !== group) {
        if (group) sections.push("</section>");
        group = spec.group;
        sections.push(`<section class="insp-section" data-section="${group.toLowerCase().replace(" ", "-")}"><h3>${group}</h3>`);
      }
      sections.push(fieldHtml(spec));
    }
    sections.push("</section>");
    const parent = node.parent ? `${esc(this.tree.name(node.parent))}${node.parent_bone ? ` · ${esc(node.parent_bone)}` : ""}` : "stage root";
    const cameraTools = node.camera
      ? `<div class="insp-actions">
          <button data-act="look" data-testid="inspector-look-through">Look through</button>
          <button data-act="activate" data-testid="inspector-make-active">Make stage camera</button>
          <div class="field-error" data-testid="inspector-make-active-error" role="alert" hidden></div>
        </div>`
      : "";
    const readout = node.camera
      ? `<section class="insp-section" data-section="optics"><h3>Optics <span class="hint">get_optics</span></h3>
          <dl class="readout" data-testid="optics-readout"></dl></section>`
      : "";
    return `
      <header class="insp-head">
        ${kindIcon(node.kind)}
        <input class="insp-name" data-testid="inspector-name" data-current="${esc(node.name)}" value="${esc(node.name)}" spellcheck="false" aria-label="name">
        <span class="insp-kind">${node.kind}</span>
      </header>
      <div class="field-error" data-testid="inspector-name-error" hidden></div>
      <div class="insp-meta"><span title="${node.uuid}">${node.uuid.slice(0, 8)}…</span> <span>in ${parent}</span></div>
      ${cameraTools}
      ${sections.join("")}
      ${readout}`;
  }

  /** Put the node's value into a field's inputs (`force`: even while typed in or in error).
   * A field shows the stage's value unless someone is typing in it. */
  fill(spec, force) {
    const row = this.row(spec.id);
    if (!force && (row.classList.contains("has-error") || row.dataset.typing)) return;
    delete row.dataset.typing;
    if (spec.type === "action") {
      for (const input of spec.inputs) {
        const el = row.querySelector(`[data-key="${input.key}"]`);
        if (input.type === "select") fillSelect(el, input.options(this.node), force ? (input.get ? input.get(this.node) : null) : el.value);
        else if (force || (input.live && !row.contains(document.activeElement))) el.value = fmt(input.get(this.node));
      }
      return;
    }
    const value = spec.get(this.node);
    const inputs = row.querySelectorAll("[data-input]");
    if (spec.type === "vec3") inputs.forEach((el, i) => (el.value = fmt(value[i])));
    else if (spec.type === "color") inputs[0].value = linearToHex(value);
    else if (spec.type === "bool") inputs[0].checked = Boolean(value);
    else if (spec.type === "select") fillSelect(inputs[0], spec.options(this.node), value || "");
    else row.querySelectorAll("input").forEach((el) => (el.value = fmt(value)));
  }

  /** Read a field's inputs as its wire value; null when a number is not a number. */
  read(spec, row) {
    if (spec.type === "action") {
      const values = {};
      for (const input of spec.inputs) {
        const raw = row.querySelector(`[data-key="${input.key}"]`).value;
        values[input.key] = input.type === "number" ? parseNumber(raw) : raw;
        if (values[input.key] === null || values[input.key] === "") return null;
      }
      return values;
    }
    const inputs = [...row.querySelectorAll("[data-input]")];
    if (spec.type === "vec3") {
      const values = inputs.map((el) => parseNumber(el.value));
      return values.includes(null) ? null : values;
    }
    if (spec.type === "color") return hexToLinear(inputs[0].value);
    if (spec.type === "bool") return inputs[0].checked;
    if (spec.type === "select") return inputs[0].value;
    return parseNumber(inputs.at(-1).value);
  }

  onInput(e) {
    const row = e.target.closest(".field");
    if (!row) return;
    row.dataset.typing = "1";
    if (e.target.type === "range") row.querySelector('input[type="number"]').value = e.target.value;
    if (e.target.type === "number" && row.querySelector('input[type="range"]')) row.querySelector('input[type="range"]').value = e.target.value;
  }

  onChange(e) {
    if (e.target.matches(".insp-name")) return this.rename(e.target);
    const row = e.target.closest(".field");
    if (!row || !this.node) return;
    const spec = this.fields.get(row.dataset.field);
    if (spec.type === "action") return;
    delete row.dataset.typing;
    this.apply(spec, row);
  }

  /** Esc takes a field back to the stage's value (an entry being typed, or one refused). */
  onKey(e) {
    const row = e.target.closest(".field");
    if (e.key !== "Escape" || !row || !this.node) return;
    this.revert(row);
    e.target.blur();
    e.preventDefault();
  }

  /** Leaving a field the stage refused takes it back to the stage's value. */
  onLeave(e) {
    const row = e.target.closest(".field");
    if (!row || row.contains(e.relatedTarget) || !row.classList.contains("has-error") || !this.node) return;
    this.revert(row);
  }

  revert(row) {
    const spec = this.fields.get(row.dataset.field);
    if (!spec) return;
    this.clearError(row);
    this.fill(spec, true);
  }

  onClick(e) {
    const act = e.target.closest("[data-act]");
    if (act && this.node) {
      if (act.dataset.act === "look") this.actions.lookThrough(this.node.uuid);
      else if (act.dataset.act === "activate") this.send(act.closest(".insp-actions"), null, { type: "set_active_camera", node: this.node.uuid });
      else if (act.dataset.act === "run") {
        const row = act.closest(".field");
        this.apply(this.fields.get(row.dataset.field), row);
      }
    }
  }

  apply(spec, row) {
    const value = this.read(spec, row);
    if (value === null) return this.showError(row, "Enter a number");
    this.send(row, spec, spec.send(this.node, value));
  }

  rename(input) {
    const name = input.value;
    if (name === input.dataset.current) return;
    this.send(input.parentElement, null, { type: "rename_node", node: this.node.uuid, name }, this.root.querySelector('[data-testid="inspector-name-error"]'));
  }

  /** Send `command` for a field `row`; show success or the error where it belongs. */
  async send(row, spec, command, errorEl = null) {
    const uuid = this.node.uuid;
    this.clearError(row, errorEl);
    row.classList.add("pending");
    try {
      await this.conn.command(command);
      row.classList.remove("pending");
      flash(row);
    } catch (err) {
      row.classList.remove("pending");
      if (!this.node || this.node.uuid !== uuid) return;
      const owner = this.rowForWire(err.field) || row;
      this.showError(owner, err.message, errorEl && owner === row ? errorEl : null, err.code);
    }
  }

  rowForWire(field) {
    if (!field) return null;
    const wire = field.replace(/^command\./, ""); // the page's request wraps the command
    for (const spec of this.fields.values()) {
      if (spec.wire === wire || (spec.type !== "action" && wire.startsWith(`${spec.wire}[`))) return this.row(spec.id);
    }
    return null;
  }

  showError(row, message, errorEl = null, code = "") {
    const el = errorEl || row.querySelector(".field-error");
    row.classList.add("has-error");
    el.textContent = message;
    el.title = code;
    el.hidden = false;
  }

  clearError(row, errorEl = null) {
    const el = errorEl || row.querySelector(".field-error");
    row.classList.remove("has-error", "saved");
    if (el) el.hidden = true;
  }

  row(id) {
    return this.root.querySelector(`.field[data-field="${id}"]`);
  }

  /** Show a get_optics reply (or the error that came instead). */
  showOptics(optics, error = null) {
    const dl = this.root.querySelector('[data-testid="optics-readout"]');
    if (!dl) return;
    if (error) {
      dl.innerHTML = `<dd class="field-error">${esc(error.message)}</dd>`;
      return;
    }
    const deg = (rad) => `${fmt((rad * 180) / Math.PI, 1)}°`;
    const rows = [
      ["focus", "Focus", metres(optics.focus_m)],
      ["near", "Near", metres(optics.near_m)],
      ["far", "Far", metres(optics.far_m)],
      ["dof", "DOF", metres(optics.dof_m)],
      ["hyperfocal", "Hyperfocal", metres(optics.hyperfocal_m)],
      ["fov", "FOV h × v", `${deg(optics.fov_horizontal)} × ${deg(optics.fov_vertical)}`],
      ["fov-diagonal", "FOV diag.", deg(optics.fov_diagonal)],
      ["coc", "CoC", `${fmt(optics.coc_mm, 4)} mm`],
      ["sensor", "Sensor", `${fmt(optics.sensor_width_mm, 2)} × ${fmt(optics.sensor_height_mm, 2)} mm`],
      ["body", "Body", optics.body || "—"],
    ];
    dl.innerHTML = rows.map(([id, label, value]) => `<dt>${label}</dt><dd data-testid="optics-${id}">${esc(value)}</dd>`).join("");
  }
}

function fieldHtml(spec) {
  const id = `f-${spec.id}`;
  const unit = spec.unit ? `<span class="unit">${spec.unit}</span>` : "";
  const tid = `inspector-${spec.id}`;
  let control;
  if (spec.type === "vec3") {
    control = AXES.map((a, i) => `<label class="axis axis-${a}"><span>${a.toUpperCase()}</span><input data-input type="number" step="${spec.step}" data-testid="${tid}-${a}" ${i === 0 ? `id="${id}"` : ""}></label>`).join("") + unit;
  } else if (spec.type === "color") {
    control = `<input data-input id="${id}" type="color" data-testid="${tid}">`;
  } else if (spec.type === "bool") {
    control = `<input data-input id="${id}" type="checkbox" data-testid="${tid}">`;
  } else if (spec.type === "select") {
    control = `<select data-input id="${id}" data-testid="${tid}"></select>`;
  } else if (spec.type === "slider") {
    control = `<input type="range" min="${spec.min}" max="${spec.max}" step="${spec.step}" aria-label="${spec.label}"><input data-input id="${id}" class="num-short" type="number" step="${spec.step}" data-testid="${tid}">`;
  } else if (spec.type === "action") {
    control =
      spec.inputs
        .map((input) =>
          input.type === "select"
            ? `<select data-key="${input.key}" data-testid="${tid}-${input.key.replaceAll("_", "-")}"></select>`
            : `<input data-key="${input.key}" class="num-short" type="number" step="${input.step}" data-testid="${tid}-${input.key.replaceAll("_", "-")}" title="${input.unit}">`,
        )
        .join("") + `<button data-act="run" data-testid="${tid}-apply">${spec.button}</button>`;
  } else {
    control = `<input data-input id="${id}" type="number" step="${spec.step}" data-testid="${tid}">${unit}`;
  }
  return `<div class="field field-${spec.type}" data-field="${spec.id}">
    <label for="${id}">${spec.label}</label>
    <div class="control">${control}</div>
    <div class="field-error" data-testid="${tid}-error" role="alert" hidden></div>
  </div>`;
}

function fillSelect(select, options, value) {
  select.innerHTML = options.map(([v, label]) => `<option value="${esc(v)}">${esc(label)}</option>`).join("");
  if (value !== null && options.some(([v]) => v === value)) select.value = value;
}

function parseNumber(text) {
  if (String(text).trim() === "") return null;
  const value = Number(text);
  return Number.isFinite(value) ? value : null;
}

function flash(row) {
  row.classList.add("saved");
  setTimeout(() => row.classList.remove("saved"), 700);
}
