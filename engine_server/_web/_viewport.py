"""Free viewport camera math (pure): orbit / pan / dolly / fly / gamepad -> a camera pose.

The viewport orbits a pivot: ``yaw`` about world Z, ``pitch`` from straight down (0) to straight up
(π), ``distance`` from the pivot. Blender cameras look down their local -Z with +Y up, so the
rotation is Euler XYZ (pitch, 0, yaw). Quaternions are (w, x, y, z).
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np

ORBIT_RAD_PER_PX = 0.005
PAN_PER_PX = 0.0015  # × distance
DOLLY_STEP = 0.1  # distance × e^(-0.1 d)
FLY_STEP_M = 0.1  # × distance per unit of input
GAMEPAD_DEADZONE = 0.15
MIN_DISTANCE, MAX_DISTANCE = 0.05, 10_000.0
PITCH_LIMIT = 1e-3


@dataclasses.dataclass(frozen=True, slots=True)
class Viewport:
    pivot: tuple[float, float, float] = (0.0, 0.0, 1.0)
    yaw: float = math.radians(45.0)
    pitch: float = math.radians(75.0)
    distance: float = 8.0
    lens: float = 35.0

    @property
    def rotation(self) -> tuple[float, float, float, float]:
        half_p, half_y = self.pitch / 2, self.yaw / 2
        qx = (math.cos(half_p), math.sin(half_p), 0.0, 0.0)
        qz = (math.cos(half_y), 0.0, 0.0, math.sin(half_y))
        return _multiply(qz, qx)

    @property
    def location(self) -> tuple[float, float, float]:
        back = self._basis()[:, 2]  # the camera's +Z: away from where it looks
        return _point(np.asarray(self.pivot) + back * self.distance)

    def _basis(self) -> np.ndarray:
        """3×3: columns are the camera's right, up and back axes in world space."""
        return _matrix(self.rotation)


def _point(values: np.ndarray) -> tuple[float, float, float]:
    x, y, z = (float(v) for v in values)
    return x, y, z


def from_pose(location, rotation, lens: float, distance: float = 5.0) -> Viewport:
    """The viewport seeing what a camera at ``location`` / ``rotation`` sees, orbiting ``distance`` ahead."""
    basis = _matrix(tuple(rotation))
    forward = -basis[:, 2]
    pitch = math.acos(max(-1.0, min(1.0, -forward[2])))
    yaw = math.atan2(-forward[0], forward[1]) if abs(forward[2]) < 1 - 1e-9 else 0.0
    pivot = np.asarray(location, dtype=float) + forward * distance
    return Viewport(_point(pivot), yaw, _clamp_pitch(pitch), distance, lens)


def orbit(view: Viewport, dx: float, dy: float) -> Viewport:
    return dataclasses.replace(
        view,
        yaw=(view.yaw - dx * ORBIT_RAD_PER_PX) % math.tau,
        pitch=_clamp_pitch(view.pitch - dy * ORBIT_RAD_PER_PX),
    )


def pan(view: Viewport, dx: float, dy: float) -> Viewport:
    basis = view._basis()
    shift = (-basis[:, 0] * dx + basis[:, 1] * dy) * PAN_PER_PX * view.distance
    return dataclasses.replace(view, pivot=_point(np.asarray(view.pivot) + shift))


def dolly(view: Viewport, amount: float) -> Viewport:
    distance = view.distance * math.exp(-DOLLY_STEP * amount)
    return dataclasses.replace(view, distance=min(MAX_DISTANCE, max(MIN_DISTANCE, distance)))


def fly(view: Viewport, forward: float, right: float, up: float) -> Viewport:
    basis = view._basis()
    step = (-basis[:, 2] * forward + basis[:, 0] * right + np.array([0.0, 0.0, 1.0]) * up) * FLY_STEP_M
    shift = step * max(1.0, view.distance)
    return dataclasses.replace(view, pivot=_point(np.asarray(view.pivot) + shift))


def gamepad(view: Viewport, axes: tuple[float, ...], buttons: tuple[float, ...]) -> Viewport:
    """Standard mapping: left stick flies (x right, y back), right stick orbits, LB / RB (4 / 5) down / up."""
    a = [0.0 if abs(v) < GAMEPAD_DEADZONE else v for v in (*axes, 0.0, 0.0, 0.0, 0.0)[:4]]
    b = (*buttons, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0)[:6]
    view = fly(view, forward=-a[1], right=a[0], up=b[5] - b[4])
    return orbit(view, a[2] * 20.0, a[3] * 20.0)


def _clamp_pitch(pitch: float) -> float:
    return min(math.pi - PITCH_LIMIT, max(PITCH_LIMIT, pitch))


def _multiply(a, b) -> tuple[float, float, float, float]:
    aw, ax, ay, az = a
    bw, bx, by, bz = b
    return (
        aw * bw - ax * bx - ay * by - az * bz,
        aw * bx + ax * bw + ay * bz - az * by,
        aw * by - ax * bz + ay * bw + az * bx,
        aw * bz + ax * by - ay * bx + az * bw,
    )


def _matrix(q) -> np.ndarray:
    w, x, y, z = np.asarray(q, dtype=float) / np.linalg.norm(q)
    return np.array(
        [
            [1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y)],
            [2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x)],
            [2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)],
        ]
    )
