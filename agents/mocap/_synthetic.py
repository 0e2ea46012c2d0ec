"""Known motions for checking the pipeline, and what a detector would report seeing them.

Motions (``MOTIONS``): a walk with a cocktail shake, a walking turn through 180°, a crouch. Each is
built in a gravity-aligned world (SMPL-X axes, Y up, floor at y = 0) with the stance foot pinned,
so its ground-truth foot skating is zero. ``SyntheticCamera`` is a pinhole on a pole above the
floor point (0, 0, 0), pitched down (``ring``: several around the performer, a calibrated
``rig``); ``landmarks`` projects the posed model's points through it,
with noise, frames where nothing was detected, and frames where the detector flipped the body.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ._body import BodyModel
from ._fit import _J, BODY_MAP, HAND_POINTS, MP_BODY, SMPLX_BODY
from ._landmarks import NUM_BODY, Landmarks
from ._rig import Rig, RigCamera
from ._rotations import matrix_to_rotvec, rotvec_to_matrix
from ._temporal import SWAP_BODY

FEET = {"left": [_J["left_ankle"], _J["left_foot"]], "right": [_J["right_ankle"], _J["right_foot"]]}
HEEL_TOE = np.array([BODY_MAP[29], BODY_MAP[31], BODY_MAP[30], BODY_MAP[32]])  # L heel, L toe, R heel, R toe
DISTANCE = 4.5  # the performer's distance from the camera (metres)
MOTIONS = ("walk", "turn", "crouch")


def walk_pose(frames: int, fps: float, heading: float | np.ndarray = np.pi / 3) -> np.ndarray:
    """A walk (1 stride / s) with a shake of the arms and curling fingers, axis-angle T×55×3."""
    phase = 2 * np.pi * np.arange(frames) / fps
    pose = np.zeros((frames, 55, 3))
    pose[:, 0, 1] = heading  # 60°: walking across the view, turned to the camera
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


def crouch_pose(frames: int, fps: float) -> np.ndarray:
    """Down into a crouch and up again (once a second and a half), feet flat, torso upright."""
    depth = 0.5 * (1 - np.cos(2 * np.pi * np.arange(frames) / (1.5 * fps)))
    pose = np.zeros((frames, 55, 3))
    pose[:, 0, 1] = np.radians(30)
    bend = 0.9 * depth  # the shin's lean: ankle and hip give it back so foot and pelvis stay level
    for side, sign in (("left", 1.0), ("right", -1.0)):
        pose[:, _J[f"{side}_hip"], 0] = -bend
        pose[:, _J[f"{side}_knee"], 0] = 2 * bend
        pose[:, _J[f"{side}_ankle"], 0] = -bend
        pose[:, _J[f"{side}_shoulder"], 2] = -sign * (1.2 - 0.6 * depth)  # arms forward for balance
        pose[:, _J[f"{side}_shoulder"], 1] = sign * 0.8 * depth
    return pose


def motion(name: str, body: BodyModel, frames: int, fps: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Pose T×55×3, translation T×3 and contacts T×2 (left, right) of the motion ``name``.

    The stance foot (the lower one) never slides; soles touch y = 0; the performer is centred
    ``DISTANCE`` m in front of the floor point under the camera (towards -Z).
    """
    if name == "walk":
        pose = walk_pose(frames, fps)
    elif name == "turn":
        pose = walk_pose(frames, fps, heading=np.linspace(np.radians(-90), np.radians(90), frames))
    elif name == "crouch":
        pose = crouch_pose(frames, fps)
    else:
        raise ValueError(f"no synthetic motion {name!r}; known: {', '.join(MOTIONS)}")
    points = body.points(pose, np.zeros((frames, 3)))
    feet = np.stack([points[:, FEET["left"]], points[:, FEET["right"]]], 1)  # T×2×2×3
    lowest = feet[..., 1].min(-1)  # T×2
    stance = lowest.argmin(1)
    transl = np.zeros((frames, 3))
    for t in range(1, frames):
        step = feet[t - 1, stance[t]].mean(0) - feet[t, stance[t]].mean(0)
        transl[t, [0, 2]] = transl[t - 1, [0, 2]] + step[[0, 2]]
    soles = body.points(pose, transl)[:, HEEL_TOE]  # T×4×3
    transl[:, 1] = -soles[..., 1].min(1)
    transl += np.array([-0.6, 0.0, -DISTANCE]) - np.array([transl[:, 0].mean(), 0.0, transl[:, 2].mean()])
    placed = body.points(pose, transl)
    sole_height = placed[:, HEEL_TOE, 1].reshape(frames, 2, 2).min(-1)  # T×2
    centre = placed[:, np.array([FEET["left"], FEET["right"]])].mean(2)[..., [0, 2]]
    speed = np.zeros((frames, 2))
    speed[1:] = np.linalg.norm(np.diff(centre, axis=0), axis=-1) * fps
    speed[0] = speed[1]
    contacts = (sole_height < 0.015) & (speed < 0.1)
    return pose, transl, contacts


def walk(body: BodyModel, frames: int, fps: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The walk: ``motion("walk", …)``."""
    return motion("walk", body, frames, fps)


@dataclass(frozen=True)
class SyntheticCamera:
    """A pinhole ``pitch`` degrees down, turned ``yaw`` degrees about +Y from looking towards -Z.

    By default it stands over the floor point (0, 0, 0) at the height that keeps a performer
    ``DISTANCE`` m away in the middle of the picture; ``at`` puts it elsewhere.
    """

    pitch: float = 0.0
    focal: float = 1000.0
    image_size: tuple[int, int] = (1280, 720)
    height: float | None = None
    yaw: float = 0.0
    at: tuple[float, float, float] | None = None

    @property
    def position(self) -> np.ndarray:
        if self.at is not None:
            return np.array(self.at)
        height = 0.9 + DISTANCE * np.tan(np.radians(self.pitch)) if self.height is None else self.height
        return np.array([0.0, height, 0.0])

    @property
    def rotation(self) -> np.ndarray:
        """World-from-camera rotation (camera axes: x right, y up, z backwards)."""
        yaw = rotvec_to_matrix(np.array([0.0, np.radians(self.yaw), 0.0]))
        return yaw @ rotvec_to_matrix(np.array([-np.radians(self.pitch), 0.0, 0.0]))

    def calibration(self, name: str) -> RigCamera:
        """This camera as a rig calibration (OpenCV axes: x right, y down, z forward)."""
        flip = np.diag([1.0, -1.0, -1.0])
        rotation = flip @ self.rotation.T
        width, height = self.image_size
        matrix = np.array([[self.focal, 0.0, width / 2], [0.0, self.focal, height / 2], [0.0, 0.0, 1.0]])
        return RigCamera(name, self.image_size, matrix, np.zeros(5), rotation, -rotation @ self.position)

    def to_camera(self, points: np.ndarray) -> np.ndarray:
        """World points …×3 in the camera's axes (x right, y up, z backwards), camera at the origin."""
        return (points - self.position) @ self.rotation


def ring(count: int, pitch: float = 15.0, radius: float = 4.0) -> list[SyntheticCamera]:
    """``count`` cameras on a circle of ``radius`` m around the performers' place, all aimed at it:
    evenly round it, or 90° apart for two (opposite cameras see depth along one line)."""
    centre = np.array([-0.6, 0.9, -DISTANCE])
    cameras = []
    for k in range(count):
        yaw = 90.0 * k if count == 2 else 360.0 * k / count
        away = np.array([np.sin(np.radians(yaw)), 0.0, np.cos(np.radians(yaw))])
        position = centre + radius * away + [0.0, radius * np.tan(np.radians(pitch)), 0.0]
        cameras.append(SyntheticCamera(pitch=pitch, yaw=yaw, at=tuple(position)))
    return cameras


def rig(cameras: list[SyntheticCamera]) -> Rig:
    """The calibration of ``cameras`` (the world: SMPL-X axes, so up is +Y)."""
    return Rig(tuple(c.calibration(f"camera{k}") for k, c in enumerate(cameras)), np.array([0.0, 1.0, 0.0]))


def landmarks(
    body: BodyModel,
    pose: np.ndarray,
    transl: np.ndarray,
    camera: SyntheticCamera,
    fps: float,
    noise_px: float,
    noise_m: float,
    rng: np.random.Generator,
    missing: np.ndarray | None = None,
    flipped: np.ndarray | None = None,
) -> Landmarks:
    """What a detector would report for this motion: projected points + noise, world points + noise.

    ``missing`` (T, bool): frames with no detection. ``flipped`` (T, bool): frames where the
    detector took the body for its back view (left and right labels swapped, depth mirrored).
    """
    frames = len(pose)
    points = camera.to_camera(body.points(pose, transl))
    flip = np.array([1.0, -1.0, -1.0])
    cam = points * flip
    uv = camera.focal * cam[..., :2] / cam[..., 2:] + np.array(camera.image_size) / 2
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
    if flipped is not None:
        body_uv[flipped] = body_uv[flipped][:, SWAP_BODY]
        body_vis[flipped] = body_vis[flipped][:, SWAP_BODY]
        body_world[flipped] = body_world[flipped][:, SWAP_BODY] * np.array([1.0, 1.0, -1.0])
        hand_uv[flipped] = hand_uv[flipped][:, ::-1]
        hand_world[flipped] = hand_world[flipped][:, ::-1] * np.array([1.0, 1.0, -1.0])
    if missing is not None:
        for array in (body_uv, body_world, body_vis, hand_uv, hand_world):
            array[missing] = 0.0
        valid[missing] = False
    return Landmarks(body_uv, body_world, body_vis, hand_uv, hand_world, valid, camera.image_size, fps)


def look_at(position: np.ndarray, target: np.ndarray, up: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """OpenCV extrinsics (world → camera rotation, translation) of a camera at ``position`` aiming at
    ``target``, with ``up`` at the top of its picture."""
    forward = (target - position) / np.linalg.norm(target - position)
    down = -up - (-up @ forward) * forward
    down /= np.linalg.norm(down)
    rotation = np.stack([np.cross(down, forward), down, forward])
    return rotation, -rotation @ position


def board_video(
    path: Path, camera: RigCamera, poses: list[tuple[np.ndarray, np.ndarray]], corners: tuple[int, int],
    square: float, fps: int = 10,
) -> Path:  # fmt: skip
    """A video of a checkerboard (``corners`` inner corners, ``square`` m) at each board → world ``pose``.

    The board's own frame has its first inner corner at the origin, x along a row, z into the board.
    """
    import av
    import cv2

    cols, rows = corners
    ppm, margin = 2000.0, 40  # texture pixels per metre, white border
    squares = np.indices((rows + 1, cols + 1)).sum(0) % 2 == 0
    cell = int(square * ppm)
    texture = np.kron(np.where(squares, 0, 255), np.ones((cell, cell))).astype(np.uint8)
    texture = np.pad(texture, margin, constant_values=255)
    board_from_texture = np.array([[1 / ppm, 0, -margin / ppm - square], [0, 1 / ppm, -margin / ppm - square],
                                   [0, 0, 1]])  # fmt: skip
    width, height = camera.size
    with av.open(str(path), "w") as container:
        stream = container.add_stream("mpeg4", rate=fps)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.options = {"qscale": "1"}
        for board_rotation, board_translation in poses:
            rotation = camera.rotation @ board_rotation
            translation = camera.rotation @ board_translation + camera.translation
            homography = camera.matrix @ np.column_stack([rotation[:, 0], rotation[:, 1], translation])
            picture = cv2.warpPerspective(
                texture, homography @ board_from_texture, (width, height), borderValue=(200.0,)
            )
            frame = av.VideoFrame.from_ndarray(np.repeat(picture[..., None], 3, -1), format="rgb24")
            container.mux(stream.encode(frame))
        container.mux(stream.encode())
    return path
