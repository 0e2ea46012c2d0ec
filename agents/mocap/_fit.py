"""SMPL-X fitting to a clip's landmarks, batched over all frames at once.

Frames: the fit works in SMPL-X's Y-up world with a level pinhole camera at the origin looking
down -Z (camera coordinates are ``(x, -y, -z)``: x right, y down, z forward). A person facing
the camera has identity global orientation. Energy (whitened, summed over frames):
2-D reprojection of body and hand landmarks, MediaPipe's hip-centred world landmarks as a 3-D
term, a pose L2 prior, hinge joint limits (knees and elbows bend one way), joint acceleration.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch

from stage_scenes import SMPLX_JOINT_NAMES, SMPLX_PARENTS

from ._body import KEYPOINT_VERTICES, NUM_JOINTS, BodyArrays, forward
from ._landmarks import Landmarks
from ._rotations import align

_J = {name: i for i, name in enumerate(SMPLX_JOINT_NAMES)}
_PARENTS = np.array(SMPLX_PARENTS)
_K = {name: NUM_JOINTS + i for i, name in enumerate(KEYPOINT_VERTICES)}

# MediaPipe pose landmark index → SMPL-X point (joint or keypoint vertex).
BODY_MAP = {
    0: _K["nose"], 2: _K["leye"], 5: _K["reye"], 7: _K["lear"], 8: _K["rear"],
    11: _J["left_shoulder"], 12: _J["right_shoulder"], 13: _J["left_elbow"], 14: _J["right_elbow"],
    15: _J["left_wrist"], 16: _J["right_wrist"], 23: _J["left_hip"], 24: _J["right_hip"],
    25: _J["left_knee"], 26: _J["right_knee"], 27: _J["left_ankle"], 28: _J["right_ankle"],
    29: _K["LHeel"], 30: _K["RHeel"], 31: _K["LBigToe"], 32: _K["RBigToe"],
}  # fmt: skip
MP_BODY = np.array(list(BODY_MAP))
SMPLX_BODY = np.array(list(BODY_MAP.values()))


def _hand_points(side: str) -> np.ndarray:
    """MediaPipe hand landmarks 0..20 → SMPL-X points: wrist, then per finger 3 joints + tip."""
    points = [_J[f"{side}_wrist"]]
    for finger in ("thumb", "index", "middle", "ring", "pinky"):
        points += [_J[f"{side}_{finger}{k}"] for k in (1, 2, 3)] + [_K[f"{side[0]}{finger}"]]
    return np.array(points)


HAND_POINTS = np.stack([_hand_points("left"), _hand_points("right")])  # 2×21
KNEES = [_J["left_knee"], _J["right_knee"]]
ELBOWS = [_J["left_elbow"], _J["right_elbow"]]
ELBOW_SIGN = torch.tensor([1.0, -1.0])  # flexion is -y on the left elbow, +y on the right
CAMERA_FLIP = torch.tensor([1.0, -1.0, -1.0], dtype=torch.float64)


@dataclass(frozen=True)
class FitWeights:
    """Noise scales that whiten each term (smaller: stronger)."""

    reprojection: float = 0.004  # image error, in focal lengths (4 px at f = 1000)
    world: float = 0.05  # metres
    hand_world: float = 0.02  # metres
    pose: float = 1.0  # radians
    hand_pose: float = 0.6  # radians
    limit: float = 0.03  # radians past a limit
    acceleration: float = 0.1  # metres / frame² (body joints)


@dataclass(frozen=True)
class Fit:
    """A fitted clip: axis-angle ``pose`` T×55×3 (flat-hand rest), ``transl`` T×3, final ``loss``."""

    pose: np.ndarray
    transl: np.ndarray
    loss: float


def camera_to_world(points: np.ndarray) -> np.ndarray:
    """MediaPipe / camera axes (x right, y down, z away) → SMPL-X world (…×3)."""
    return points * np.array([1.0, -1.0, -1.0])


def project(points: torch.Tensor, focal: float, centre: torch.Tensor) -> torch.Tensor:
    """World points …×3 → pixels …×2 for the level camera at the origin."""
    cam = points * CAMERA_FLIP
    return focal * cam[..., :2] / cam[..., 2:].clamp(min=0.05) + centre


def _kabsch(source: np.ndarray, target: np.ndarray) -> np.ndarray:
    """The rotation R (3×3) minimising ‖R·source − target‖ over N×3 centred point sets."""
    u, _, vt = np.linalg.svd(target.T @ source)
    d = np.sign(np.linalg.det(u @ vt))
    return u @ np.diag([1.0, 1.0, d]) @ vt


def _rotvec(matrix: np.ndarray) -> np.ndarray:
    """Axis-angle (3,) of a rotation matrix."""
    angle = np.arccos(np.clip((np.trace(matrix) - 1) / 2, -1.0, 1.0))
    if angle < 1e-6:
        return np.zeros(3)
    axis = np.array([matrix[2, 1] - matrix[1, 2], matrix[0, 2] - matrix[2, 0], matrix[1, 0] - matrix[0, 1]])
    if np.pi - angle < 1e-4:  # 180°: the axis is the dominant column of (R + I)
        column = (matrix + np.eye(3))[:, np.argmax(np.diag(matrix))]
        return np.pi * column / np.linalg.norm(column)
    return angle * axis / (2 * np.sin(angle))


def _fill(values: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """Per-frame values T×… with invalid frames copied from the nearest valid one."""
    index = np.flatnonzero(valid)
    nearest = index[np.abs(np.arange(len(valid))[:, None] - index[None]).argmin(1)]
    return values[nearest]


# Limb chains for the initial guess: (SMPL-X joint, its child, MediaPipe joint, its child).
_LIMBS = [
    (f"{side}_{a}", f"{side}_{b}", mp_a + offset, mp_b + offset)
    for side, offset in (("left", 0), ("right", 1))
    for a, b, mp_a, mp_b in (("shoulder", "elbow", 11, 13), ("elbow", "wrist", 13, 15),
                             ("hip", "knee", 23, 25), ("knee", "ankle", 25, 27))
]  # fmt: skip


def _limb_pose(rest: np.ndarray, orient: np.ndarray, world: np.ndarray) -> np.ndarray:
    """Body pose 54×3 turning each limb bone (smallest rotation) onto the world landmarks' 33×3."""
    pose = np.zeros((NUM_JOINTS - 1, 3))
    world_rot = {0: orient}
    for joint, child, mp_joint, mp_child in _LIMBS:
        j, c = _J[joint], _J[child]
        parent = world_rot.get(int(_PARENTS[j]), orient)  # spine and collars stay at rest
        target = world[mp_child] - world[mp_joint]
        turn = align(parent @ (rest[c] - rest[j]), target)
        world_rot[j] = turn @ parent
        pose[j - 1] = _rotvec(parent.T @ turn @ parent)
    return pose


def initial_guess(body: BodyArrays, lm: Landmarks, focal: float) -> tuple[np.ndarray, np.ndarray]:
    """Pose (T×55×3: torso Kabsch-aligned and limbs turned onto the world landmarks), translation T×3."""
    rest = body.rest_joints.numpy()
    torso = [_J["left_hip"], _J["right_hip"], _J["left_shoulder"], _J["right_shoulder"]]
    hips_rest = rest[torso[:2]].mean(0)
    centre = np.array(lm.image_size) / 2
    valid = lm.detected
    pose = np.zeros((lm.frames, NUM_JOINTS, 3))
    transl = np.zeros((lm.frames, 3))
    for t in np.flatnonzero(valid):
        observed = camera_to_world(lm.body_world[t, [23, 24, 11, 12]])
        rot = _kabsch(rest[torso] - hips_rest, observed - observed[:2].mean(0))
        pose[t, 0] = _rotvec(rot)
        pose[t, 1:] = _limb_pose(rest, rot, camera_to_world(lm.body_world[t]))
        seen = lm.body_vis[t, MP_BODY] > 0.5 * lm.body_vis[t].max()  # filled frames are less sure
        world = camera_to_world(lm.body_world[t, MP_BODY[seen]])[:, :2]
        image = lm.body_uv[t, MP_BODY[seen]]
        scale = np.sqrt(image.var(0).sum() / max(world.var(0).sum(), 1e-6))  # pixels per metre
        depth = focal / max(scale, 1e-3)
        hips_uv = lm.body_uv[t, [23, 24]].mean(0)
        hips = np.array([(hips_uv[0] - centre[0]) / focal, -(hips_uv[1] - centre[1]) / focal, -1.0]) * depth
        transl[t] = hips - rot @ (hips_rest - rest[0]) - rest[0]
    if not valid.any():
        return pose, transl
    return _fill(pose, valid), _fill(transl, valid)


def fit_clip(
    body: BodyArrays,
    lm: Landmarks,
    focal: float,
    iterations: int = 200,
    weights: FitWeights = FitWeights(),
) -> Fit:
    """Fit pose and translation of every frame of ``lm`` at once (Adam)."""
    f64 = torch.float64
    centre = torch.tensor(lm.image_size, dtype=f64) / 2
    body_uv = torch.tensor(lm.body_uv[:, MP_BODY], dtype=f64)
    body_vis = torch.tensor(lm.body_vis[:, MP_BODY], dtype=f64)
    world = torch.tensor(camera_to_world(lm.body_world[:, MP_BODY]), dtype=f64)
    hand_uv = torch.tensor(lm.hand_uv, dtype=f64)
    hand_valid = torch.tensor(lm.hand_valid, dtype=f64)
    hand_world = torch.tensor(camera_to_world(lm.hand_world - lm.hand_world[:, :, :1]), dtype=f64)
    hips = [_J["left_hip"], _J["right_hip"]]

    def energy(points: torch.Tensor, pose: torch.Tensor) -> torch.Tensor:
        return _energy(points, pose, focal, centre, weights, body_uv, body_vis, world, hips) + _hand_energy(
            points, focal, centre, weights, hand_uv, hand_valid, hand_world
        )

    return optimise(body, *initial_guess(body, lm, focal), energy, iterations)


def optimise(
    body: BodyArrays,
    pose0: np.ndarray,
    transl0: np.ndarray,
    energy: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
    iterations: int,
) -> Fit:
    """Pose and translation of every frame from ``pose0`` / ``transl0`` minimising ``energy(points,
    pose)`` (summed over frames) with Adam on a cosine schedule; the loss reported is per frame."""
    f64 = torch.float64
    orient = torch.tensor(pose0[:, 0], dtype=f64, requires_grad=True)
    transl = torch.tensor(transl0, dtype=f64, requires_grad=True)
    joints = torch.tensor(pose0[:, 1:], dtype=f64, requires_grad=True)
    optimiser = torch.optim.Adam([orient, transl, joints], lr=0.03)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimiser, iterations, eta_min=0.003)
    loss = torch.zeros((), dtype=f64)
    for _ in range(iterations):
        optimiser.zero_grad()
        pose = torch.cat([orient[:, None], joints], 1)
        points, _ = forward(body, pose, transl)
        loss = energy(points, pose) / len(pose0)
        loss.backward()
        optimiser.step()
        schedule.step()
    fitted = torch.cat([orient[:, None], joints], 1).detach().numpy()
    return Fit(pose=fitted, transl=transl.detach().numpy(), loss=float(loss.detach()))


def _energy(points, pose, focal, centre, w: FitWeights, body_uv, body_vis, world, hips) -> torch.Tensor:
    body = points[:, SMPLX_BODY]
    image = ((project(body, focal, centre) - body_uv) / focal).square().sum(-1)
    rel = body - points[:, hips].mean(1, keepdim=True)
    world_term = (rel - world).square().sum(-1)
    data = (body_vis * (image / w.reprojection**2 + world_term / w.world**2)).sum()
    return data + regularisers(points, pose, w)


def regularisers(points, pose, w: FitWeights) -> torch.Tensor:
    """The body's priors: pose (and hands) near rest, knees and elbows bending their one way,
    smooth joints."""
    prior = (pose[:, 1:22].square().sum() / w.pose**2) + pose[:, 22:25].square().sum() / 0.1**2
    prior = prior + pose[:, 25:].square().sum() / w.hand_pose**2
    knees = pose[:, KNEES]
    elbows = pose[:, ELBOWS]
    limits = (
        torch.relu(-knees[..., 0]).square().sum()
        + knees[..., 1:].square().sum()
        + torch.relu(elbows[..., 1] * ELBOW_SIGN).square().sum()
        + 0.1 * elbows[..., [0, 2]].square().sum()
    )
    accel = (points[2:, :22] - 2 * points[1:-1, :22] + points[:-2, :22]).square().sum()
    return prior + limits / w.limit**2 + accel / w.acceleration**2


def _hand_energy(points, focal, centre, w: FitWeights, hand_uv, hand_valid, hand_world) -> torch.Tensor:
    hand = points[:, torch.as_tensor(HAND_POINTS)]  # T×2×21×3
    image = ((project(hand, focal, centre) - hand_uv) / focal).square().sum(-1).sum(-1)
    rel = hand - hand[:, :, :1]
    world_term = (rel - hand_world).square().sum(-1).sum(-1)
    return (hand_valid * (image / w.reprojection**2 + world_term / w.hand_world**2)).sum()
