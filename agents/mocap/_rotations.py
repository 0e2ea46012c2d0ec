"""Vectorised rotation conversions (numpy): axis-angle, matrices, quaternions ``(w, x, y, z)``."""

from __future__ import annotations

import numpy as np


def rotvec_to_matrix(rotvec: np.ndarray) -> np.ndarray:
    """Axis-angle …×3 → rotation matrices …×3×3 (Rodrigues)."""
    angle = np.linalg.norm(rotvec, axis=-1, keepdims=True)
    axis = rotvec / np.maximum(angle, 1e-12)
    x, y, z = axis[..., 0], axis[..., 1], axis[..., 2]
    zero = np.zeros_like(x)
    cross = np.stack([zero, -z, y, z, zero, -x, -y, x, zero], -1).reshape(*rotvec.shape[:-1], 3, 3)
    s, c = np.sin(angle)[..., None], np.cos(angle)[..., None]
    return np.eye(3) + s * cross + (1 - c) * (cross @ cross)


def matrix_to_quaternion(matrix: np.ndarray) -> np.ndarray:
    """Rotation matrices …×3×3 → unit quaternions …×4 ``(w, x, y, z)`` with w ≥ 0."""
    m = matrix
    trace = m[..., 0, 0] + m[..., 1, 1] + m[..., 2, 2]
    w = np.stack(
        [1 + trace, m[..., 2, 1] - m[..., 1, 2], m[..., 0, 2] - m[..., 2, 0], m[..., 1, 0] - m[..., 0, 1]], -1
    )
    x = np.stack(
        [w[..., 1], 1 + 2 * m[..., 0, 0] - trace, m[..., 0, 1] + m[..., 1, 0], m[..., 0, 2] + m[..., 2, 0]],
        -1,
    )
    y = np.stack([w[..., 2], x[..., 2], 1 + 2 * m[..., 1, 1] - trace, m[..., 1, 2] + m[..., 2, 1]], -1)
    z = np.stack([w[..., 3], x[..., 3], y[..., 3], 1 + 2 * m[..., 2, 2] - trace], -1)
    candidates = np.stack([w, x, y, z], -2)
    # each row is 4·q·q_k for k = w, x, y, z: take the row with the largest |q_k| for stability
    diagonal = np.stack([w[..., 0], x[..., 1], y[..., 2], z[..., 3]], -1)
    best = np.take_along_axis(candidates, diagonal.argmax(-1)[..., None, None], -2)[..., 0, :]
    q = best / np.linalg.norm(best, axis=-1, keepdims=True)
    return q * np.where(q[..., :1] < 0, -1.0, 1.0)


def quaternion_to_rotvec(q: np.ndarray) -> np.ndarray:
    """Unit quaternions …×4 ``(w, x, y, z)`` → axis-angle …×3 (angle in [0, π])."""
    q = q * np.where(q[..., :1] < 0, -1.0, 1.0)
    vector = np.linalg.norm(q[..., 1:], axis=-1, keepdims=True)
    angle = 2 * np.arctan2(vector, q[..., :1])
    return q[..., 1:] * np.where(vector > 1e-12, angle / np.maximum(vector, 1e-12), 2.0)


def matrix_to_rotvec(matrix: np.ndarray) -> np.ndarray:
    """Rotation matrices …×3×3 → axis-angle …×3."""
    return quaternion_to_rotvec(matrix_to_quaternion(matrix))


def align(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """The smallest rotation (3×3) turning direction ``a`` (3,) onto direction ``b`` (3,)."""
    a = a / np.linalg.norm(a)
    b = b / np.linalg.norm(b)
    axis = np.cross(a, b)
    sin, cos = np.linalg.norm(axis), float(a @ b)
    if sin < 1e-9:
        if cos > 0:
            return np.eye(3)
        other = np.cross(a, [1.0, 0.0, 0.0] if abs(a[0]) < 0.9 else [0.0, 1.0, 0.0])
        return rotvec_to_matrix(np.pi * other / np.linalg.norm(other))
    return rotvec_to_matrix(axis / sin * np.arctan2(sin, cos))
