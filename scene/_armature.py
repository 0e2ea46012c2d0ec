"""Armatures: bones from an ArmatureSpec, named rigs, poses, keyframes, the mannequin body."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import bpy
import numpy as np
from mathutils import Vector

from protocols import ArmatureSpec, BonePose, BoneSpec, InvalidArgument, NotFound

from ._ids import MANNEQUIN_KEY
from ._objects import new_object, rotation_of, rounded, set_rotation

KNOWN_RIGS = ("smplx",)


def expand_rig(spec: ArmatureSpec) -> ArmatureSpec:
    """``spec`` with a named rig replaced by its explicit bones."""
    if spec.rig is None:
        return spec
    if spec.rig != "smplx":
        raise InvalidArgument(
            f"unknown rig {spec.rig!r}; known rigs: {', '.join(KNOWN_RIGS)}", field="armature.rig"
        )
    from stage_scenes import smplx_bones

    return ArmatureSpec(bones=tuple(smplx_bones()), body=spec.body)


def spec_to_dict(spec: ArmatureSpec) -> dict:
    assert spec.bones is not None, "expand_rig gives every armature its bones"
    bones = [
        {"name": b.name, "head": b.head, "tail": b.tail, "parent": b.parent, "roll": b.roll}
        for b in spec.bones
    ]
    return {"bones": bones, "body": spec.body}


def spec_from_dict(data: dict) -> ArmatureSpec:
    bones = tuple(
        BoneSpec(
            name=b["name"], head=tuple(b["head"]), tail=tuple(b["tail"]), parent=b["parent"], roll=b["roll"]
        )
        for b in data["bones"]
    )
    return ArmatureSpec(bones=bones, body=data["body"])


@contextlib.contextmanager
def edit_mode(obj: bpy.types.Object) -> Iterator[None]:
    """Make ``obj`` active and enter edit mode; restore object mode and the old active object."""
    view_layer = bpy.context.view_layer
    previous = view_layer.objects.active
    view_layer.objects.active = obj
    bpy.ops.object.mode_set(mode="EDIT")
    try:
        yield
    finally:
        bpy.ops.object.mode_set(mode="OBJECT")
        view_layer.objects.active = previous


def build_armature(name: str, spec: ArmatureSpec) -> bpy.types.Object:
    """An armature object (linked to the scene) with ``spec``'s bones in rest pose."""
    data = bpy.data.armatures.new(name)
    obj = new_object(name, data)
    assert spec.bones is not None, "expand_rig gives every armature its bones"
    with edit_mode(obj):
        for bone in spec.bones:
            edit = data.edit_bones.new(bone.name)
            edit.head, edit.tail, edit.roll = bone.head, bone.tail, bone.roll
            if bone.parent is not None:
                edit.parent = data.edit_bones[bone.parent]
    for pose_bone in obj.pose.bones:
        pose_bone.rotation_mode = "QUATERNION"
    return obj


def check_bones(obj: bpy.types.Object, bones: tuple[str, ...]) -> None:
    if obj.type != "ARMATURE":
        raise InvalidArgument(f"node {obj.name!r} is not an armature", field="node")
    missing = [b for b in bones if b not in obj.pose.bones]
    if missing:
        raise NotFound(f"armature {obj.name!r} has no bone(s) {', '.join(map(repr, missing))}", field="bones")


def apply_pose(obj: bpy.types.Object, bones, rotations, locations, *, reset: bool) -> None:
    """Set pose bones' local rotations (w, x, y, z) and locations; ``reset`` clears the rest first."""
    if reset:
        for pose_bone in obj.pose.bones:
            set_rotation(pose_bone, (1.0, 0.0, 0.0, 0.0))
            pose_bone.location = (0.0, 0.0, 0.0)
    if not bones:
        return
    rotations = np.asarray(rotations, dtype=np.float64)
    rotations = rotations / np.linalg.norm(rotations, axis=1, keepdims=True)
    for i, name in enumerate(bones):
        set_rotation(obj.pose.bones[name], tuple(rotations[i]))
        pose_bone = obj.pose.bones[name]
        if locations is not None:
            pose_bone.location = tuple(locations[i])


def read_pose(obj: bpy.types.Object) -> BonePose | None:
    """Bones whose pose differs from rest (None when at rest)."""
    names, rotations, locations = [], [], []
    for pose_bone in obj.pose.bones:
        rotation = rounded(rotation_of(pose_bone))
        location = rounded(pose_bone.location)
        if rotation != (1.0, 0.0, 0.0, 0.0) or location != (0.0, 0.0, 0.0):
            names.append(pose_bone.name)
            rotations.append(rotation)
            locations.append(location)
    if not names:
        return None
    loc = np.array(locations) if np.any(locations) else None
    return BonePose(bones=tuple(names), rotations=np.array(rotations), locations=loc)


def insert_keyframes(obj: bpy.types.Object, bones, frame: int, with_location: bool) -> None:
    for name in bones:
        pose_bone = obj.pose.bones[name]
        if pose_bone.rotation_mode != "QUATERNION":  # the keys are quaternion curves
            rotation = rotation_of(pose_bone)
            pose_bone.rotation_mode = "QUATERNION"
            pose_bone.rotation_quaternion = rotation
        pose_bone.keyframe_insert("rotation_quaternion", frame=frame, group=name)
        if with_location:
            pose_bone.keyframe_insert("location", frame=frame, group=name)


def guard_action(obj: bpy.types.Object, undo) -> None:
    """Register with ``undo`` how to put back ``obj``'s action as it is now."""
    anim = obj.animation_data
    action = anim.action if anim is not None else None
    if action is None:
        had_anim = anim is not None

        def clear() -> None:
            created = obj.animation_data.action if obj.animation_data else None
            if had_anim:
                obj.animation_data.action = None
            else:
                obj.animation_data_clear()
            if created is not None and created.users == 0:
                bpy.data.actions.remove(created)

        undo.on_undo(clear)
        return
    backup, name = action.copy(), action.name
    slot = anim.action_slot.identifier if anim.action_slot else None

    def restore() -> None:
        bpy.data.actions.remove(action)
        backup.name = name
        obj.animation_data.action = backup
        if slot is not None:
            obj.animation_data.action_slot = backup.slots[slot]

    undo.on_undo(restore)
    undo.on_commit(lambda: bpy.data.actions.remove(backup))


# Mannequin thickness (metres) by SMPL-X bone name; other bones get 15 % of their length.
BODY_RADII = {
    "pelvis": 0.12, "spine1": 0.115, "spine2": 0.12, "spine3": 0.13, "neck": 0.05, "head": 0.095,
    "collar": 0.045, "shoulder": 0.048, "elbow": 0.04, "wrist": 0.035, "hip": 0.075, "knee": 0.055,
    "ankle": 0.045, "foot": 0.04, "jaw": 0.0, "eye_smplhf": 0.0,
}  # fmt: skip
FINGER_RADIUS = 0.009
SIDES = 12
PROFILE = (0.0, 0.08, 0.25, 0.5, 0.75, 0.92, 1.0)  # rings along the bone, as a fraction of its length


def body_radius(bone_name: str, length: float) -> float:
    """How thick the mannequin is around ``bone_name`` (0: no geometry for that bone)."""
    part = bone_name.removeprefix("left_").removeprefix("right_")
    if part in BODY_RADII:
        return BODY_RADII[part]
    if part.rstrip("123") in ("index", "middle", "ring", "pinky", "thumb"):
        return FINGER_RADIUS
    return min(max(0.15 * length, 0.01), 0.07)


def build_body(armature: bpy.types.Object, uuid: str) -> bpy.types.Object:
    """A mannequin: a rounded capsule per bone, weighted 1.0 to it, deformed by the armature."""
    verts: list[tuple[float, ...]] = []
    faces: list[tuple[int, ...]] = []
    groups: list[tuple[str, range]] = []
    for bone in armature.data.bones:
        length = bone.length
        radius = body_radius(bone.name, length)
        if radius <= 0.0:
            continue
        start = len(verts)
        for t in PROFILE:
            r = radius * (0.35 + 0.65 * np.sqrt(max(0.0, 1.0 - (2.0 * t - 1.0) ** 4)))
            for k in range(SIDES):
                angle = 2 * np.pi * k / SIDES
                local = (r * np.cos(angle), t * length, r * np.sin(angle), 1.0)
                verts.append(tuple((bone.matrix_local @ Vector(local))[:3]))
        for ring in range(len(PROFILE) - 1):
            for k in range(SIDES):
                a = start + ring * SIDES + k
                b = start + ring * SIDES + (k + 1) % SIDES
                faces.append((a, b, b + SIDES, a + SIDES))
        faces.append(tuple(start + k for k in reversed(range(SIDES))))
        faces.append(tuple(start + (len(PROFILE) - 1) * SIDES + k for k in range(SIDES)))
        groups.append((bone.name, range(start, len(verts))))
    mesh = bpy.data.meshes.new(f"body.{uuid}")
    mesh.from_pydata(verts, [], faces)
    mesh.shade_smooth()
    body = new_object(f"body.{uuid}", mesh)
    body[MANNEQUIN_KEY] = uuid
    body.parent = armature
    body.hide_select = True
    for name, indices in groups:
        body.vertex_groups.new(name=name).add(list(indices), 1.0, "REPLACE")
    modifier = body.modifiers.new("Armature", "ARMATURE")
    modifier.object = armature
    return body
