"""The project's own SMPL-X-format body model: the stage mannequin as an ``smplx``-loadable .npz.

A procedural body: a tube of ``SIDES``-vertex rings around each of the 55 bones of
``stage_scenes.smplx_bones()``, converted to SMPL-X's frame (X left, Y up, Z forward). Each bone's
first ring is a circle centred on its head, so ``J_regressor`` (the ring mean) puts every joint
exactly at the stage skeleton's joint. The vertices ``smplx`` reads as keypoints (nose, eyes,
ears, toes, heels, fingertips: hard-coded ids up to 9929) are moved to those ids. No pose
correctives (``posedirs`` is zero) and no expressions; ten shape directions scale body parts.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import numpy as np

from stage_scenes import SMPLX_JOINT_NAMES, SMPLX_PARENTS, smplx_bones, smplx_joint_positions

NUM_VERTICES = 10_475
SIDES = 25
MODEL_VERSION = 1
NUM_JOINTS = 55

# Blender (Z up, facing -Y) from SMPL-X (Y up, facing +Z): a +90° turn about X.
BLENDER_FROM_SMPLX = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, -1.0], [0.0, 1.0, 0.0]])

# Tube radius (metres) by joint name without its side; fingers use FINGER_RADIUS.
_RADII = {
    "pelvis": 0.12, "spine1": 0.115, "spine2": 0.12, "spine3": 0.13, "neck": 0.05, "head": 0.095,
    "collar": 0.045, "shoulder": 0.048, "elbow": 0.04, "wrist": 0.035, "hip": 0.075, "knee": 0.055,
    "ankle": 0.045, "foot": 0.04, "jaw": 0.02, "eye_smplhf": 0.012,
}  # fmt: skip
FINGER_RADIUS = 0.009

# Where smplx's keypoint vertices go, in Blender coordinates for the left side (right mirrors X).
_KEYPOINTS_CENTRE = {"nose": (0.0, -0.11, 1.60)}
_KEYPOINTS_LEFT = {
    "eye": (0.032, -0.10, 1.63),
    "ear": (0.10, 0.0, 1.62),
    "BigToe": (0.09, -0.17, 0.0),
    "SmallToe": (0.13, -0.14, 0.0),
    "Heel": (0.085, 0.06, 0.0),
}


def _tube_geometry(heads: np.ndarray, tails: np.ndarray, rings: np.ndarray):
    """Rings around each bone. Returns vertices V×3, faces F×3, owner bone per vertex (V,)."""
    verts: list[np.ndarray] = []
    faces: list[tuple[int, int, int]] = []
    owner: list[int] = []
    angles = 2 * np.pi * np.arange(SIDES) / SIDES
    for j, name in enumerate(SMPLX_JOINT_NAMES):
        axis = tails[j] - heads[j]
        length = np.linalg.norm(axis)
        unit = axis / length
        helper = np.array([0.0, 0.0, 1.0]) if abs(unit[2]) < 0.9 else np.array([1.0, 0.0, 0.0])
        u = np.cross(unit, helper)
        u /= np.linalg.norm(u)
        v = np.cross(unit, u)
        part = name.removeprefix("left_").removeprefix("right_")
        radius = _RADII.get(part, FINGER_RADIUS)
        start = len(verts) // SIDES if verts else 0
        for k, t in enumerate(np.linspace(0.0, 1.0, rings[j])):
            # ring 0 keeps the full radius: its centre is the joint the J_regressor reads
            r = radius if k == 0 else radius * (0.45 + 0.55 * np.sqrt(max(0.0, 1.0 - t**4)))
            centre = heads[j] + t * axis
            ring = centre + r * (np.cos(angles)[:, None] * u + np.sin(angles)[:, None] * v)
            verts.extend(ring)
            owner.extend([j] * SIDES)
        for k in range(rings[j] - 1):
            a = (start + k) * SIDES + np.arange(SIDES)
            b = (start + k) * SIDES + (np.arange(SIDES) + 1) % SIDES
            faces.extend(np.stack([a, b, b + SIDES], 1))
            faces.extend(np.stack([a, b + SIDES, a + SIDES], 1))
        for ring_index, flip in ((start, True), (start + rings[j] - 1, False)):
            base = ring_index * SIDES
            fan = np.stack(
                [np.full(SIDES - 2, base), base + np.arange(1, SIDES - 1), base + np.arange(2, SIDES)], 1
            )
            faces.extend(fan[:, ::-1] if flip else fan)
    return np.array(verts), np.array(faces, dtype=np.int64), np.array(owner)


def _ring_counts(heads: np.ndarray, tails: np.ndarray) -> np.ndarray:
    """Rings per bone (≥ 3), by bone length, summing to NUM_VERTICES / SIDES."""
    total = NUM_VERTICES // SIDES
    lengths = np.linalg.norm(tails - heads, axis=1)
    rings = np.full(NUM_JOINTS, 3)
    extra = lengths / lengths.sum() * (total - rings.sum())
    rings += np.floor(extra).astype(int)
    rings[np.argsort(extra - np.floor(extra))[::-1][: total - rings.sum()]] += 1
    return rings


def _skin_weights(verts: np.ndarray, heads: np.ndarray, tails: np.ndarray, owner: np.ndarray) -> np.ndarray:
    """Weights V×55 by distance to each bone segment, blended over 2 cm near joints."""
    axis = tails - heads
    rel = verts[:, None, :] - heads[None]
    t = np.clip((rel * axis).sum(-1) / (axis * axis).sum(-1), 0.0, 1.0)
    dist = np.linalg.norm(rel - t[..., None] * axis[None], axis=-1)
    nearest = dist[np.arange(len(verts)), owner]
    weights = np.exp(-np.square(np.maximum(dist - nearest[:, None], 0.0) / 0.02))
    weights[dist > nearest[:, None] + 0.04] = 0.0
    return weights / weights.sum(1, keepdims=True)


def _keypoint_targets(tails: np.ndarray) -> dict[str, np.ndarray]:
    """Blender positions of smplx's keypoint vertices, by smplx vertex-id name."""
    index = {n: i for i, n in enumerate(SMPLX_JOINT_NAMES)}
    targets = {name: np.array(p) for name, p in _KEYPOINTS_CENTRE.items()}
    for side, prefix, flip in (("left", "l", 1.0), ("right", "r", -1.0)):
        mirror = np.array([flip, 1.0, 1.0])
        targets[f"{prefix}eye"] = np.array(_KEYPOINTS_LEFT["eye"]) * mirror
        targets[f"{prefix}ear"] = np.array(_KEYPOINTS_LEFT["ear"]) * mirror
        for part in ("BigToe", "SmallToe", "Heel"):
            targets[f"{prefix.upper()}{part}"] = np.array(_KEYPOINTS_LEFT[part]) * mirror
        for finger in ("thumb", "index", "middle", "ring", "pinky"):
            targets[f"{prefix}{finger}"] = tails[index[f"{side}_{finger}3"]]
    return targets


def build_model() -> dict[str, np.ndarray]:
    """The mannequin model's arrays under the key names ``smplx`` loads (SMPL-X Y-up frame)."""
    import smplx.vertex_ids

    bones = smplx_bones()
    heads = np.array([b.head for b in bones])
    tails = np.array([b.tail for b in bones])
    verts, faces, owner = _tube_geometry(heads, tails, _ring_counts(heads, tails))
    weights = _skin_weights(verts, heads, tails, owner)
    regressor = np.zeros((NUM_JOINTS, len(verts)))
    for j in range(NUM_JOINTS):
        first = np.flatnonzero(owner == j)[:SIDES]
        regressor[j, first] = 1.0 / SIDES
    ring_zero = regressor.sum(0) > 0

    # Move the keypoint vertices smplx reads by id onto their anatomical spots (a permutation).
    order = np.arange(len(verts))
    taken: set[int] = set()
    for name, target in _keypoint_targets(tails).items():
        vid = smplx.vertex_ids.vertex_ids["smplx"][name]
        dist = np.linalg.norm(verts[order] - target, axis=1)
        dist[list(taken)] = np.inf
        dist[ring_zero[order]] = np.inf
        src = int(np.argmin(dist))
        order[[vid, src]] = order[[src, vid]]
        taken.add(vid)
    inverse = np.argsort(order)
    verts, weights, owner, regressor = verts[order], weights[order], owner[order], regressor[:, order]
    faces = inverse[faces]

    to_smplx = BLENDER_FROM_SMPLX.T
    v_template = verts @ to_smplx.T
    head_faces = np.flatnonzero((owner[faces] == SMPLX_JOINT_NAMES.index("head")).all(1))
    return {
        "v_template": v_template,
        "f": faces,
        "shapedirs": _shape_directions(v_template, owner),
        "posedirs": np.zeros((len(verts), 3, 486), dtype=np.float32),
        "J_regressor": regressor,
        "kintree_table": np.stack([np.array(SMPLX_PARENTS) % 2**32, np.arange(NUM_JOINTS)]).astype(np.int64),
        "weights": weights,
        "hands_componentsl": np.eye(45),
        "hands_componentsr": np.eye(45),
        "hands_meanl": np.zeros(45),
        "hands_meanr": np.zeros(45),
        "lmk_faces_idx": head_faces[np.linspace(0, len(head_faces) - 1, 51).astype(int)],
        "lmk_bary_coords": np.full((51, 3), 1.0 / 3.0),
    }


def _shape_directions(v_template: np.ndarray, owner: np.ndarray) -> np.ndarray:
    """V×3×20: 10 shape directions (whole-body and per-part scale about the floor), 10 (zero) expressions."""
    names = [n.removeprefix("left_").removeprefix("right_") for n in SMPLX_JOINT_NAMES]
    groups = {
        "arms": {"shoulder", "elbow", "wrist"},
        "legs": {"hip", "knee", "ankle", "foot"},
        "torso": {"pelvis", "spine1", "spine2", "spine3", "collar"},
        "head": {"neck", "head", "jaw", "eye_smplhf"},
    }
    dirs = np.zeros((len(v_template), 3, 20))
    dirs[:, :, 0] = 0.05 * v_template  # overall size
    dirs[:, 1, 1] = 0.05 * v_template[:, 1]  # height
    dirs[:, 0, 2] = 0.05 * v_template[:, 0]  # width
    dirs[:, 2, 3] = 0.05 * v_template[:, 2]  # depth
    for k, members in enumerate(groups.values(), start=4):
        mask = np.isin(np.array(names)[owner], list(members))
        dirs[mask, 0, k] = 0.03 * v_template[mask, 0]
        dirs[mask, 2, k] = 0.03 * v_template[mask, 2]
    fingers = np.array([n.rstrip("123") in ("index", "middle", "ring", "pinky", "thumb") for n in names])[
        owner
    ]
    dirs[fingers, :, 8] = 0.02 * (v_template[fingers] - v_template[fingers].mean(0))
    dirs[np.isin(np.array(names)[owner], list(groups["head"])), 1, 9] = 0.02  # neck length
    return dirs


def default_data_dir() -> Path:
    """Where generated models are cached: ``$STAGECRAFT_DATA_DIR`` or ``~/.cache/stagecraft``."""
    root = os.environ.get("STAGECRAFT_DATA_DIR") or Path.home() / ".cache" / "stagecraft"
    return Path(root) / "mocap"


def mannequin_model_path(data_dir: Path | None = None) -> Path:
    """The cached mannequin model file, generated on first use (keyed by skeleton + version)."""
    key = hashlib.sha256(smplx_joint_positions().tobytes() + bytes([MODEL_VERSION])).hexdigest()[:12]
    directory = Path(data_dir) if data_dir is not None else default_data_dir()
    path = directory / f"SMPLX_MANNEQUIN_{key}.npz"
    if not path.exists():
        directory.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.npz")
        np.savez_compressed(tmp, **build_model())
        os.replace(tmp, path)
    return path
