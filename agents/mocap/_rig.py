"""A calibrated camera rig for multi-camera capture: OpenCV intrinsics and extrinsics per camera.

The file (JSON, or TOML with the same keys) — metres, OpenCV's camera axes (x right, y down,
z forward), ``x_camera = R · x_world + t``::

    up = [0.0, 0.0, 1.0]              # the world's up (default +Z: a floor board's normal)
    [[cameras]]
    name = "left"
    size = [1920, 1080]               # width, height in pixels
    matrix = [[1400.0, 0.0, 960.0], [0.0, 1400.0, 540.0], [0.0, 0.0, 1.0]]
    distortion = [0.0, 0.0, 0.0, 0.0, 0.0]   # k1, k2, p1, p2[, k3 …] as OpenCV orders them
    rotation = [0.1, -0.2, 0.0]       # world → camera: a Rodrigues vector (OpenCV's rvec) or 3×3
    translation = [0.0, 1.2, 4.0]
    time_offset = 0.0                 # optional: seconds this video starts after the first's
                                      # (left out: estimated from the landmarks)
"""

from __future__ import annotations

import json
import tomllib
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from protocols import InvalidArgument, NotFound


@dataclass(frozen=True)
class RigCamera:
    """One calibrated camera: ``matrix`` K 3×3, ``distortion`` (OpenCV order), world → camera
    ``rotation`` 3×3 and ``translation`` (3,), picture ``size`` (w, h), ``time_offset`` s or None."""

    name: str
    size: tuple[int, int]
    matrix: np.ndarray
    distortion: np.ndarray
    rotation: np.ndarray
    translation: np.ndarray
    time_offset: float | None = None

    @property
    def position(self) -> np.ndarray:
        """Where the camera is in the world."""
        return -self.rotation.T @ self.translation

    def project(self, points: np.ndarray) -> np.ndarray:
        """World points N×3 → pixels N×2 (with the lens' distortion)."""
        rvec = cv2.Rodrigues(self.rotation)[0]
        uv, _ = cv2.projectPoints(
            points.reshape(-1, 1, 3), rvec, self.translation, self.matrix, self.distortion
        )
        return uv.reshape(-1, 2)

    def normalised(self, uv: np.ndarray) -> np.ndarray:
        """Pixels N×2 → undistorted normalised image coordinates N×2 (x / z, y / z in camera axes)."""
        return cv2.undistortPoints(
            uv.reshape(-1, 1, 2).astype(np.float64), self.matrix, self.distortion
        ).reshape(-1, 2)

    def to_dict(self) -> dict:
        data = {
            "name": self.name, "size": list(self.size), "matrix": self.matrix.tolist(),
            "distortion": self.distortion.tolist(),
            "rotation": cv2.Rodrigues(self.rotation)[0].ravel().tolist(),
            "translation": self.translation.tolist(),
        }  # fmt: skip
        if self.time_offset is not None:
            data["time_offset"] = self.time_offset
        return data


@dataclass(frozen=True)
class Rig:
    """The cameras of one capture and the world's ``up`` (3,)."""

    cameras: tuple[RigCamera, ...]
    up: np.ndarray

    @classmethod
    def from_dict(cls, data: object) -> Rig:
        """A rig from a parsed calibration file, or a clear error naming what is wrong."""
        if not isinstance(data, dict) or not isinstance(data.get("cameras"), list) or not data["cameras"]:
            raise InvalidArgument("a calibration needs a 'cameras' list", field="calibration")
        up = _array(data.get("up", [0.0, 0.0, 1.0]), (3,), "up")
        if np.linalg.norm(up) < 1e-9:
            raise InvalidArgument("calibration 'up' must not be zero", field="calibration")
        cameras = tuple(_camera(entry, i) for i, entry in enumerate(data["cameras"]))
        names = [c.name for c in cameras]
        if len(set(names)) != len(names):
            raise InvalidArgument(f"calibration camera names repeat: {names}", field="calibration")
        return cls(cameras, up / np.linalg.norm(up))

    @classmethod
    def load(cls, path: str | Path) -> Rig:
        """A rig from a .json or .toml calibration file."""
        path = Path(path)
        if not path.is_file():
            raise NotFound(f"calibration file {str(path)!r} does not exist", field="calibration")
        try:
            text = path.read_text()
            data = tomllib.loads(text) if path.suffix == ".toml" else json.loads(text)
        except (ValueError, UnicodeDecodeError) as exc:
            raise InvalidArgument(
                f"calibration file {str(path)!r} is not valid: {exc}", field="calibration"
            ) from exc
        return cls.from_dict(data)

    def to_dict(self) -> dict:
        return {"up": self.up.tolist(), "cameras": [c.to_dict() for c in self.cameras]}


def _array(value: object, shape: tuple[int, ...], what: str) -> np.ndarray:
    try:
        array = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        array = np.zeros(0)
    if array.shape != shape or not np.isfinite(array).all():
        raise InvalidArgument(
            f"calibration {what} must be {shape} finite numbers, got {value!r}", field="calibration"
        )
    return array


def _camera(entry: object, index: int) -> RigCamera:
    if not isinstance(entry, dict):
        raise InvalidArgument(f"calibration camera {index} is not a table", field="calibration")
    name = entry.get("name", f"camera{index}")
    where = f"camera {name!r}"
    size = _array(entry.get("size"), (2,), f"{where} size")
    matrix = _array(entry.get("matrix"), (3, 3), f"{where} matrix")
    if matrix[0, 0] <= 0 or matrix[1, 1] <= 0 or size.min() < 1:
        raise InvalidArgument(
            f"calibration {where} needs positive focal lengths and size", field="calibration"
        )
    distortion = np.asarray(entry.get("distortion", [0.0] * 5), dtype=np.float64).ravel()
    if len(distortion) not in (4, 5, 8, 12, 14) or not np.isfinite(distortion).all():
        raise InvalidArgument(
            f"calibration {where} distortion must hold 4, 5, 8, 12 or 14 numbers", field="calibration"
        )
    raw = np.asarray(entry.get("rotation"), dtype=np.float64)
    if raw.shape == (3,):
        rotation = cv2.Rodrigues(raw)[0]
    else:
        rotation = _array(raw, (3, 3), f"{where} rotation")
        if not np.allclose(rotation @ rotation.T, np.eye(3), atol=1e-5) or np.linalg.det(rotation) < 0:
            raise InvalidArgument(
                f"calibration {where} rotation is not a rotation matrix", field="calibration"
            )
    offset = entry.get("time_offset")
    if offset is not None and not isinstance(offset, int | float):
        raise InvalidArgument(f"calibration {where} time_offset must be seconds", field="calibration")
    return RigCamera(
        name=str(name), size=(int(size[0]), int(size[1])), matrix=matrix, distortion=distortion,
        rotation=rotation, translation=_array(entry.get("translation"), (3,), f"{where} translation"),
        time_offset=None if offset is None else float(offset),
    )  # fmt: skip
