"""Which way is up in the camera's picture: read from the feet standing on the floor, or given.

Directions are in the fit's camera axes (x right, y up, z backwards: a level camera sees the
world's up as +y). Feet that stand still stand on the floor: each is turned from the body's rest
pose (soles flat) by a rotation that carries the rest up onto the floor's normal, and the places
they stood lie on the floor's plane. The plane decides where the feet spread over it (a walk);
the feet's own up decides where they do not (a stance in one place).
"""

from __future__ import annotations

import numpy as np

from ._fit import _kabsch
from ._footlock import FOOT_POINTS

LEVEL_UP = np.array([0.0, 1.0, 0.0])
STILL_SPEED = 0.25  # m/s: a foot slower than this stands on the floor
SOLE_LANDMARKS = np.array([[29, 31], [30, 32]])  # MediaPipe heel, foot index: left, right
FOOT_PRIOR = 1.0  # of the spread of where feet stood, added across the feet's own up


def camera_up(pitch: float, roll: float) -> np.ndarray:
    """The world's up in camera axes for a camera ``pitch``° down from level, ``roll``° clockwise."""
    p, r = np.radians(pitch), np.radians(roll)
    return np.array([-np.sin(r) * np.cos(p), np.cos(r) * np.cos(p), np.sin(p)])


def pitch_and_roll(up: np.ndarray) -> tuple[float, float]:
    """The camera's pitch and roll (degrees) that make ``up`` its world up (inverse of ``camera_up``)."""
    return float(np.degrees(np.arcsin(np.clip(up[2], -1, 1)))), float(np.degrees(np.arctan2(-up[0], up[1])))


def up_from_feet(points: np.ndarray, rest: np.ndarray, fps: float, visible: np.ndarray) -> np.ndarray | None:
    """The floor's normal (3,) from the still feet of fitted ``points`` T×P×3, or None if none stood.

    ``rest``: the body's points standing at rest (P×3, soles flat on a floor below, +Y up);
    ``visible`` T×2 (left, right): frames where the detector saw that foot's heel and toe.
    """
    feet = points[:, FOOT_POINTS]  # T×2×4×3
    centre = feet.mean(2)
    speed = np.full(centre.shape[:2], np.inf)
    if len(points) > 2:
        speed[1:-1] = np.linalg.norm(centre[2:] - centre[:-2], axis=-1) * fps / 2
    still = (speed < STILL_SPEED) & visible
    if still.sum() < 3:
        return None
    ups = []
    for t, side in zip(*np.nonzero(still), strict=True):  # each still foot's own up: rest → posed
        rest_foot = rest[FOOT_POINTS[side]]
        ups.append(_kabsch(rest_foot - rest_foot.mean(0), feet[t, side] - centre[t, side]) @ LEVEL_UP)
    foot_up = np.mean(ups, 0)
    foot_up /= np.linalg.norm(foot_up)
    where = centre[still]  # where the feet stood: on one plane, the floor's
    spread = np.cov(where.T) if len(where) > 1 else np.zeros((3, 3))
    total = max(float(np.trace(spread)), 1e-6)
    shape = spread + FOOT_PRIOR * total * (np.eye(3) - np.outer(foot_up, foot_up))
    normal = np.linalg.eigh(shape)[1][:, 0]
    return normal if normal @ foot_up >= 0 else -normal
