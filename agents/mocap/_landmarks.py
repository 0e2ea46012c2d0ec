"""Per-frame body and hand landmarks behind a small interface, and the MediaPipe 0.10.21 source.

Conventions: image points in pixels; world points in metres in MediaPipe's camera-aligned frame
(x right, y down, z away from the camera) — the body's centred on the hips, each hand's on its
wrist. Hands are indexed by the person's side: 0 left, 1 right.
"""

from __future__ import annotations

import abc
from dataclasses import dataclass

import numpy as np

from protocols import InvalidArgument

NUM_BODY = 33
NUM_HAND = 21
LEFT_WRIST, RIGHT_WRIST = 15, 16
Box = tuple[int, int, int, int]  # x0, y0, x1, y1 pixels


@dataclass(frozen=True)
class Landmarks:
    """Landmarks of one person over T frames.

    ``body_uv`` T×33×2 px, ``body_world`` T×33×3 m, ``body_vis`` T×33 in [0, 1] (0 where not
    found), ``hand_uv`` T×2×21×2 px, ``hand_world`` T×2×21×3 m, ``hand_valid`` T×2 bool,
    ``image_size`` (width, height) px, ``fps``.
    """

    body_uv: np.ndarray
    body_world: np.ndarray
    body_vis: np.ndarray
    hand_uv: np.ndarray
    hand_world: np.ndarray
    hand_valid: np.ndarray
    image_size: tuple[int, int]
    fps: float

    @property
    def frames(self) -> int:
        return self.body_uv.shape[0]

    @property
    def detected(self) -> np.ndarray:
        """Frames (T,) where a body was found."""
        return self.body_vis.max(axis=1) > 0


class LandmarkSource(abc.ABC):
    """Turns video frames into one person's landmarks; another detector plugs in here."""

    @abc.abstractmethod
    def detect(self, frames: np.ndarray, fps: float, person: int = 0, box: Box | None = None) -> Landmarks:
        """Landmarks for ``frames`` T×H×W×3 (uint8 RGB) of ``person`` (0: the most prominent), or
        of the person inside ``box`` (x0, y0, x1, y1 px) in the first frame, followed as they move."""


class MediaPipeSource(LandmarkSource):
    """MediaPipe 0.10.21 legacy ``solutions.pose`` (model_complexity=1) + ``solutions.hands``.

    Both models ship in the wheel, so this runs offline. Pose follows one person only; with a
    ``box`` it looks only inside a window of the box's size that moves with the person.
    """

    def detect(self, frames: np.ndarray, fps: float, person: int = 0, box: Box | None = None) -> Landmarks:
        from mediapipe.python.solutions import hands as mp_hands
        from mediapipe.python.solutions import pose as mp_pose

        if person != 0:
            raise InvalidArgument(
                "the MediaPipe landmark source follows one person; person must be 0", field="person"
            )
        count, height, width = frames.shape[:3]
        body_uv = np.zeros((count, NUM_BODY, 2))
        body_world = np.zeros((count, NUM_BODY, 3))
        body_vis = np.zeros((count, NUM_BODY))
        hand_uv = np.zeros((count, 2, NUM_HAND, 2))
        hand_world = np.zeros((count, 2, NUM_HAND, 3))
        hand_valid = np.zeros((count, 2), dtype=bool)
        window = None if box is None else np.array(box[:2], dtype=float)
        size = None if box is None else np.array([box[2] - box[0], box[3] - box[1]])
        with (
            mp_pose.Pose(static_image_mode=False, model_complexity=1, smooth_landmarks=True) as pose,
            mp_hands.Hands(static_image_mode=False, max_num_hands=2, model_complexity=1) as hands,
        ):
            for t, whole in enumerate(frames):
                corner = np.zeros(2)
                frame = whole
                if window is not None and size is not None:
                    corner = np.clip(np.round(window), 0, [width - size[0], height - size[1]])
                    x0, y0 = int(corner[0]), int(corner[1])
                    frame = np.ascontiguousarray(whole[y0 : y0 + size[1], x0 : x0 + size[0]])
                scale = np.array([frame.shape[1], frame.shape[0]])
                found = pose.process(frame)
                if found.pose_landmarks is None:
                    continue
                image = np.array([(p.x, p.y, p.visibility) for p in found.pose_landmarks.landmark])
                body_uv[t] = image[:, :2] * scale + corner
                if window is not None and size is not None:  # the window follows the person
                    window = (
                        body_uv[t][image[:, 2] > 0.5].mean(0) - size / 2
                        if (image[:, 2] > 0.5).any()
                        else window
                    )
                body_vis[t] = np.clip(image[:, 2], 1e-3, 1.0)
                body_world[t] = [(p.x, p.y, p.z) for p in found.pose_world_landmarks.landmark]
                seen = hands.process(frame)
                for image_hand, world_hand in zip(
                    seen.multi_hand_landmarks or (), seen.multi_hand_world_landmarks or (), strict=True
                ):
                    uv = np.array([(p.x, p.y) for p in image_hand.landmark]) * scale + corner
                    # which body wrist is nearest (MediaPipe's handedness assumes a mirrored image)
                    side = int(
                        np.linalg.norm(uv[0] - body_uv[t, RIGHT_WRIST])
                        < np.linalg.norm(uv[0] - body_uv[t, LEFT_WRIST])
                    )
                    hand_uv[t, side] = uv
                    hand_world[t, side] = [(p.x, p.y, p.z) for p in world_hand.landmark]
                    hand_valid[t, side] = True
        if not body_vis.any():
            raise InvalidArgument(f"no person was found in any of the {count} frames", field="video")
        return Landmarks(body_uv, body_world, body_vis, hand_uv, hand_world, hand_valid, (width, height), fps)
