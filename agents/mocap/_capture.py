"""Landmarks → an upright, grounded SMPL-X clip on its mark: everything between detector and bake.

Steps: undo detector flips and fill undetected frames; fit the body's shape to the person's bone
lengths; fit every frame at once in the camera's axes; turn the fit so the world's up (read from
the still feet, or from a given pitch / roll) is +Y; put the floor at y = 0 under the soles; find
foot contacts and pin them to the floor; then place the clip on its mark (first frame over the
origin, facing +Z) unless the capture's own placement (the floor point under the camera at the
origin) is asked for.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np

from protocols import InvalidArgument

from ._body import BodyModel
from ._fit import _J, fit_clip
from ._fit3d import fit_points
from ._footlock import detect_contacts, floor_height, foot_skate, lock_feet
from ._gravity import LEVEL_UP, SOLE_LANDMARKS, camera_up, pitch_and_roll, up_from_feet
from ._landmarks import Landmarks
from ._placement import moved, to_mark
from ._rig import Rig
from ._rotations import align
from ._shape import fit_betas
from ._temporal import fill_gaps, unflip
from ._triangulate import aligned, estimate_offsets, triangulate

PLACEMENTS = ("mark", "capture")
TORSO_JOINTS = [_J["left_hip"], _J["right_hip"], _J["left_shoulder"], _J["right_shoulder"]]


@dataclass(frozen=True)
class CaptureSettings:
    """How to read the clip: ``focal`` px (default: the longer image side), the camera's
    ``pitch`` / ``roll`` in degrees (default: read from the feet), fit ``iterations``, and
    ``placement``: ``"mark"`` (on the character's mark) or ``"capture"`` (where it was filmed);
    ``fit_shape``: fit the body's ``betas`` to the person (else keep the model's)."""

    focal: float | None = None
    pitch: float | None = None
    roll: float | None = None
    iterations: int = 200
    placement: str = "mark"
    fit_shape: bool = True


@dataclass(frozen=True)
class Capture:
    """The clip (``pose`` T×55×3, ``transl`` T×3, SMPL-X axes, floor y = 0) of the ``model``
    shaped to the person (its ``betas``), its ``contacts`` T×2,
    the ``fitted_points`` before and ``points`` after foot locking (T×P×3, both as placed), and a
    ``report`` of figures for the user."""

    model: BodyModel
    pose: np.ndarray
    transl: np.ndarray
    contacts: np.ndarray
    fitted_points: np.ndarray
    points: np.ndarray
    report: dict = field(default_factory=dict)


def capture(model: BodyModel, lm: Landmarks, settings: CaptureSettings = CaptureSettings()) -> Capture:
    """The clip one person performs in ``lm`` (one camera), read with ``settings``."""
    detection_rate = float(lm.detected.mean())
    lm, flipped = unflip(lm, model.arrays.rest_joints.numpy()[TORSO_JOINTS])
    lm = fill_gaps(lm)
    if settings.fit_shape:
        model = model.shaped(fit_betas(model, lm.body_world, lm.body_vis))
    rest_pelvis = model.arrays.rest_joints.numpy()[0]
    focal = settings.focal or float(max(lm.image_size))
    fit = fit_clip(model.arrays, lm, focal, iterations=settings.iterations)

    if settings.pitch is not None or settings.roll is not None:
        up, gravity = camera_up(settings.pitch or 0.0, settings.roll or 0.0), "given"
    else:
        visible = lm.body_vis[:, SOLE_LANDMARKS].min(-1) > 0.5
        rest = model.points(np.zeros((1, 55, 3)), np.zeros((1, 3)))[0]
        found = up_from_feet(model.points(fit.pose, fit.transl), rest, lm.fps, visible)
        up, gravity = (LEVEL_UP, "assumed level: no feet stood still") if found is None else (found, "feet")
    pose, transl = moved(fit.pose, fit.transl, rest_pelvis, align(up, LEVEL_UP))
    pitch, roll = pitch_and_roll(up)
    report = {
        "detection_rate": detection_rate,
        "flipped_frames_corrected": flipped,
        "gravity": gravity,
        "camera_pitch_deg": round(pitch, 2),
        "camera_roll_deg": round(roll, 2),
        "focal_px": focal,
        "fit_loss": fit.loss,
    }
    return _grounded(model, pose, transl, lm.fps, settings, report)


def one_camera(settings: CaptureSettings, rig: Rig) -> CaptureSettings:
    """``settings`` for one video from the rig's only camera: its focal length, pitch and roll."""
    if len(rig.cameras) != 1:
        raise InvalidArgument(
            f"one video needs a calibration of one camera, not {len(rig.cameras)}", field="calibration"
        )
    camera = rig.cameras[0]
    up = np.diag([1.0, -1.0, -1.0]) @ camera.rotation @ rig.up  # in the fit's camera axes
    pitch, roll = pitch_and_roll(up)
    focal = float(camera.matrix[0, 0] + camera.matrix[1, 1]) / 2
    return replace(settings, focal=focal, pitch=pitch, roll=roll)


def capture_rig(
    model: BodyModel, rig: Rig, views: list[Landmarks], settings: CaptureSettings = CaptureSettings()
) -> Capture:
    """The clip one person performs in ``views`` (one per camera of ``rig``), read with ``settings``.

    Videos are lined up by the rig's time offsets, or by the offsets that agree best; the clip's
    world is the rig's, turned so its up is +Y.
    """
    if len(views) != len(rig.cameras) or len(views) < 2:
        raise InvalidArgument(
            f"the calibration has {len(rig.cameras)} cameras but {len(views)} videos were given",
            field="videos",
        )
    rest_torso = model.arrays.rest_joints.numpy()[TORSO_JOINTS]
    detection_rate = float(np.mean([v.detected.mean() for v in views]))
    readings = [unflip(v, rest_torso) for v in views]
    views, flipped = [v for v, _ in readings], sum(n for _, n in readings)
    fps = views[0].fps
    if all(c.time_offset is not None for c in rig.cameras):
        offsets = [-round((c.time_offset or 0.0) * fps) for c in rig.cameras]
        offsets = [d - offsets[0] for d in offsets]
    else:
        offsets = estimate_offsets(rig, views)
    try:
        seen = triangulate(rig, aligned(views, offsets))
    except ValueError as exc:
        raise InvalidArgument(f"the videos cannot be lined up: {exc}", field="videos") from exc
    upright = align(rig.up, LEVEL_UP)
    seen = replace(seen, body=seen.body @ upright.T, hands=seen.hands @ upright.T)
    if settings.fit_shape:
        model = model.shaped(fit_betas(model, seen.body, seen.body_confidence))
    try:
        fit = fit_points(model.arrays, seen, iterations=settings.iterations)
    except ValueError as exc:
        raise InvalidArgument(f"no person was seen by two cameras at once: {exc}", field="videos") from exc
    report = {
        "detection_rate": detection_rate,
        "flipped_frames_corrected": flipped,
        "gravity": "calibration",
        "frame_offsets": offsets,
        "reprojection_px": round(seen.reprojection_px, 2),
        "outliers_rejected": seen.rejected,
        "fit_loss": fit.loss,
    }
    return _grounded(model, fit.pose, fit.transl, fps, settings, report)


def _grounded(
    model: BodyModel,
    pose: np.ndarray,
    transl: np.ndarray,
    fps: float,
    settings: CaptureSettings,
    report: dict,
) -> Capture:
    """An upright clip with its floor at y = 0, feet locked on contacts, placed as ``settings`` say."""
    rest_pelvis = model.arrays.rest_joints.numpy()[0]
    floor = floor_height(model.points(pose, transl))
    transl = transl - [0.0, floor, 0.0]
    fitted = model.points(pose, transl)
    contacts = detect_contacts(fitted, fps)
    pose, transl = lock_feet(model.arrays, pose, transl, contacts)
    if settings.placement == "mark":
        rotation, shift = to_mark(pose, transl, rest_pelvis)
        pose, transl = moved(pose, transl, rest_pelvis, rotation, shift)
        fitted = fitted @ rotation.T + shift
    locked = model.points(pose, transl)
    report = {
        **report,
        "floor_height_m": round(float(floor), 3),
        "contact_frames": int(contacts.sum()),
        "skate_before_mm": foot_skate(fitted, contacts),
        "skate_after_mm": foot_skate(locked, contacts),
        "betas": [round(float(b), 3) for b in model.betas],
    }
    return Capture(model, pose, transl, contacts, fitted, locked, report)
