"""The SMPL-X body skeleton (55 joints) as Blender rest-pose bones.

Conventions: Blender armature space, Z up, metres; the character stands on Z = 0 facing -Y, so
its left side is +X (as in SMPL-X, whose own axes are X left, Y up, Z forward). The rest pose
is a **T-pose**: legs straight, arms level along ±X, palms down, fingers straight. The joint
positions are hand-made proportions of a 1.75 m adult (not the SMPL-X template mesh's), close
enough that SMPL-X joint rotations retarget onto it bone for bone.
"""

from __future__ import annotations

import numpy as np

from protocols import BoneSpec

SMPLX_JOINT_NAMES: tuple[str, ...] = (
    "pelvis",
    "left_hip",
    "right_hip",
    "spine1",
    "left_knee",
    "right_knee",
    "spine2",
    "left_ankle",
    "right_ankle",
    "spine3",
    "left_foot",
    "right_foot",
    "neck",
    "left_collar",
    "right_collar",
    "head",
    "left_shoulder",
    "right_shoulder",
    "left_elbow",
    "right_elbow",
    "left_wrist",
    "right_wrist",
    "jaw",
    "left_eye_smplhf",
    "right_eye_smplhf",
    *(
        f"{side}_{finger}{k}"
        for side in ("left", "right")
        for finger in ("index", "middle", "pinky", "ring", "thumb")
        for k in (1, 2, 3)
    ),
)

# The SMPL-X kinematic tree: parent index of each joint (-1 for the root).
SMPLX_PARENTS: tuple[int, ...] = (
    -1, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 9, 9, 12, 13, 14, 16, 17, 18, 19, 15, 15, 15,
    20, 25, 26, 20, 28, 29, 20, 31, 32, 20, 34, 35, 20, 37, 38,
    21, 40, 41, 21, 43, 44, 21, 46, 47, 21, 49, 50, 21, 52, 53,
)  # fmt: skip

# Joints on the body's mid-line, (x, y, z) in metres.
_CENTRE = {
    "pelvis": (0.0, 0.0, 0.95),
    "spine1": (0.0, 0.01, 1.06),
    "spine2": (0.0, 0.015, 1.19),
    "spine3": (0.0, 0.01, 1.25),
    "neck": (0.0, 0.02, 1.47),
    "head": (0.0, 0.0, 1.56),
    "jaw": (0.0, -0.02, 1.54),
}

# Left-side joints (+X); the right side mirrors them in X. Fingers: see _FINGERS.
_LEFT = {
    "hip": (0.065, 0.0, 0.86),
    "knee": (0.08, -0.01, 0.49),
    "ankle": (0.085, 0.02, 0.08),
    "foot": (0.09, -0.10, 0.02),
    "collar": (0.075, 0.01, 1.40),
    "shoulder": (0.18, 0.015, 1.41),
    "elbow": (0.44, 0.02, 1.41),
    "wrist": (0.69, 0.02, 1.41),
    "eye_smplhf": (0.032, -0.09, 1.63),
}

# Per finger: base (knuckle) offset from the wrist, unit direction, phalanx lengths 1..3.
_FINGERS = {
    "index": ((0.090, -0.025, -0.005), (1.0, 0.0, 0.0), (0.038, 0.023, 0.020)),
    "middle": ((0.095, -0.005, -0.005), (1.0, 0.0, 0.0), (0.042, 0.027, 0.022)),
    "ring": ((0.090, 0.015, -0.005), (1.0, 0.0, 0.0), (0.038, 0.025, 0.020)),
    "pinky": ((0.080, 0.032, -0.008), (1.0, 0.0, 0.0), (0.030, 0.020, 0.018)),
    "thumb": ((0.025, -0.025, -0.015), (0.6, -0.78, -0.16), (0.035, 0.030, 0.027)),
}

# Where a bone's tail goes: its main child joint, or else a (dx, dy, dz) offset from its head.
_MAIN_CHILD = {
    "pelvis": "spine1",
    "spine1": "spine2",
    "spine2": "spine3",
    "spine3": "neck",
    "neck": "head",
    **{
        f"{side}_{joint}": f"{side}_{child}"
        for side in ("left", "right")
        for joint, child in (
            ("hip", "knee"),
            ("knee", "ankle"),
            ("ankle", "foot"),
            ("collar", "shoulder"),
            ("shoulder", "elbow"),
            ("elbow", "wrist"),
            ("wrist", "middle1"),
        )
    },
}
_LEAF_OFFSETS = {
    "head": (0.0, 0.0, 0.16),
    "jaw": (0.0, -0.07, -0.05),
    "left_eye_smplhf": (0.0, -0.02, 0.0),
    "right_eye_smplhf": (0.0, -0.02, 0.0),
    "left_foot": (0.0, -0.06, 0.0),
    "right_foot": (0.0, -0.06, 0.0),
}


def smplx_joint_positions() -> np.ndarray:
    """Rest (T-pose) joint positions, ``55×3`` in SMPLX_JOINT_NAMES order, Blender metres."""
    positions: dict[str, np.ndarray] = {name: np.array(p) for name, p in _CENTRE.items()}
    mirror = np.array([-1.0, 1.0, 1.0])
    for side, flip in (("left", np.ones(3)), ("right", mirror)):
        for joint, p in _LEFT.items():
            positions[f"{side}_{joint}"] = np.array(p) * flip
        wrist = positions[f"{side}_wrist"]
        for finger, (base, direction, lengths) in _FINGERS.items():
            unit = np.array(direction) / np.linalg.norm(direction)
            joint = wrist + np.array(base) * flip
            for k, length in enumerate(lengths[:2], start=1):
                positions[f"{side}_{finger}{k}"] = joint
                joint = joint + unit * flip * length
            positions[f"{side}_{finger}3"] = joint
    return np.stack([positions[name] for name in SMPLX_JOINT_NAMES])


def _tails(heads: np.ndarray) -> np.ndarray:
    """Each bone's tail: its main child's head, or a leaf offset (fingertips continue on)."""
    index = {name: i for i, name in enumerate(SMPLX_JOINT_NAMES)}
    tails = np.empty_like(heads)
    for i, name in enumerate(SMPLX_JOINT_NAMES):
        side, _, joint = name.partition("_")
        if name in _MAIN_CHILD:
            tails[i] = heads[index[_MAIN_CHILD[name]]]
        elif name in _LEAF_OFFSETS:
            tails[i] = heads[i] + np.array(_LEAF_OFFSETS[name])
        elif joint[-1] in "12":  # finger joints 1 and 2: the next joint along the finger
            tails[i] = heads[i + 1]
        else:  # fingertip bone (joint 3): continue along the finger by its last length
            _, direction, lengths = _FINGERS[joint[:-1]]
            unit = np.array(direction) / np.linalg.norm(direction)
            flip = np.array([1.0 if side == "left" else -1.0, 1.0, 1.0])
            tails[i] = heads[i] + unit * flip * lengths[2]
    return tails


def smplx_bones() -> tuple[BoneSpec, ...]:
    """The 55 SMPL-X joints as bones (head = joint), parents before children, T-pose."""
    heads = smplx_joint_positions()
    tails = _tails(heads)
    return tuple(
        BoneSpec(
            name=name,
            head=_vec(heads[i]),
            tail=_vec(tails[i]),
            parent=SMPLX_JOINT_NAMES[parent] if parent >= 0 else None,
        )
        for i, (name, parent) in enumerate(zip(SMPLX_JOINT_NAMES, SMPLX_PARENTS, strict=True))
    )


def _vec(v: np.ndarray) -> tuple[float, float, float]:
    return (round(float(v[0]), 6), round(float(v[1]), 6), round(float(v[2]), 6))
