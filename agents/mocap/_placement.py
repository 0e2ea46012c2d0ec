"""Rigid moves of a fitted clip (SMPL-X axes): turning it about the origin, and putting it on a mark.

A clip is axis-angle ``pose`` T×55×3 (joint 0 the pelvis' world orientation) and ``transl`` T×3;
the pelvis joint sits at ``rest_pelvis + transl``, and the root turns about it.
"""

from __future__ import annotations

import numpy as np

from ._rotations import matrix_to_rotvec, rotvec_to_matrix


def moved(
    pose: np.ndarray,
    transl: np.ndarray,
    rest_pelvis: np.ndarray,
    rotation: np.ndarray,
    shift: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """The clip turned by ``rotation`` (3×3) about the world origin, then shifted by ``shift`` (3,)."""
    pose = pose.copy()
    pose[:, 0] = matrix_to_rotvec(rotation @ rotvec_to_matrix(pose[:, 0]))
    transl = (rest_pelvis + transl) @ rotation.T - rest_pelvis
    return pose, transl if shift is None else transl + shift


def heading(pose: np.ndarray) -> float:
    """Which way the first frame faces: radians about +Y from +Z (SMPL-X's facing at rest)."""
    forward = rotvec_to_matrix(pose[0, 0])[:, 2]
    return float(np.arctan2(forward[0], forward[2]))


def to_mark(pose: np.ndarray, transl: np.ndarray, rest_pelvis: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The move (rotation 3×3, shift 3) that stands the first frame over the origin facing +Z."""
    rotation = rotvec_to_matrix(np.array([0.0, -heading(pose), 0.0]))
    start = rotation @ (rest_pelvis + transl[0])
    return rotation, np.array([-start[0], 0.0, -start[2]])
