"""Foot contacts, foot skating, and foot locking by an optimisation pass over the legs and root.

All positions are SMPL-X world (Y up, metres). A foot is four points: ankle and foot joints,
heel and big-toe vertices. ``lock_feet`` pins each contact span's foot where it stood on average,
soles on the floor, moving the root (drift) and the legs, and keeping the rest of the motion and
its smoothness.
"""

from __future__ import annotations

import numpy as np
import torch

from ._body import BodyArrays, forward
from ._fit import _J, _K

FOOT_POINTS = np.array(
    [
        [_J["left_ankle"], _J["left_foot"], _K["LHeel"], _K["LBigToe"]],
        [_J["right_ankle"], _J["right_foot"], _K["RHeel"], _K["RBigToe"]],
    ]
)  # 2×4
LEG_JOINTS = [_J[f"{s}_{j}"] for s in ("left", "right") for j in ("hip", "knee", "ankle", "foot")]
HORIZONTAL = [0, 2]


def floor_height(points: np.ndarray) -> float:
    """The floor under a clip's points T×P×3: the 10th percentile of each frame's lowest sole point."""
    soles = points[:, FOOT_POINTS[:, 2:].ravel(), 1]
    return float(np.percentile(soles.min(1), 10))


def detect_contacts(
    points: np.ndarray, fps: float, height: float = 0.08, speed: float = 0.6, min_frames: int = 3
) -> np.ndarray:
    """Contacts T×2 (left, right): sole within ``height`` m of the floor (y = 0), moving < ``speed`` m/s."""
    feet = points[:, FOOT_POINTS]  # T×2×4×3
    low = feet[..., 2:, 1].min(-1) < height
    centre = feet.mean(2)[..., HORIZONTAL]
    velocity = np.zeros(low.shape)
    velocity[1:-1] = np.linalg.norm(centre[2:] - centre[:-2], axis=-1) * fps / 2
    velocity[[0, -1]] = velocity[[1, -2]] if len(velocity) > 2 else 0.0
    contacts = low & (velocity < speed)
    for side in range(2):
        for start, stop in _runs(contacts[:, side]):
            if stop - start < min_frames:
                contacts[start:stop, side] = False
    return contacts


def _runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """[start, stop) spans where ``mask`` (T,) is true."""
    edges = np.diff(np.concatenate([[0], mask.astype(int), [0]]))
    return list(zip(np.flatnonzero(edges == 1), np.flatnonzero(edges == -1), strict=True))


def foot_skate(points: np.ndarray, contacts: np.ndarray) -> float:
    """Mean horizontal slide (mm / frame) of feet in contact on consecutive frames (0 if none)."""
    centre = points[:, FOOT_POINTS].mean(2)[..., HORIZONTAL]  # T×2×2
    both = contacts[1:] & contacts[:-1]
    if not both.any():
        return 0.0
    slide = np.linalg.norm(centre[1:] - centre[:-1], axis=-1)
    return float(1000 * slide[both].mean())


def pinned_targets(points: np.ndarray, contacts: np.ndarray) -> np.ndarray:
    """Where each contacting foot's points should be (T×2×4×3): their mean over the contact span,
    lowered or raised so its lower sole point touches the floor."""
    feet = points[:, FOOT_POINTS].copy()
    for side in range(2):
        for start, stop in _runs(contacts[:, side]):
            stand = feet[start:stop, side].mean(0)
            feet[start:stop, side] = stand - [0.0, stand[2:, 1].min(), 0.0]
    return feet


def lock_feet(
    body: BodyArrays, pose: np.ndarray, transl: np.ndarray, contacts: np.ndarray, iterations: int = 150
) -> tuple[np.ndarray, np.ndarray]:
    """Pose T×55×3 and translation T×3 with contacting feet pinned (Adam over root + leg joints)."""
    f64 = torch.float64
    pose0 = torch.tensor(pose, dtype=f64)
    transl0 = torch.tensor(transl, dtype=f64)
    with torch.no_grad():
        points0, _ = forward(body, pose0, transl0)
    targets = torch.tensor(pinned_targets(points0.numpy(), contacts), dtype=f64)
    mask = torch.tensor(contacts, dtype=f64)[..., None, None]
    shift = torch.zeros_like(transl0, requires_grad=True)
    legs = torch.zeros((len(pose), len(LEG_JOINTS), 3), dtype=f64, requires_grad=True)
    optimiser = torch.optim.Adam([shift, legs], lr=0.01)
    feet_index = torch.as_tensor(FOOT_POINTS)
    for _ in range(iterations):
        optimiser.zero_grad()
        new_pose = pose0.clone()
        new_pose[:, LEG_JOINTS] = pose0[:, LEG_JOINTS] + legs
        points, _ = forward(body, new_pose, transl0 + shift)
        pin = (mask * (points[:, feet_index] - targets).square()).sum() / 0.003**2
        body_accel = points[2:, :22] - 2 * points[1:-1, :22] + points[:-2, :22]
        accel0 = points0[2:, :22] - 2 * points0[1:-1, :22] + points0[:-2, :22]
        smooth = (body_accel - accel0 * 0.5).square().sum() / 0.005**2
        keep = legs.square().sum() / 0.15**2 + shift.square().sum() / 0.05**2
        knees = new_pose[:, [_J["left_knee"], _J["right_knee"]], 0]
        loss = (pin + smooth + keep + torch.relu(-knees).square().sum() / 0.03**2) / len(pose)
        loss.backward()
        optimiser.step()
    locked = pose.copy()
    locked[:, LEG_JOINTS] += legs.detach().numpy()
    return locked, transl + shift.detach().numpy()
