"""How close a recovered clip is to a known one: the figures mocap papers and a stage care about.

Inputs are posed points T×P×3 (joints first, SMPL-X order and axes, Y up, metres) of the
recovered and the true motion in the same world.
"""

from __future__ import annotations

import numpy as np

from ._fit import _J
from ._footlock import FOOT_POINTS

BODY = slice(0, 22)  # pelvis … wrists: the joints MPJPE is reported over
PELVIS, NECK = _J["pelvis"], _J["neck"]
HIPS = [_J["left_hip"], _J["right_hip"]]


def mpjpe(found: np.ndarray, truth: np.ndarray) -> float:
    """Mean per-joint position error (mm) with each frame's pelvis on the true pelvis."""
    f, t = found[:, BODY] - found[:, PELVIS, None], truth[:, BODY] - truth[:, PELVIS, None]
    return float(1000 * np.linalg.norm(f - t, axis=-1).mean())


def pa_mpjpe(found: np.ndarray, truth: np.ndarray) -> float:
    """MPJPE (mm) after aligning each frame by the best rotation, scale and translation (Procrustes)."""
    errors = []
    for f, t in zip(found[:, BODY], truth[:, BODY], strict=True):
        fc, tc = f - f.mean(0), t - t.mean(0)
        u, s, vt = np.linalg.svd(tc.T @ fc)
        d = np.sign(np.linalg.det(u @ vt))
        rotation = u @ np.diag([1.0, 1.0, d]) @ vt
        scale = (s * [1.0, 1.0, d]).sum() / (fc**2).sum()
        errors.append(np.linalg.norm(scale * fc @ rotation.T - tc, axis=-1).mean())
    return float(1000 * np.mean(errors))


def lean_error(found: np.ndarray, truth: np.ndarray) -> float:
    """Mean angle (degrees) between the recovered and the true pelvis → neck direction."""
    f, t = found[:, NECK] - found[:, PELVIS], truth[:, NECK] - truth[:, PELVIS]
    cos = (f * t).sum(-1) / np.linalg.norm(f, axis=-1) / np.linalg.norm(t, axis=-1)
    return float(np.degrees(np.arccos(np.clip(cos, -1.0, 1.0))).mean())


def pelvis_height_error(found: np.ndarray, truth: np.ndarray) -> float:
    """Mean error (mm) of the pelvis' height above the floor."""
    return float(1000 * np.abs(found[:, PELVIS, 1] - truth[:, PELVIS, 1]).mean())


def headings(points: np.ndarray) -> np.ndarray:
    """Which way the body faces in each frame (T,), radians about +Y, from its hips."""
    across = points[:, HIPS[0]] - points[:, HIPS[1]]  # right → left hip
    return np.arctan2(-across[:, 2], across[:, 0])


def flips(points: np.ndarray, limit: float = 60.0) -> int:
    """Frames where the body turns by more than ``limit`` degrees from the frame before."""
    turn = np.angle(np.exp(1j * np.diff(headings(points))))
    return int((np.abs(np.degrees(turn)) > limit).sum())


def contact_recall(found: np.ndarray, truth: np.ndarray) -> float:
    """The share of true contact frames (T×2) that were found."""
    return float((found & truth).sum() / max(1, truth.sum()))


def sole_gap(points: np.ndarray, contacts: np.ndarray) -> float:
    """Mean distance (mm) of the lower sole point of each contacting foot from the floor (y = 0)."""
    soles = points[:, FOOT_POINTS[:, 2:], 1].min(-1)  # T×2
    return float(1000 * np.abs(soles[contacts]).mean()) if contacts.any() else 0.0
