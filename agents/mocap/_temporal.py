"""Landmarks made consistent over time before the fit: detector flips undone, gaps filled.

A single-view detector sometimes takes the body for its back view: left and right labels swap
and depth mirrors, and a fit that follows it turns the character 180° in one frame. Each frame
is read four ways (as given, labels swapped, depth mirrored, both); the reading kept is the one
whose torso turns least from frame to frame over the whole clip (a Viterbi path), with a small
preference for the detector's own reading. Frames without a detection are filled by
interpolating the frames around them (held at the clip's ends) at a low confidence.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from ._fit import _kabsch, camera_to_world
from ._landmarks import Landmarks

# MediaPipe pose landmarks with left and right exchanged (nose 0 stays).
_PAIRS = [(1, 4), (2, 5), (3, 6), (7, 8), (9, 10)] + [(k, k + 1) for k in range(11, 33, 2)]
SWAP_BODY = np.arange(33)
for _left, _right in _PAIRS:
    SWAP_BODY[[_left, _right]] = _right, _left
TORSO = [23, 24, 11, 12]  # hips, shoulders
MIRROR = np.array([1.0, 1.0, -1.0])
READINGS = ("as detected", "left/right swapped", "depth mirrored", "seen from behind")
OWN_READING_BIAS = 0.02  # radians per frame: how much turning a frame's own reading is worth
FILLED_CONFIDENCE = 0.2


def readings(lm: Landmarks, rest_torso: np.ndarray) -> np.ndarray:
    """Torso orientations 4×T×3×3, one per reading of each frame (rest torso 4×3, SMPL-X frame)."""
    world = lm.body_world[:, TORSO]
    swapped = lm.body_world[:, SWAP_BODY[TORSO]]
    variants = (world, swapped, world * MIRROR, swapped * MIRROR)
    rest = rest_torso - rest_torso.mean(0)
    turns = np.empty((4, lm.frames, 3, 3))
    for s, points in enumerate(variants):
        observed = camera_to_world(points)
        for t in range(lm.frames):
            turns[s, t] = _kabsch(rest, observed[t] - observed[t].mean(0))
    return turns


def _angle(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Rotation angles between matching rotations of a …×3×3 and b …×3×3."""
    trace = np.einsum("...ji,...ji->...", a, b)
    return np.arccos(np.clip((trace - 1) / 2, -1.0, 1.0))


def consistent_readings(turns: np.ndarray, detected: np.ndarray) -> np.ndarray:
    """The reading (T,) of each frame on the path of least turning (0 on frames without a detection)."""
    frames = np.flatnonzero(detected)
    choice = np.zeros(len(detected), dtype=int)
    if len(frames) == 0:
        return choice
    bias = np.full(4, OWN_READING_BIAS)
    bias[0] = 0.0
    cost = bias.copy()
    back = np.zeros((len(frames), 4), dtype=int)
    for i in range(1, len(frames)):
        before, now = turns[:, frames[i - 1]], turns[:, frames[i]]
        step = _angle(before[:, None], now[None, :])  # 4 (before) × 4 (now)
        total = cost[:, None] + step
        back[i] = total.argmin(0)
        cost = total.min(0) + bias
    state = int(cost.argmin())
    for i in range(len(frames) - 1, -1, -1):
        choice[frames[i]] = state
        state = back[i, state]
    return choice


def reread(lm: Landmarks, choice: np.ndarray) -> Landmarks:
    """``lm`` with each frame read as ``choice`` says (indices into ``READINGS``)."""
    body_uv, body_vis, body_world = lm.body_uv.copy(), lm.body_vis.copy(), lm.body_world.copy()
    hand_uv, hand_world, hand_valid = lm.hand_uv.copy(), lm.hand_world.copy(), lm.hand_valid.copy()
    swap = (choice == 1) | (choice == 3)
    mirror = choice >= 2
    body_uv[swap] = body_uv[swap][:, SWAP_BODY]
    body_vis[swap] = body_vis[swap][:, SWAP_BODY]
    body_world[swap] = body_world[swap][:, SWAP_BODY]
    hand_uv[swap], hand_world[swap], hand_valid[swap] = (
        hand_uv[swap][:, ::-1], hand_world[swap][:, ::-1], hand_valid[swap][:, ::-1]
    )  # fmt: skip
    body_world[mirror] *= MIRROR
    hand_world[mirror] *= MIRROR
    return replace(
        lm, body_uv=body_uv, body_vis=body_vis, body_world=body_world,
        hand_uv=hand_uv, hand_world=hand_world, hand_valid=hand_valid,
    )  # fmt: skip


def unflip(lm: Landmarks, rest_torso: np.ndarray) -> tuple[Landmarks, int]:
    """``lm`` with flipped frames read back the right way round, and how many frames that changed."""
    choice = consistent_readings(readings(lm, rest_torso), lm.detected)
    return reread(lm, choice), int((choice != 0).sum())


def fill_gaps(lm: Landmarks) -> Landmarks:
    """``lm`` with undetected frames' body landmarks interpolated (held at the ends) at low confidence."""
    detected = lm.detected
    if detected.all() or not detected.any():
        return lm
    frames = np.arange(lm.frames)
    known = np.flatnonzero(detected)

    def filled(values: np.ndarray) -> np.ndarray:
        flat = values.reshape(lm.frames, -1).copy()
        for column in range(flat.shape[1]):
            flat[~detected, column] = np.interp(frames[~detected], known, flat[known, column])
        return flat.reshape(values.shape)

    body_vis = filled(lm.body_vis)
    body_vis[~detected] *= FILLED_CONFIDENCE
    return replace(lm, body_uv=filled(lm.body_uv), body_world=filled(lm.body_world), body_vis=body_vis)
