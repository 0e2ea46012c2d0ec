"""SMPL-X fitting to triangulated 3-D landmarks (multi-camera capture), batched over all frames.

The landmarks are in SMPL-X's axes (Y up). Energy: each landmark's distance to its SMPL-X point,
weighted by its confidence; hand landmarks likewise; then the same body priors as the
single-view fit (pose near rest, joint limits, smooth joints).
"""

from __future__ import annotations

import numpy as np
import torch

from ._body import NUM_JOINTS, BodyArrays
from ._fit import (
    _J,
    HAND_POINTS,
    MP_BODY,
    SMPLX_BODY,
    Fit,
    FitWeights,
    _fill,
    _kabsch,
    _limb_pose,
    _rotvec,
    optimise,
    regularisers,
)
from ._triangulate import Triangulated

POINT_NOISE = 0.02  # metres: how well a triangulated landmark is known
HAND_NOISE = 0.01
DEFAULT_WEIGHTS = FitWeights()


def initial_guess_3d(body: BodyArrays, seen: Triangulated) -> tuple[np.ndarray, np.ndarray]:
    """Pose T×55×3 (torso Kabsch-aligned, limbs turned onto the landmarks) and translation T×3."""
    rest = body.rest_joints.numpy()
    torso = [_J["left_hip"], _J["right_hip"], _J["left_shoulder"], _J["right_shoulder"]]
    hips_rest = rest[torso[:2]].mean(0)
    frames = len(seen.body)
    valid = (seen.body_confidence[:, [23, 24, 11, 12]] > 0).all(1)
    pose, transl = np.zeros((frames, NUM_JOINTS, 3)), np.zeros((frames, 3))
    for t in np.flatnonzero(valid):
        observed = seen.body[t, [23, 24, 11, 12]]
        rot = _kabsch(rest[torso] - rest[torso].mean(0), observed - observed.mean(0))
        pose[t, 0] = _rotvec(rot)
        pose[t, 1:] = _limb_pose(rest, rot, seen.body[t])
        transl[t] = observed[:2].mean(0) - rot @ (hips_rest - rest[0]) - rest[0]
    if not valid.any():
        raise ValueError("no frame shows both hips and shoulders from two cameras")
    return _fill(pose, valid), _fill(transl, valid)


def fit_points(
    body: BodyArrays, seen: Triangulated, iterations: int = 200, weights: FitWeights = DEFAULT_WEIGHTS
) -> Fit:
    """Fit pose and translation of every frame to the triangulated landmarks ``seen`` (Adam)."""
    f64 = torch.float64
    target = torch.tensor(seen.body[:, MP_BODY], dtype=f64)
    confidence = torch.tensor(seen.body_confidence[:, MP_BODY], dtype=f64)
    hands = torch.tensor(seen.hands, dtype=f64)
    hands_valid = torch.tensor(seen.hands_valid, dtype=f64)[..., None]
    hand_index = torch.as_tensor(HAND_POINTS)

    def energy(points: torch.Tensor, pose: torch.Tensor) -> torch.Tensor:
        data = (confidence * (points[:, SMPLX_BODY] - target).square().sum(-1)).sum() / POINT_NOISE**2
        hand = (hands_valid * (points[:, hand_index] - hands).square().sum(-1)).sum() / HAND_NOISE**2
        return data + hand + regularisers(points, pose, weights)

    return optimise(body, *initial_guess_3d(body, seen), energy, iterations)
