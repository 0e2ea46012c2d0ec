"""Thin-lens optics: depth of field, circle of confusion, field of view, framing, dolly zoom.

Pure functions over floats or numpy arrays (they broadcast; a scalar in gives a float out).
Units: focal length, sensor sizes and circles of confusion in millimetres, distances in metres,
angles in radians. Distances are measured from the lens (its centre: where Blender's camera
sits); a focus or object distance may be ``inf``. A lens barrel, a tape measure and the stage's
focus readouts measure from the film plane instead, v = f·u/(u − f) behind the lens:
``marked_distance_m`` and ``object_distance_m`` turn one into the other.

Formulas (thin lens, f focal length, N f-number, c acceptable CoC, s focus distance, d object
distance; the standard forms, e.g. Ray, *Applied Photographic Optics* §6 and Wikipedia "Depth of
field" / "Hyperfocal distance"):

    hyperfocal   H = f² / (N·c) + f
    near limit   Dn = s·(H − f) / (H + s − 2f)
    far limit    Df = s·(H − f) / (H − s)  for s < H, else ∞       (Dn = H/2 when s = H)
    blur disc    b = f² / (N·(s − f)) · |d − s| / d                 (→ f² / (N·(s − f)) as d → ∞)
    angle of view  α = 2·atan(x / (2f)), x the sensor extent (the width times an anamorphic squeeze)

Framing and dolly zoom use the pinhole model Blender's camera renders with (no focus breathing):
a frame of height X at distance D fills a sensor of height h when D = f·X / h.
"""

from __future__ import annotations

import dataclasses
import math
from types import MappingProxyType

import numpy as np

from protocols import InvalidArgument

__all__ = [
    "MIN_FSTOP",
    "SHOT_SIZES",
    "FieldOfView",
    "OpticsReadout",
    "blur_px",
    "coc_diameter_mm",
    "depth_of_field_m",
    "dof_limits_m",
    "dolly_zoom_distance_m",
    "field_of_view_rad",
    "framing_distance_m",
    "hyperfocal_m",
    "optics_readout",
]

MIN_FSTOP = 0.7
"""The fastest f-number accepted (the fastest lenses ever made are about f/0.7)."""

SHOT_SIZES: MappingProxyType[str, float] = MappingProxyType(
    {
        # The height of the frame as a multiple of a standing subject's height, from the usual
        # cinematographers' definitions (head ≈ 1/8 of a standing adult), headroom included.
        "extreme_close_up": 0.1,  # a feature of the face: eyes to mouth, or the face cropped
        "close_up": 0.25,  # head and shoulders
        "medium_close_up": 0.35,  # head to mid-chest
        "medium": 0.5,  # head to waist
        "cowboy": 0.7,  # head to mid-thigh (the "American" shot)
        "full": 1.2,  # head to toe with head- and foot-room
        "wide": 3.0,  # the subject small in its surroundings
    }
)


@dataclasses.dataclass(frozen=True, slots=True)
class FieldOfView:
    """Angles of view in radians across the frame's width, height and diagonal."""

    horizontal: float
    vertical: float
    diagonal: float


@dataclasses.dataclass(frozen=True, slots=True)
class OpticsReadout:
    """A camera's live optics: sharp zone in metres (``far_m``/``dof_m`` may be ``inf``),
    its angles of view, and the acceptable circle of confusion ``coc_mm`` it was computed for."""

    near_m: float
    far_m: float
    dof_m: float
    hyperfocal_m: float
    fov: FieldOfView
    coc_mm: float


def _checked(name: str, value, unit: str, low: float = 0.0, *, closed: bool = False, inf: bool = False):
    """``value`` as a float64 array, or InvalidArgument naming ``name`` and its valid range."""
    if isinstance(value, bool | str | bytes):
        raise InvalidArgument(f"{name} must be a number, got {value!r}", field=name)
    # fast path: a plain number in range needs no array checks
    plain = type(value) in (float, int)
    if plain and (value >= low if closed else value > low) and (inf or math.isfinite(value)):
        return np.float64(value)
    try:
        array = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise InvalidArgument(f"{name} must be a number or an array of numbers", field=name) from None
    ok = array >= low if closed else array > low
    if not inf:
        ok &= np.isfinite(array)
    if not np.all(ok):
        bad = array.reshape(-1)[np.flatnonzero(~np.asarray(ok).reshape(-1))[0]]
        bounds = f"{'[' if closed else '('}{low:g}, inf{']' if inf else ')'}"
        raise InvalidArgument(f"{name} = {bad:g} is out of range: valid is {bounds} {unit}", field=name)
    return array


def _focal_m(focal_mm) -> np.ndarray:
    return _checked("focal_mm", focal_mm, "mm") / 1000.0


def _fstop(fstop) -> np.ndarray:
    return _checked("fstop", fstop, "(f-number)", MIN_FSTOP, closed=True)


def _focus(focus_m, focal_m: np.ndarray) -> np.ndarray:
    """Focus distance in metres, beyond the focal length (a lens cannot focus inside it)."""
    focus = _checked("focus_m", focus_m, "m", inf=True)
    inside = ~(focus > focal_m)
    if np.any(inside):
        bad_s, bad_f = (np.broadcast_to(a, inside.shape)[inside][0] for a in (focus, focal_m))
        raise InvalidArgument(
            f"focus_m = {bad_s:g} is inside the focal length ({bad_f:g} m): valid is ({bad_f:g}, inf] m",
            field="focus_m",
        )
    return focus


def _out(array: np.ndarray):
    """A 0-d result as a Python float, anything else as the array."""
    return float(array) if array.ndim == 0 else array


def _hyperfocal(focal_m: np.ndarray, fstop: np.ndarray, coc_m: np.ndarray) -> np.ndarray:
    return focal_m * focal_m / (fstop * coc_m) + focal_m


def hyperfocal_m(focal_mm, fstop, coc_mm):
    """Hyperfocal distance H = f²/(N·c) + f in metres: focused there, all from H/2 to ∞ is sharp."""
    coc_m = _checked("coc_mm", coc_mm, "mm") / 1000.0
    return _out(_hyperfocal(_focal_m(focal_mm), _fstop(fstop), coc_m))


def dof_limits_m(focal_mm, fstop, coc_mm, focus_m):
    """(near, far) limits of acceptable sharpness in metres; far is ``inf`` once focus ≥ H."""
    focal = _focal_m(focal_mm)
    h = _hyperfocal(focal, _fstop(fstop), _checked("coc_mm", coc_mm, "mm") / 1000.0)
    focus = _focus(focus_m, focal)
    # Dn = s(H−f)/(H+s−2f), divided through by s so that s = ∞ gives H − f.
    near = (h - focal) / (1.0 + (h - 2.0 * focal) / focus)
    before = focus < h
    far = np.where(before, focus * (h - focal) / np.where(before, h - focus, 1.0), np.inf)
    return _out(near), _out(far)


def depth_of_field_m(focal_mm, fstop, coc_mm, focus_m):
    """Total depth of field far − near in metres; ``inf`` when the far limit is."""
    near, far = dof_limits_m(focal_mm, fstop, coc_mm, focus_m)
    return _out(np.asarray(far) - np.asarray(near))


def coc_diameter_mm(focal_mm, fstop, focus_m, distance_m):
    """Blur disc diameter on the sensor (mm) of a point at ``distance_m`` with focus at ``focus_m``.

    b = f²/(N(s−f))·|d−s|/d, written as f²·|1/s − 1/d| / (N(1 − f/s)) so that either distance may
    be ``inf``. 0 at the focus plane. Broadcasts: a depth map H×W of distances gives H×W diameters.
    """
    focal = _focal_m(focal_mm)
    n = _fstop(fstop)
    focus = _focus(focus_m, focal)
    distance = _checked("distance_m", distance_m, "m", inf=True)
    blur_m = focal * focal * np.abs(1.0 / focus - 1.0 / distance) / (n * (1.0 - focal / focus))
    return _out(blur_m * 1000.0)


def blur_px(coc_mm, sensor_width_mm, image_width_px):
    """A blur diameter on the sensor (mm, scalar or array) in pixels of an image whose width spans
    the sensor's width: b·W_px / w_sensor (horizontal pixels on a desqueezed anamorphic frame)."""
    coc = _checked("coc_mm", coc_mm, "mm", closed=True)
    width = _checked("sensor_width_mm", sensor_width_mm, "mm")
    pixels = _checked("image_width_px", image_width_px, "px")
    return _out(coc * pixels / width)


def field_of_view_rad(focal_mm, sensor_width_mm, sensor_height_mm, squeeze=1.0) -> FieldOfView:
    """Horizontal, vertical and diagonal angles of view (radians) for a lens focused at infinity.

    An anamorphic ``squeeze`` (≥ 1) sees ``squeeze`` times the sensor's width horizontally.
    """
    focal = _checked("focal_mm", focal_mm, "mm")
    width = _checked("sensor_width_mm", sensor_width_mm, "mm") * _checked(
        "squeeze", squeeze, "(anamorphic factor)", 1.0, closed=True
    )
    height = _checked("sensor_height_mm", sensor_height_mm, "mm")
    return FieldOfView(
        horizontal=_out(2.0 * np.arctan(width / (2.0 * focal))),
        vertical=_out(2.0 * np.arctan(height / (2.0 * focal))),
        diagonal=_out(2.0 * np.arctan(np.hypot(width, height) / (2.0 * focal))),
    )


def framing_distance_m(subject_height_m, shot_size: str, focal_mm, sensor_height_mm):
    """Camera-to-subject distance (m) at which ``shot_size`` of a subject fills the frame's height.

    D = f·X/h with X = SHOT_SIZES[shot_size]·subject height: the pinhole distance Blender renders
    with. Not corrected for focus magnification (the thin-lens object distance is f·X/h + f).
    """
    if shot_size not in SHOT_SIZES:
        raise InvalidArgument(
            f"shot_size {shot_size!r} is not one of {', '.join(SHOT_SIZES)}", field="shot_size"
        )
    frame_m = _checked("subject_height_m", subject_height_m, "m") * SHOT_SIZES[shot_size]
    focal = _checked("focal_mm", focal_mm, "mm")
    return _out(focal * frame_m / _checked("sensor_height_mm", sensor_height_mm, "mm"))


def image_distance_m(focal_mm, object_m):
    """How far behind the lens a subject ``object_m`` in front of it comes to focus: v = f·u/(u − f)
    (f at infinity). The film plane sits there when that subject is in focus."""
    focal = _focal_m(focal_mm)
    distance = _focus(object_m, focal)
    with np.errstate(divide="ignore", invalid="ignore"):
        v = np.where(np.isinf(distance), focal, focal * distance / (distance - focal))
    return _out(v)


def marked_distance_m(focal_mm, object_m):
    """The focus distance as the lens is marked (from the film plane) for a subject ``object_m``
    from the lens: u + v."""
    return _out(np.asarray(object_m, dtype=float) + np.asarray(image_distance_m(focal_mm, object_m)))


def object_distance_m(focal_mm, marked_m, field: str = "focus_distance"):
    """The subject's distance from the lens for a focus marked ``marked_m`` from the film plane:
    u = (D + √(D² − 4fD)) / 2 (u + v = D). A lens forms no image closer than D = 4f (1:1)."""
    focal = float(_focal_m(focal_mm))
    marked = np.asarray(_checked(field, marked_m, "m", inf=True), dtype=float)
    if np.any(marked < 4 * focal - 1e-12):
        closest = float(np.min(marked))
        raise InvalidArgument(
            f"{field} = {closest:.3g} m from the film plane is closer than a {focal * 1000:g} mm lens can "
            f"focus (4 × its focal length: {4 * focal:.3g} m)",
            field=field,
        )
    with np.errstate(invalid="ignore"):
        u = np.where(
            np.isinf(marked),
            np.inf,
            (marked + np.sqrt(np.maximum(marked * marked - 4 * focal * marked, 0))) / 2,
        )
    return _out(u)


def dolly_zoom_distance_m(distance_m, focal_from_mm, focal_to_mm):
    """The distance (m) that keeps a subject's size on screen when the focal length changes:
    D₂ = D₁·f₂/f₁ (projected size f·X/D stays constant)."""
    distance = _checked("distance_m", distance_m, "m")
    ratio = _checked("focal_to_mm", focal_to_mm, "mm") / _checked("focal_from_mm", focal_from_mm, "mm")
    return _out(distance * ratio)


def optics_readout(
    focal_mm: float,
    fstop: float,
    coc_mm: float,
    focus_m: float,
    sensor_width_mm: float,
    sensor_height_mm: float,
    squeeze: float = 1.0,
) -> OpticsReadout:
    """Near / far / depth of field / hyperfocal (m) and angles of view for one camera (scalars)."""
    near, far = dof_limits_m(focal_mm, fstop, coc_mm, focus_m)
    if not isinstance(near, float) or not isinstance(far, float):
        raise InvalidArgument("optics_readout takes one camera: scalars, not arrays")
    return OpticsReadout(
        near_m=near,
        far_m=far,
        dof_m=far - near if math.isfinite(far) else math.inf,
        hyperfocal_m=hyperfocal_m(focal_mm, fstop, coc_mm),
        fov=field_of_view_rad(focal_mm, sensor_width_mm, sensor_height_mm, squeeze),
        coc_mm=float(coc_mm),
    )
