"""One person's landmarks seen by calibrated cameras → 3-D landmarks in the rig's world.

Each landmark of each frame is the weighted DLT solution over the views that saw it (weight:
the detector's confidence); a view whose reprojection error passes ``OUTLIER_PX`` while at
least two others remain is left out and the point solved again. Videos that started at
different times are lined up by the integer frame offset that makes two views agree best.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from ._landmarks import Landmarks
from ._rig import Rig, RigCamera

OUTLIER_PX = 20.0
MAX_OFFSET_FRAMES = 15


@dataclass(frozen=True)
class Triangulated:
    """``body`` T×33×3 (world), ``body_confidence`` T×33 (0 where fewer than two views agreed),
    ``hands`` T×2×21×3, ``hands_valid`` T×2, ``fps``, mean ``reprojection_px`` of the kept
    observations and how many were ``rejected`` as outliers."""

    body: np.ndarray
    body_confidence: np.ndarray
    hands: np.ndarray
    hands_valid: np.ndarray
    fps: float
    reprojection_px: float
    rejected: int


def solve(
    cameras: tuple[RigCamera, ...], uv: np.ndarray, weights: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Points N×3 from pixels V×N×2 seen with ``weights`` V×N: (points, weights kept, errors px V×N)."""
    views, count = weights.shape
    normal = np.stack([c.normalised(uv[v]) for v, c in enumerate(cameras)])  # V×N×2
    projections = np.stack([np.hstack([c.rotation, c.translation[:, None]]) for c in cameras])  # V×3×4
    weights = weights.copy()
    points = np.zeros((count, 3))
    errors = np.zeros((views, count))
    for _ in range(max(1, views - 1)):
        rows_x = normal[..., 0, None] * projections[:, None, 2] - projections[:, None, 0]  # V×N×4
        rows_y = normal[..., 1, None] * projections[:, None, 2] - projections[:, None, 1]
        system = np.concatenate([weights[..., None] * rows_x, weights[..., None] * rows_y]).transpose(1, 0, 2)
        homogeneous = np.linalg.svd(system)[2][:, -1]  # N×4
        scale = np.where(np.abs(homogeneous[:, 3:]) > 1e-12, homogeneous[:, 3:], 1e-12)
        points = homogeneous[:, :3] / scale
        errors = np.stack([np.linalg.norm(c.project(points) - uv[v], axis=-1) for v, c in enumerate(cameras)])
        used = weights > 0
        worst = np.where(used, errors, -1.0).argmax(0)
        drop = (used.sum(0) >= 3) & (errors[worst, np.arange(count)] > OUTLIER_PX)
        if not drop.any():
            break
        weights[worst[drop], np.flatnonzero(drop)] = 0.0
    enough = (weights > 0).sum(0) >= 2
    points[~enough] = 0.0
    weights[:, ~enough] = 0.0
    return points, weights, errors


def triangulate(rig: Rig, views: list[Landmarks]) -> Triangulated:
    """3-D landmarks from time-aligned ``views`` (one per rig camera, same frame count)."""
    frames = views[0].frames
    uv = np.stack([v.body_uv.reshape(-1, 2) for v in views])
    seen = np.stack([v.body_vis.reshape(-1) for v in views])
    body, kept, errors = solve(rig.cameras, uv, seen)
    hand_uv = np.stack([v.hand_uv.reshape(-1, 2) for v in views])
    hand_seen = np.stack([np.repeat(v.hand_valid.reshape(-1), 21).astype(float) for v in views])
    hands, hand_kept, _ = solve(rig.cameras, hand_uv, hand_seen)
    confidence = np.where((kept > 0).sum(0) >= 2, kept.sum(0) / np.maximum((kept > 0).sum(0), 1), 0.0)
    hands_valid = ((hand_kept > 0).sum(0) >= 2).reshape(frames, 2, 21).all(-1)
    return Triangulated(
        body=body.reshape(frames, 33, 3), body_confidence=confidence.reshape(frames, 33),
        hands=hands.reshape(frames, 2, 21, 3), hands_valid=hands_valid, fps=views[0].fps,
        reprojection_px=float(errors[kept > 0].mean()) if (kept > 0).any() else float("nan"),
        rejected=int(((seen > 0) & (kept == 0) & ((kept > 0).sum(0) >= 2)).sum()),
    )  # fmt: skip


def _cropped(lm: Landmarks, start: int, stop: int) -> Landmarks:
    return replace(
        lm, body_uv=lm.body_uv[start:stop], body_world=lm.body_world[start:stop],
        body_vis=lm.body_vis[start:stop], hand_uv=lm.hand_uv[start:stop],
        hand_world=lm.hand_world[start:stop], hand_valid=lm.hand_valid[start:stop],
    )  # fmt: skip


def aligned(views: list[Landmarks], offsets: list[int]) -> list[Landmarks]:
    """The views cut to the frames all of them show; view j's frame t + offsets[j] is view 0's frame t."""
    start = max(0, *(-d for d in offsets))
    stop = min(v.frames - d for v, d in zip(views, offsets, strict=True))
    if stop - start < 2:
        raise ValueError("the videos share fewer than two frames once lined up")
    return [_cropped(v, start + d, stop + d) for v, d in zip(views, offsets, strict=True)]


def estimate_offsets(rig: Rig, views: list[Landmarks], limit: int = MAX_OFFSET_FRAMES) -> list[int]:
    """Each view's frame offset from view 0 (0 for view 0): the one whose pair triangulates best."""
    offsets = [0]
    for j in range(1, len(views)):
        pair = (rig.cameras[0], rig.cameras[j])
        best, best_error = 0, np.inf
        for d in range(-limit, limit + 1):
            try:
                first, other = aligned([views[0], views[j]], [0, d])
            except ValueError:
                continue
            uv = np.stack([first.body_uv.reshape(-1, 2), other.body_uv.reshape(-1, 2)])
            seen = np.stack([first.body_vis.reshape(-1), other.body_vis.reshape(-1)])
            _, kept, errors = solve(pair, uv, seen)
            both = (kept > 0).all(0)
            if both.sum() < 20:
                continue
            error = float(np.median(errors[:, both]))
            if error < best_error:
                best, best_error = d, error
        offsets.append(best)
    return offsets
