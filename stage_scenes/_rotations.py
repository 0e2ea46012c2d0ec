"""Rotations a person writes in a stage file, as the protocol's unit quaternions ``(w, x, y, z)``."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from protocols import InvalidArgument

Quat = tuple[float, float, float, float]


def euler_deg_to_quaternion(angles: Sequence[float]) -> Quat:
    """Blender ``XYZ`` Euler angles in degrees (X applied first, then Y, then Z) as a quaternion."""
    q = np.array([1.0, 0.0, 0.0, 0.0])
    for axis, degrees in enumerate(angles):
        half = math.radians(degrees) / 2
        step = np.zeros(4)
        step[0] = math.cos(half)
        step[axis + 1] = math.sin(half)
        q = _multiply(step, q)
    return _rounded(q)


def look_at_quaternion(location: Sequence[float], target: Sequence[float]) -> Quat:
    """The rotation that points a camera's or light's -Z axis at ``target``, its +Y up.

    The view's horizon stays level (its +X axis in the XY plane); looking straight up or down,
    the view's up is world +Y.
    """
    forward = np.subtract(target, location, dtype=float)
    distance = np.linalg.norm(forward)
    if distance < 1e-9:
        raise InvalidArgument("look_at is the node's own location; aim at another point", field="look_at")
    forward /= distance
    right = np.cross(forward, (0.0, 0.0, 1.0))
    if np.linalg.norm(right) < 1e-9:
        right = np.cross(forward, (0.0, 1.0, 0.0))
    right /= np.linalg.norm(right)
    up = np.cross(right, forward)
    return _matrix_to_quaternion(np.column_stack((right, up, -forward)))


def _multiply(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Hamilton product ``a·b`` (apply ``b``, then ``a``)."""
    aw, ax, ay, az = a
    bw, bx, by, bz = b
    return np.array(
        [
            aw * bw - ax * bx - ay * by - az * bz,
            aw * bx + ax * bw + ay * bz - az * by,
            aw * by - ax * bz + ay * bw + az * bx,
            aw * bz + ax * by - ay * bx + az * bw,
        ]
    )


def _matrix_to_quaternion(m: np.ndarray) -> Quat:
    """A 3×3 rotation matrix as a quaternion, from its largest diagonal term for stability."""
    trace = np.trace(m)
    if trace > 0:
        s = 2.0 * math.sqrt(1.0 + trace)
        q = (s / 4, (m[2, 1] - m[1, 2]) / s, (m[0, 2] - m[2, 0]) / s, (m[1, 0] - m[0, 1]) / s)
    elif m[0, 0] >= m[1, 1] and m[0, 0] >= m[2, 2]:
        s = 2.0 * math.sqrt(1.0 + m[0, 0] - m[1, 1] - m[2, 2])
        q = ((m[2, 1] - m[1, 2]) / s, s / 4, (m[0, 1] + m[1, 0]) / s, (m[0, 2] + m[2, 0]) / s)
    elif m[1, 1] >= m[2, 2]:
        s = 2.0 * math.sqrt(1.0 + m[1, 1] - m[0, 0] - m[2, 2])
        q = ((m[0, 2] - m[2, 0]) / s, (m[0, 1] + m[1, 0]) / s, s / 4, (m[1, 2] + m[2, 1]) / s)
    else:
        s = 2.0 * math.sqrt(1.0 + m[2, 2] - m[0, 0] - m[1, 1])
        q = ((m[1, 0] - m[0, 1]) / s, (m[0, 2] + m[2, 0]) / s, (m[1, 2] + m[2, 1]) / s, s / 4)
    return _rounded(np.array(q))


def _rounded(q: np.ndarray) -> Quat:
    """Unit quaternion with ``w >= 0``, rounded to 9 places so float noise (6e-17) becomes 0."""
    q = q / np.linalg.norm(q)
    if q[0] < 0:
        q = -q
    w, x, y, z = (round(float(c), 9) + 0.0 for c in q)
    return (w, x, y, z)
