// Pure conversions between what people edit and what the wire carries.
// Rotations: the wire has unit quaternions [w, x, y, z]; people edit Blender's XYZ Euler angles
// in degrees (R = Rz · Ry · Rx). Colours: the wire has linear RGB; <input type=color> is sRGB hex.

const DEG = Math.PI / 180;

/** [w, x, y, z] → [x°, y°, z°] (XYZ Euler, as Blender shows it). */
export function quatToEulerDeg(q) {
  const n = Math.hypot(q[0], q[1], q[2], q[3]) || 1;
  const [w, x, y, z] = q.map((c) => c / n);
  const ex = Math.atan2(2 * (w * x + y * z), 1 - 2 * (x * x + y * y));
  const ey = Math.asin(Math.max(-1, Math.min(1, 2 * (w * y - z * x))));
  const ez = Math.atan2(2 * (w * z + x * y), 1 - 2 * (y * y + z * z));
  return [ex / DEG, ey / DEG, ez / DEG];
}

/** [x°, y°, z°] (XYZ Euler) → unit quaternion [w, x, y, z]. */
export function eulerDegToQuat(e) {
  const [hx, hy, hz] = e.map((a) => (a * DEG) / 2);
  const cx = Math.cos(hx), sx = Math.sin(hx);
  const cy = Math.cos(hy), sy = Math.sin(hy);
  const cz = Math.cos(hz), sz = Math.sin(hz);
  return [
    cx * cy * cz + sx * sy * sz,
    sx * cy * cz - cx * sy * sz,
    cx * sy * cz + sx * cy * sz,
    cx * cy * sz - sx * sy * cz,
  ];
}

const toSrgb = (c) => (c <= 0.0031308 ? 12.92 * c : 1.055 * c ** (1 / 2.4) - 0.055);
const toLinear = (c) => (c <= 0.04045 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4);

/** Linear [r, g, b] (each clamped to [0, 1]) → "#rrggbb" in sRGB. */
export function linearToHex(rgb) {
  return (
    "#" +
    rgb
      .slice(0, 3)
      .map((c) => Math.round(toSrgb(Math.max(0, Math.min(1, c))) * 255).toString(16).padStart(2, "0"))
      .join("")
  );
}

/** "#rrggbb" in sRGB → linear [r, g, b], rounded to 4 decimals. */
export function hexToLinear(hex) {
  return [1, 3, 5].map((i) => Math.round(toLinear(parseInt(hex.slice(i, i + 2), 16) / 255) * 1e4) / 1e4);
}

/** A number for a field: at most `digits` decimals, no trailing zeros. */
export function fmt(value, digits = 3) {
  if (value === null || value === undefined) return "";
  return String(Number(value.toFixed(digits)));
}

/** Metres for a readout: "∞" for null, cm below 1 m. */
export function metres(value) {
  if (value === null || value === undefined) return "∞";
  return value < 1 ? `${fmt(value * 100, 1)} cm` : `${fmt(value, 2)} m`;
}
