"""The motion clip asset, its retargeting onto stage armatures, baking, and export.

A clip is SMPL-X parameters in the AMASS layout: ``trans`` T×3, ``poses`` T×165 (55 axis-angle
joints, flat-hand rest), ``betas``, ``mocap_framerate``, ``gender``, in SMPL-X's Y-up world with
the floor at y = 0. Baking turns each frame into stage bone-local quaternions: a joint's world
rotation ``G`` (SMPL-X frame) is ``D = M·G·Mᵀ`` in Blender's frame (``M``: +90° about X); a
bone with rest axes ``C`` under a parent turned by ``D_p`` gets ``P = Cᵀ·D_pᵀ·D·C``. Other
rigs first turn each bone's rest direction onto the SMPL-X bone's (the rest-pose correction).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from protocols import (
    Batch,
    BoneSpec,
    Command,
    InvalidArgument,
    NodeState,
    SceneSettings,
    SetBonePose,
    SetFrameRange,
    StageClient,
)
from stage_scenes import SMPLX_JOINT_NAMES, SMPLX_PARENTS, smplx_bones

from ._mannequin_model import BLENDER_FROM_SMPLX
from ._rotations import align, matrix_to_quaternion, rotvec_to_matrix

_MIXAMO_BODY = {
    "pelvis": "Hips", "spine1": "Spine", "spine2": "Spine1", "spine3": "Spine2", "neck": "Neck",
    "head": "Head",
}  # fmt: skip
_MIXAMO_SIDE = {
    "collar": "Shoulder", "shoulder": "Arm", "elbow": "ForeArm", "wrist": "Hand", "hip": "UpLeg",
    "knee": "Leg", "ankle": "Foot", "foot": "ToeBase",
}  # fmt: skip
# SMPL-X joint name → Mixamo bone name.
MIXAMO_BONE_MAP: dict[str, str] = {
    **{k: f"mixamorig:{v}" for k, v in _MIXAMO_BODY.items()},
    **{
        f"{side}_{k}": f"mixamorig:{side.title()}{v}"
        for side in ("left", "right")
        for k, v in _MIXAMO_SIDE.items()
    },
    **{
        f"{side}_{finger}{i}": f"mixamorig:{side.title()}Hand{finger.title()}{i}"
        for side in ("left", "right")
        for finger in ("thumb", "index", "middle", "ring", "pinky")
        for i in (1, 2, 3)
    },
}
FRAMES_PER_BATCH = 20


@dataclass(frozen=True)
class MotionClip:
    """SMPL-X motion: ``trans`` T×3, ``poses`` T×165, ``betas`` (B,), ``fps``, ``gender``."""

    trans: np.ndarray
    poses: np.ndarray
    betas: np.ndarray
    fps: float
    gender: str = "neutral"

    def __post_init__(self) -> None:
        frames = len(self.trans)
        if frames < 1 or self.trans.shape != (frames, 3) or self.poses.shape != (frames, 165):
            raise InvalidArgument(
                f"clip needs trans T×3 and poses T×165, got {self.trans.shape} and {self.poses.shape}",
                field="clip",
            )
        if not (np.isfinite(self.trans).all() and np.isfinite(self.poses).all()):
            raise InvalidArgument("clip holds non-finite values", field="clip")
        if not 0 < self.fps <= 240:
            raise InvalidArgument(f"clip frame rate {self.fps} is outside (0, 240]", field="fps")

    @property
    def frames(self) -> int:
        return len(self.trans)

    def save(self, path: Path) -> Path:
        np.savez(
            path, trans=self.trans, poses=self.poses, betas=self.betas,
            mocap_framerate=np.float64(self.fps), gender=np.array(self.gender), up_axis=np.array("y"),
        )  # fmt: skip
        return Path(path)

    @classmethod
    def load(cls, path: Path) -> MotionClip:
        with np.load(path) as data:
            return cls(
                trans=data["trans"], poses=data["poses"], betas=data["betas"],
                fps=float(data["mocap_framerate"]), gender=str(data["gender"]),
            )  # fmt: skip


def bone_rest_matrix(bone: BoneSpec) -> np.ndarray:
    """A bone's rest axes (3×3 columns X, Y, Z) in armature space: Y along the bone, then ``roll``."""
    y = np.subtract(bone.tail, bone.head)
    y = y / np.linalg.norm(y)
    return rotvec_to_matrix(y * bone.roll) @ align(np.array([0.0, 1.0, 0.0]), y)


def world_rotations(poses: np.ndarray) -> np.ndarray:
    """SMPL-X joint world rotations T×55×3×3 from axis-angle T×165 (the SMPL-X frame)."""
    local = rotvec_to_matrix(poses.reshape(len(poses), 55, 3))
    world = np.empty_like(local)
    for j, parent in enumerate(SMPLX_PARENTS):
        world[:, j] = local[:, j] if parent < 0 else world[:, parent] @ local[:, j]
    return world


def choose_bone_map(bones: tuple[BoneSpec, ...]) -> dict[str, str]:
    """SMPL-X → target bone names: the SMPL-X names themselves, or Mixamo's."""
    names = {b.name for b in bones}
    if set(SMPLX_JOINT_NAMES) <= names:
        return {n: n for n in SMPLX_JOINT_NAMES}
    if "mixamorig:Hips" in names:
        return {k: v for k, v in MIXAMO_BONE_MAP.items() if v in names}
    raise InvalidArgument(
        "the character's bones are neither SMPL-X nor Mixamo (mixamorig:…) names; no bone map fits",
        field="character",
    )


def retarget(
    clip: MotionClip,
    bones: tuple[BoneSpec, ...],
    bone_map: dict[str, str],
    rest_pelvis: np.ndarray,
    rest_floor: float,
) -> tuple[tuple[str, ...], np.ndarray, str, np.ndarray]:
    """Bone-local rotations for every frame.

    ``rest_pelvis``: the model's rest pelvis joint (3,) and ``rest_floor`` its rest soles' height,
    SMPL-X frame (the root moves scaled by the rigs' hip-height ratio). Returns (bone names B,
    quaternions T×B×4, root bone name, root bone locations T×3).
    """
    m = BLENDER_FROM_SMPLX
    delta = m @ world_rotations(clip.poses) @ m.T  # T×55×3×3, Blender frame
    source = {b.name: np.subtract(b.tail, b.head) for b in smplx_bones()}
    joint_of = {target: SMPLX_JOINT_NAMES.index(src) for src, target in bone_map.items()}
    turned: dict[str, np.ndarray] = {}
    identity = np.broadcast_to(np.eye(3), delta[:, 0].shape)
    names, quats = [], []
    for bone in bones:
        rest = bone_rest_matrix(bone)
        parent = turned[bone.parent] if bone.parent is not None else identity
        if bone.name in joint_of:
            src = SMPLX_JOINT_NAMES[joint_of[bone.name]]
            correction = align(np.subtract(bone.tail, bone.head), source[src])
            turned[bone.name] = delta[:, joint_of[bone.name]] @ correction
            names.append(bone.name)
            quats.append(
                matrix_to_quaternion(rest.T @ np.swapaxes(parent, -1, -2) @ turned[bone.name] @ rest)
            )
        else:
            turned[bone.name] = parent
    root = bone_map["pelvis"]
    root_bone = next(b for b in bones if b.name == root)
    head = np.array(root_bone.head)
    scale = head[2] / (rest_pelvis[1] - rest_floor)
    pelvis = (clip.trans + rest_pelvis) @ m.T * scale  # T×3 Blender
    locations = (pelvis - head) @ bone_rest_matrix(root_bone)  # Cᵀ·Δ for each frame
    return tuple(names), np.stack(quats, 1), root, locations


def bake_commands(node: str, clip: MotionClip, names, quats, root: str, locations) -> list[Batch]:
    """Batches keying every frame (1…T): all mapped bones, then the root with its location."""
    root_index = names.index(root)
    commands: list[Command] = [SetFrameRange(start=1, end=clip.frames, fps=max(1, round(clip.fps)))]
    for t in range(clip.frames):
        commands.append(SetBonePose(node=node, bones=names, rotations=quats[t], keyframe=t + 1))
        commands.append(
            SetBonePose(
                node=node,
                bones=(root,),
                rotations=quats[t, root_index : root_index + 1],
                locations=locations[t : t + 1],
                keyframe=t + 1,
            )
        )
    step = 2 * FRAMES_PER_BATCH
    return [Batch(commands=tuple(commands[i : i + step])) for i in range(0, len(commands), step)]


def check_character(state: NodeState) -> NodeState:
    """``state`` if it is an armature whose bones a bone map fits; otherwise a clear error."""
    if state.kind != "armature" or state.armature is None or state.armature.bones is None:
        raise InvalidArgument(
            f"node {state.name!r} is a {state.kind}, not a character armature", field="character"
        )
    choose_bone_map(state.armature.bones)
    return state


def character_subtree(nodes: tuple[NodeState, ...], uuid: str) -> tuple[NodeState, ...]:
    """The character ``uuid`` and everything parented under it (props in its hands), parents first."""
    kept = {uuid}
    found = [n for n in nodes if n.uuid == uuid]
    grew = True
    while grew:
        grew = False
        for node in nodes:
            if node.uuid not in kept and node.parent in kept:
                kept.add(node.uuid)
                found.append(node)
                grew = True
    return tuple(found)


def bake(
    stage: StageClient, clip: MotionClip, character: str, rest_pelvis: np.ndarray, rest_floor: float
) -> tuple[NodeState, list[Batch]]:
    """Key ``clip`` onto the stage armature ``character``; returns its state before and the batches sent."""
    state = check_character(stage.node(character))
    bones = state.armature.bones if state.armature is not None else None
    assert bones is not None  # check_character saw them
    names, quats, root, locations = retarget(clip, bones, choose_bone_map(bones), rest_pelvis, rest_floor)
    batches = bake_commands(state.uuid, clip, names, quats, root, locations)
    for batch in batches:
        stage.apply(batch)
    return state, batches


def local_character(
    nodes: tuple[NodeState, ...], batches: list[Batch], assets: Path, fetch: Callable[[str], bytes]
):
    """This process's own bpy scene holding ``nodes`` (a character and its props) keyed by ``batches``.

    Returns the local ``Stage``; asset blobs come from ``fetch``. It runs in the caller's bpy (an
    agent process), never on the stage thread.
    """
    from scene import AssetStore, Stage

    local = Stage(AssetStore(assets))
    local.rebuild(SceneSettings(), nodes, fetch)
    for batch in batches:
        local.apply(batch)
    return local


def export_character(
    nodes: tuple[NodeState, ...], batches: list[Batch], path: Path, fetch: Callable[[str], bytes]
) -> Path:
    """Export the character ``nodes[0]`` keyed by ``batches``, its body and its props, with its animation.

    ``.glb`` / ``.gltf`` → glTF; ``.fbx`` → FBX limited to armature / mesh / empty objects. The
    scene runs at the clip's frame rate, so the file does too.
    """
    import tempfile

    import bpy

    path = Path(path)
    if path.suffix not in (".glb", ".gltf", ".fbx"):
        raise InvalidArgument(f"export path {str(path)!r} must end in .glb, .gltf or .fbx", field="path")
    with tempfile.TemporaryDirectory(prefix="stagecraft-export-") as scratch:
        local_character(nodes, batches, Path(scratch), fetch)
        armature = bpy.data.objects[nodes[0].name]
        wanted = {armature, *armature.children_recursive}
        for obj in bpy.data.objects:
            obj.hide_select = False  # the stage keeps bodies unselectable; the exporter takes the selection
            obj.select_set(obj in wanted)
        bpy.context.view_layer.objects.active = armature
        if path.suffix == ".fbx":
            bpy.ops.export_scene.fbx(
                filepath=str(path), use_selection=True, object_types={"ARMATURE", "MESH", "EMPTY"},
                bake_anim=True, add_leaf_bones=False,
            )  # fmt: skip
        else:
            bpy.ops.export_scene.gltf(
                filepath=str(path), use_selection=True, export_animations=True,
                export_format="GLB" if path.suffix == ".glb" else "GLTF_SEPARATE",
            )  # fmt: skip
    return path
