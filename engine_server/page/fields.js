// Inspector field descriptions per node kind. Each field says how to read its value from a
// node state (`get`, from the page's mirror of the stage) and which typed command applies an
// edit (`send`); `wire` is the protocol's field path, so a server error naming it is shown next
// to this field.

import { eulerDegToQuat, quatToEulerDeg } from "./math.js";

const DEG = Math.PI / 180;

export function transformFields() {
  const t = (n) => n.transform;
  return [
    { id: "location", label: "Location", type: "vec3", unit: "m", step: 0.05, wire: "location",
      get: (n) => t(n).location, send: (n, v) => ({ type: "set_transform", node: n.uuid, location: v }) },
    { id: "rotation", label: "Rotation", type: "vec3", unit: "°", step: 1, wire: "rotation",
      get: (n) => quatToEulerDeg(t(n).rotation),
      send: (n, v) => ({ type: "set_transform", node: n.uuid, rotation: eulerDegToQuat(v) }) },
    { id: "scale", label: "Scale", type: "vec3", step: 0.05, wire: "scale",
      get: (n) => t(n).scale, send: (n, v) => ({ type: "set_transform", node: n.uuid, scale: v }) },
  ];
}

const material = (key, extra = {}) => ({
  wire: `material.${key}`,
  get: (n) => n.material[key],
  send: (n, v) => ({ type: "set_material", node: n.uuid, material: { [key]: v } }),
  ...extra,
});

export function materialFields() {
  return [
    material("base_color", { id: "base-color", label: "Base colour", type: "color",
      send: (n, v) => ({ type: "set_material", node: n.uuid, material: { base_color: [...v, n.material.base_color[3]] } }) }),
    material("roughness", { id: "roughness", label: "Roughness", type: "slider", min: 0, max: 1, step: 0.01 }),
    material("metallic", { id: "metallic", label: "Metallic", type: "slider", min: 0, max: 1, step: 0.01 }),
    material("normal_strength", { id: "normal-strength", label: "Normal strength", type: "slider", min: 0, max: 10, step: 0.05 }),
    material("emission_color", { id: "emission-color", label: "Emission colour", type: "color" }),
    material("emission_strength", { id: "emission-strength", label: "Emission strength", type: "number", step: 0.1 }),
  ];
}

const camera = (key, extra = {}) => ({
  wire: `camera.${key}`,
  get: (n) => n.camera[key],
  send: (n, v) => ({ type: "set_camera", node: n.uuid, camera: { [key]: v } }),
  ...extra,
});

/** The stage's camera bodies and lenses (get_optics_table), filled in once the page connects. */
export const opticsTable = { bodies: [], lenses: [] };

const bodyOptions = () => [["", "— custom sensor —"], ...opticsTable.bodies.map((b) => [b.name, `${b.label} · ${b.sensor_width_mm} × ${b.sensor_height_mm} mm`])];
const areaOptions = (n) => {
  const body = opticsTable.bodies.find((b) => b.name === n.camera.body);
  const areas = body ? body.recording_areas : [];
  return [["", body ? "— whole sensor —" : "— pick a body first —"], ...areas.map((a) => [a.name, `${a.name} · ${a.width_mm} × ${a.height_mm} mm`])];
};
const lensOptions = () => [["", "— focal length by hand —"], ...opticsTable.lenses.map((l) => [l.name, lensLabel(l)])];

function lensLabel(l) {
  const stop = l.max_aperture ? ` f/${l.max_aperture}` : "";
  const squeeze = l.squeeze > 1 ? ` ${l.squeeze}× anamorphic` : "";
  return `${l.focal_mm} mm${stop}${squeeze}`;
}

const SHOT_SIZES = ["extreme_close_up", "close_up", "medium_close_up", "medium", "cowboy", "full", "wide"];
const EASINGS = ["ease_in_out", "linear", "ease_in", "ease_out"];

export function cameraFields(tree) {
  const others = (n) => [...tree.nodes.values()].filter((o) => o.uuid !== n.uuid).sort((a, b) => a.name.localeCompare(b.name));
  const targets = (n) => [["", "— none —"], ...others(n).map((o) => [o.uuid, o.name])];
  return [
    camera("body", { id: "body", label: "Camera body", type: "select", options: bodyOptions, get: (n) => n.camera.body || "" }),
    camera("recording_area", { id: "recording-area", label: "Recording area", type: "select", options: areaOptions,
      get: (n) => n.camera.recording_area || "" }),
    camera("lens_name", { id: "lens-name", label: "Lens", type: "select", options: lensOptions, get: (n) => n.camera.lens_name || "" }),
    camera("lens", { id: "lens", label: "Focal length", type: "number", unit: "mm", step: 1 }),
    camera("fstop", { id: "fstop", label: "f-stop", type: "number", unit: "ƒ", step: 0.1 }),
    camera("use_dof", { id: "use-dof", label: "Depth of field", type: "bool" }),
    camera("focus_distance", { id: "focus-distance", label: "Focus distance", type: "number", unit: "m", step: 0.05 }),
    camera("focus_target", { id: "focus-target", label: "Focus target", type: "select", options: targets }),
    camera("sensor_width", { id: "sensor-width", label: "Sensor width", type: "number", unit: "mm", step: 0.1 }),
    { id: "set-lens", label: "Zoom", type: "action", wire: "focal_mm", button: "Apply",
      inputs: [
        { key: "focal_mm", type: "number", unit: "mm", step: 1, live: true, get: (n) => n.camera.lens },
        { key: "mode", type: "select", options: () => [["zoom", "Zoom"], ["dolly_zoom", "Dolly zoom"]] },
      ],
      send: (n, v) => ({ type: "set_lens", node: n.uuid, focal_mm: v.focal_mm, mode: v.mode }) },
    { id: "frame-shot", label: "Frame shot", type: "action", wire: "shot_size", button: "Frame",
      inputs: [
        { key: "target", type: "select", options: (n) => others(n).map((o) => [o.uuid, o.name]),
          get: (n) => n.camera.focus_target || "" },
        { key: "shot_size", type: "select", options: () => SHOT_SIZES.map((s) => [s, s.replaceAll("_", " ")]) },
        { key: "frames", type: "number", unit: "fr", step: 1, get: () => 0 },
      ],
      send: (n, v) => ({ type: "frame_shot", node: n.uuid, target: v.target, shot_size: v.shot_size, frames: v.frames }) },
    { id: "look-at", label: "Look at", type: "action", wire: "target", button: "Aim",
      inputs: [
        { key: "target", type: "select", options: (n) => others(n).map((o) => [o.uuid, o.name]) },
        { key: "frames", type: "number", unit: "fr", step: 1, get: () => 0 },
      ],
      send: (n, v) => ({ type: "look_at", node: n.uuid, target: v.target, frames: v.frames }) },
    { id: "rack-focus", label: "Rack focus", type: "action", wire: "to_target", button: "Pull",
      inputs: [
        { key: "to_target", type: "select", options: (n) => others(n).map((o) => [o.uuid, o.name]) },
        { key: "frames", type: "number", unit: "fr", step: 1, get: () => 24 },
        { key: "easing", type: "select", options: () => EASINGS.map((s) => [s, s.replaceAll("_", " ")]) },
      ],
      send: (n, v) => ({ type: "rack_focus", node: n.uuid, to_target: v.to_target, frames: v.frames, easing: v.easing }) },
  ];
}

const light = (key, extra = {}) => ({
  wire: `light.${key}`,
  get: (n) => n.light[key],
  send: (n, v) => ({ type: "set_light", node: n.uuid, light: { [key]: v } }),
  ...extra,
});

export function lightFields(node) {
  const kind = node.light.light_type;
  const fields = [
    light("light_type", { id: "light-type", label: "Type", type: "select",
      options: () => ["point", "sun", "spot", "area"].map((t) => [t, t]) }),
    light("color", { id: "light-color", label: "Colour", type: "color" }),
    light("energy", { id: "energy", label: kind === "sun" ? "Strength" : "Power", type: "number",
      unit: kind === "sun" ? "W/m²" : "W", step: 10 }),
  ];
  if (kind === "point" || kind === "spot") {
    fields.push(light("radius", { id: "radius", label: "Radius", type: "number", unit: "m", step: 0.01 }));
  }
  if (kind === "spot") {
    fields.push(
      light("spot_size", { id: "spot-size", label: "Cone angle", type: "number", unit: "°", step: 1,
        get: (n) => n.light.spot_size / DEG,
        send: (n, v) => ({ type: "set_light", node: n.uuid, light: { spot_size: v * DEG } }) }),
      light("spot_blend", { id: "spot-blend", label: "Cone blend", type: "slider", min: 0, max: 1, step: 0.01 }),
    );
  }
  if (kind === "area") {
    fields.push(light("area_size", { id: "area-size", label: "Size", type: "number", unit: "m", step: 0.05 }));
  }
  fields.push(light("cast_shadow", { id: "cast-shadow", label: "Cast shadow", type: "bool" }));
  return fields;
}
