"""Pure diffs: a node's last known state against its state now, as the stage commands that say so.

No bpy here: NodeState in, typed commands out, so it can be reasoned about (and tested) alone.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from ._vendor.protocols import (
    Batch,
    BonePose,
    CameraParams,
    DeleteNode,
    LightParams,
    MaterialParams,
    NodeState,
    RenameNode,
    SetBonePose,
    SetCamera,
    SetLight,
    SetMaterial,
    SetParent,
    SetTransform,
)

_TRANSFORM = ("location", "rotation", "scale")
_REST = ((1.0, 0.0, 0.0, 0.0), (0.0, 0.0, 0.0))
_PARAMS = {"material": SetMaterial, "camera": SetCamera, "light": SetLight}


# keyed properties, by the curve's path: the NodeState field (and setting) they drive
_ANIMATED_SETTINGS = {
    "data.lens": "lens",
    "data.dof.focus_distance": "focus_distance",
    "data.dof.aperture_fstop": "fstop",
}


def without_animated(known: NodeState, now: NodeState) -> NodeState:
    """``now`` with every keyed property as ``known`` has it.

    Playing or scrubbing the timeline moves keyed values; that is the animation playing, not an
    artist's edit, and must never be sent to the stage (where setting a keyed focus by hand
    would end a rack focus for everyone).
    """
    paths = {curve.path for curve in now.animation or ()}
    if not paths:
        return now
    changes: dict[str, object] = {}
    if paths & {"location", "rotation_quaternion", "rotation_euler", "rotation_axis_angle", "scale"}:
        changes["transform"] = known.transform
    if any(path.startswith("pose.bones[") for path in paths):
        changes["pose"] = known.pose
    keyed = {_ANIMATED_SETTINGS[p] for p in paths if p in _ANIMATED_SETTINGS}
    if keyed and now.camera is not None and known.camera is not None:
        changes["camera"] = dataclasses.replace(now.camera, **{f: getattr(known.camera, f) for f in keyed})
    return dataclasses.replace(now, **changes)


def local_changes(known: NodeState, now: NodeState) -> list[object]:
    """The commands that take the stage's ``known`` state of a node to ``now`` (keyed properties
    left out: see ``without_animated``)."""
    now = without_animated(known, now)
    node = now.uuid
    commands: list[object] = []
    if now.name != known.name:
        commands.append(RenameNode(node=node, name=now.name))
    t = now.transform
    if (now.parent, now.parent_bone) != (known.parent, known.parent_bone):
        commands.append(SetParent(node=node, parent=now.parent, bone=now.parent_bone, keep_world=False))
        commands.append(SetTransform(node=node, location=t.location, rotation=t.rotation, scale=t.scale))
    elif t != known.transform:
        old = known.transform
        changed = {f: getattr(t, f) for f in _TRANSFORM if getattr(t, f) != getattr(old, f)}
        commands.append(SetTransform(node=node, **changed))
    for field, command in _PARAMS.items():
        params = changed_params(getattr(known, field), getattr(now, field))
        if params is not None:
            commands.append(command(node, params))
    if now.pose != known.pose:
        pose = changed_bones(known.pose, now.pose)
        if pose is not None:
            commands.append(
                SetBonePose(node=node, bones=pose.bones, rotations=pose.rotations, locations=pose.locations)
            )
    return commands


Params = MaterialParams | CameraParams | LightParams


def changed_params(old: Params | None, new: Params | None) -> Params | None:
    """``new``'s fields that differ from ``old`` (None when nothing did)."""
    if new is None:
        return None
    changed = {
        f.name: value
        for f in dataclasses.fields(new)
        if (value := getattr(new, f.name)) is not None and (old is None or getattr(old, f.name) != value)
    }
    return type(new)(**changed) if changed else None


def changed_bones(old: BonePose | None, new: BonePose | None) -> BonePose | None:
    """The bones whose rotation or location differ; a bone back at rest is sent as rest."""
    before, after = _bone_map(old), _bone_map(new)
    candidates = [*after, *(b for b in before if b not in after)]
    names = [n for n in candidates if before.get(n, _REST) != after.get(n, _REST)]
    if not names:
        return None
    rotations = np.array([after.get(n, _REST)[0] for n in names], dtype=np.float64)
    locations = np.array([after.get(n, _REST)[1] for n in names], dtype=np.float64)
    return BonePose(bones=tuple(names), rotations=rotations, locations=locations)


def _bone_map(pose: BonePose | None) -> dict[str, tuple[tuple[float, ...], tuple[float, ...]]]:
    if pose is None:
        return {}
    locations = pose.locations if pose.locations is not None else np.zeros((len(pose.bones), 3))
    return {
        name: (tuple(float(v) for v in rotation), tuple(float(v) for v in location))
        for name, rotation, location in zip(pose.bones, pose.rotations, locations, strict=True)
    }


def edited_fields(command: object) -> dict[str, set[str]]:
    """Node UUID -> the fields a command changes (``location``, ``material.roughness``, ``pose`` …)."""
    if isinstance(command, Batch):
        merged: dict[str, set[str]] = {}
        for sub in command.commands:
            for node, fields in edited_fields(sub).items():
                merged.setdefault(node, set()).update(fields)
        return merged
    node = getattr(command, "node", None) or getattr(command, "uuid", None)
    if node is None:
        return {}
    if isinstance(command, SetTransform):
        fields = {f for f in ("location", "rotation", "scale") if getattr(command, f) is not None}
    elif isinstance(command, SetMaterial | SetCamera | SetLight):
        group = {SetMaterial: "material", SetCamera: "camera", SetLight: "light"}[type(command)]
        params = getattr(command, group)
        fields = {
            f"{group}.{f.name}" for f in dataclasses.fields(params) if getattr(params, f.name) is not None
        }
    elif isinstance(command, SetBonePose):
        fields = {f"pose.{bone}" for bone in command.bones}
    elif isinstance(command, SetParent):
        fields = {"parent"}
    elif isinstance(command, RenameNode):
        fields = {"name"}
    elif isinstance(command, DeleteNode):
        fields = {"*"}
    else:
        fields = {type(command).__name__}
    return {node: fields}
