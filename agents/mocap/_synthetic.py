"""A known motion for checking the pipeline: a walk with a cocktail shake, and its landmarks.

The walk's root translation is built so the stance foot never slides, so its ground-truth foot
skating is zero; its landmarks are the posed model's points seen by the fit's camera, with noise.
"""

from __future__ import annotations

import numpy as np

from ._body import BodyModel
from ._fit import _J, BODY_MAP, HAND_POINTS, MP_BODY, SMPLX_BODY
from ._landmarks import NUM_BODY, Landmarks
from ._rotations import matrix_to_rotvec, rotvec_to_matrix

FEET = {"left": [_J["left_ankle"], _J["left_foot"]], "right": [_J["right_ankle"], _J["right_foot"]]}
FLOOR, DISTANCE = -1.4, 4.5  # the floor below the camera and the walker's distance (metres)


def walk_pose(frames: int, fps: float) -> np.ndarray:
    """A walk (1 stride / s) with a shake of the arms and curling fingers, axis-angle T×55×3."""
    phase = 2 * np.pi * np.arange(frames) / fps
    pose = np.zeros((frames, 55, 3))
    pose[:, 0, 1] = np.radians(60)  # walking across the view, turned to the camera
    for side, sign in (("left", 1.0), ("right", -1.0)):
        swing = sign * np.sin(phase)
        pose[:, _J[f"{side}_hip"], 0] = -0.4 * swing
        pose[:, _J[f"{side}_knee"], 0] = 0.15 + 0.55 * np.maximum(
            0.0, np.sin(phase + sign * np.pi / 2 + np.pi / 3)
        )
        pose[:, _J[f"{side}_ankle"], 0] = 0.15 * swing
        arm_down = rotvec_to_matrix(np.array([0.0, 0.0, -sign * 1.2]))
        arm_swing = rotvec_to_matrix(np.stack([0.3 * swing, 0 * swing, 0 * swing], -1))
        pose[:, _J[f"{side}_shoulder"]] = matrix_to_rotvec(arm_swing @ arm_down)
        pose[:, _J[f"{side}_elbow"], 1] = -sign * (0.9 + 0.35 * np.sin(4 * phase))
        for finger in ("index", "middle", "ring", "pinky"):
            for k in (1, 2, 3):
                pose[:, _J[f"{side}_{finger}{k}"], 2] = -sign * 0.5 * (1 + np.sin(phase))
    pose[:, _J["spine2"], 1] = 0.1 * np.sin(phase)
    return pose


def walk(body: BodyModel, frames: int, fps: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Pose T×55×3, translation T×3 (stance foot pinned, floor at FLOOR) and contacts T×2 (left, right)."""
    pose = walk_pose(frames, fps)
    points = body.points(pose, np.zeros((frames, 3)))
    feet = np.stack([points[:, FEET["left"]], points[:, FEET["right"]]], 1)  # T×2×2×3
    lowest = feet[..., 1].min(-1)  # T×2
    stance = lowest.argmin(1)
    transl = np.zeros((frames, 3))
    for t in range(1, frames):
        step = feet[t - 1, stance[t]].mean(0) - feet[t, stance[t]].mean(0)
        transl[t, [0, 2]] = transl[t - 1, [0, 2]] + step[[0, 2]]
    transl[:, 1] = FLOOR - lowest.min(1) + 0.02  # the sole's keypoints lie ~2 cm under the ankle tube
    transl += np.array([-0.6, 0.0, -DISTANCE]) - np.array([transl[:, 0].mean(), 0.0, transl[:, 2].mean()])
    contacts = np.zeros((frames, 2), dtype=bool)
    contacts[np.arange(frames), stance] = True
    return pose, transl, contacts


def landmarks(
    body: BodyModel,
    pose: np.ndarray,
    transl: np.ndarray,
    focal: float,
    image_size: tuple[int, int],
    fps: float,
    noise_px: float,
    noise_m: float,
    rng: np.random.Generator,
) -> Landmarks:
    """What a detector would report for this motion: projected points + noise, world points + noise."""
    frames = len(pose)
    points = body.points(pose, transl)
    flip = np.array([1.0, -1.0, -1.0])
    cam = points * flip
    uv = focal * cam[..., :2] / cam[..., 2:] + np.array(image_size) / 2
    hips = points[:, [_J["left_hip"], _J["right_hip"]]].mean(1, keepdims=True)
    body_uv = np.zeros((frames, NUM_BODY, 2))
    body_world = np.zeros((frames, NUM_BODY, 3))
    body_vis = np.zeros((frames, NUM_BODY))
    body_uv[:, MP_BODY] = uv[:, SMPLX_BODY] + rng.normal(0, noise_px, (frames, len(BODY_MAP), 2))
    body_world[:, MP_BODY] = (points[:, SMPLX_BODY] - hips) * flip + rng.normal(
        0, noise_m, (frames, len(BODY_MAP), 3)
    )
    body_vis[:, MP_BODY] = 1.0
    hand = points[:, HAND_POINTS]  # T×2×21×3
    hand_uv = uv[:, HAND_POINTS] + rng.normal(0, noise_px, (*hand.shape[:-1], 2))
    hand_world = (hand - hand[:, :, :1]) * flip + rng.normal(0, noise_m / 4, hand.shape)
    valid = np.ones((frames, 2), dtype=bool)
    return Landmarks(body_uv, body_world, body_vis, hand_uv, hand_world, valid, image_size, fps)
