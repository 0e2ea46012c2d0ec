"""A rig calibration from synchronised videos of a checkerboard, with OpenCV.

Each camera's intrinsics (matrix, distortion) come from every frame in which it found the whole
board (``cv2.calibrateCamera``); the extrinsics from the first frame all cameras found it in:
that board pose is the world (x along the board's rows of corners, y along its columns, z into
the board; metres), and the world's up is the board's normal on the cameras' side, as when the
board lies on the floor for that frame.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from protocols import InvalidArgument

from ._rig import Rig, RigCamera
from ._video import read_video

MIN_VIEWS = 5  # frames with the whole board a camera needs for its intrinsics
SUBPIXEL = (cv2.TERM_CRITERIA_EPS + cv2.TERM_CRITERIA_MAX_ITER, 40, 1e-4)


def board_points(corners: tuple[int, int], square: float) -> np.ndarray:
    """The board's inner corners (cols × rows) in its own plane, metres (N×3, z = 0)."""
    cols, rows = corners
    grid = np.mgrid[0:cols, 0:rows].T.reshape(-1, 2) * square
    return np.hstack([grid, np.zeros((len(grid), 1))]).astype(np.float32)


def find_board(frames: np.ndarray, corners: tuple[int, int], step: int = 1) -> dict[int, np.ndarray]:
    """Frame index → the board's corners (N×2 px) for every ``step``-th frame that shows all of them."""
    found = {}
    flags = cv2.CALIB_CB_ADAPTIVE_THRESH + cv2.CALIB_CB_NORMALIZE_IMAGE
    for index in range(0, len(frames), step):
        grey = cv2.cvtColor(frames[index], cv2.COLOR_RGB2GRAY)
        ok, points = cv2.findChessboardCorners(grey, corners, flags=flags)
        if ok:
            found[index] = cv2.cornerSubPix(grey, points, (5, 5), (-1, -1), SUBPIXEL).reshape(-1, 2)
    return found


def calibrate_rig(
    videos: list[str | Path],
    corners: tuple[int, int],
    square: float,
    names: list[str] | None = None,
    step: int = 1,
) -> Rig:
    """The rig that filmed ``videos`` of a board of ``corners`` (inner: cols × rows) ``square`` m apart.

    Use a board with one count even and the other odd, so its corners have one order only.
    """
    if square <= 0 or min(corners) < 2:
        raise InvalidArgument(
            f"a board needs at least 2 × 2 inner corners and a square > 0, got {corners}", field="board"
        )
    names = names or [Path(v).stem for v in videos]
    board = board_points(corners, square)
    seen, sizes = [], []
    for video in videos:
        frames = read_video(video).frames
        sizes.append((frames.shape[2], frames.shape[1]))
        seen.append(find_board(frames, corners, step))
    common = sorted(set.intersection(*(set(s) for s in seen)))
    if not common:
        raise InvalidArgument("no frame shows the whole board to every camera at once", field="videos")
    cameras = []
    for name, size, found in zip(names, sizes, seen, strict=True):
        if len(found) < MIN_VIEWS:
            raise InvalidArgument(
                f"camera {name!r} saw the whole board in {len(found)} frames; calibration needs {MIN_VIEWS}",
                field="videos",
            )
        image_points = [found[i].astype(np.float32) for i in sorted(found)]
        guess = np.eye(3)
        _, matrix, distortion, _, _ = cv2.calibrateCamera(
            [board] * len(image_points), image_points, size, guess, np.zeros(5), flags=cv2.CALIB_FIX_K3
        )
        _, rvec, tvec = cv2.solvePnP(board, found[common[0]], matrix, distortion)
        matrix, distortion = np.asarray(matrix, dtype=np.float64), np.asarray(distortion, dtype=np.float64)
        cameras.append(
            RigCamera(name, size, matrix, distortion.ravel(), cv2.Rodrigues(rvec)[0], tvec.ravel())
        )
    up = np.array([0.0, 0.0, -1.0 if cameras[0].position[2] < 0 else 1.0])
    return Rig(tuple(cameras), up)
