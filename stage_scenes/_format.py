"""One node table of a stage file (``[[set]]``, ``[[prop]]`` …) → the commands that build it.

Keys are checked here; types and ranges by the protocol's own decoder and dataclasses, whose
ProtocolError is re-raised as a StageFileError naming the key as the file spells it.
"""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path
from typing import Any

import numpy as np

from protocols import (
    ArmatureSpec,
    CameraParams,
    CreateNode,
    Frames,
    InvalidArgument,
    LightParams,
    ProtocolError,
    SetBonePose,
    from_wire,
)

from ._errors import StageFileError
from ._rotations import euler_deg_to_quaternion, look_at_quaternion
from ._smplx import SMPLX_JOINT_NAMES

RIGS = {"smplx": frozenset(SMPLX_JOINT_NAMES)}

_COMMON = frozenset({"name", "parent", "parent_bone", "location", "rotation", "rotation_euler_deg", "scale"})
_MESH_KEYS = ("primitive", "size", "segments")
_CAMERA_KEYS = tuple(f.name for f in dataclasses.fields(CameraParams))
_LIGHT_KEYS = tuple(f.name for f in dataclasses.fields(LightParams))
SECTION_KEYS: dict[str, frozenset[str]] = {
    "set": _COMMON | {*_MESH_KEYS, "material", "asset", "format"},
    "prop": _COMMON | {*_MESH_KEYS, "material", "asset", "format"},
    "character": _COMMON | {"rig", "bones", "body", "pose", "pose_euler_deg"},
    "empty": _COMMON,
    "camera": _COMMON | {"look_at", *_CAMERA_KEYS},
    "light": _COMMON | {"look_at", *_LIGHT_KEYS},
}
# Protocol field paths whose prefix the file leaves out: ``camera.lens`` is written ``lens``.
_FLATTENED = ("transform.", "mesh.", "camera.", "light.", "armature.")


@dataclasses.dataclass(frozen=True)
class NodeEntry:
    """A parsed node: its create command, its pose (characters) and its bones' names."""

    section: str
    create: CreateNode
    pose: SetBonePose | None
    bones: frozenset[str]

    @property
    def name(self) -> str:
        return self.create.name


def parse_node(path: Path, section: str, number: int, table: Any) -> NodeEntry:
    """The node in ``table``, the ``number``-th (from 1) of its ``section``."""
    label = f"[[{section}]] #{number}"
    if not isinstance(table, dict):
        raise StageFileError(path, f"{label} must be a table; write it as [[{section}]]")
    name = table.get("name")
    if isinstance(name, str):
        label = name
    unknown = sorted(set(table) - SECTION_KEYS[section])
    if unknown:
        raise StageFileError(
            path,
            f"unknown key(s) {', '.join(unknown)}; "
            f"a {section} takes {', '.join(sorted(SECTION_KEYS[section]))}",
            node=label,
            key=unknown[0],
        )
    if not isinstance(name, str):
        raise StageFileError(path, f"every {section} needs a name (a string)", node=label, key="name")
    try:
        create = from_wire(CreateNode, _wire(section, table), Frames())
        bones = _bone_names(create.armature)
        pose = _pose(name, table, bones)
    except ProtocolError as exc:
        raise StageFileError(path, exc.message, node=label, key=_file_key(exc.field)) from None
    return NodeEntry(section, create, pose, bones)


def _wire(section: str, table: dict[str, Any]) -> dict[str, Any]:
    """The node as a ``create_node`` map, ready for the protocol decoder."""
    wire: dict[str, Any] = {"name": table["name"], **_pick(table, "parent", "parent_bone")}
    transform = _transform(table)
    if transform:
        wire["transform"] = transform
    if section in ("set", "prop"):
        mesh = _pick(table, *_MESH_KEYS)
        if ("asset" in table) == bool(mesh):
            raise InvalidArgument(
                f"a {section} needs exactly one of primitive (with optional size, segments) or asset",
                field="primitive" if mesh else "asset",
            )
        if "asset" in table:
            wire.update(kind="asset", asset={"path": table["asset"], **_pick(table, "format")})
        elif "format" in table:
            raise InvalidArgument("format is for imported assets, not primitives", field="format")
        else:
            wire.update(kind="mesh", mesh=mesh)
        wire.update(_pick(table, "material"))
    elif section == "character":
        wire.update(kind="armature", armature=_pick(table, "rig", "bones", "body"))
    elif section == "camera":
        wire.update(kind="camera", camera=_pick(table, *_CAMERA_KEYS))
    elif section == "light":
        wire.update(kind="light", light=_pick(table, *_LIGHT_KEYS))
    else:
        wire["kind"] = "empty"
    return wire


def _transform(table: dict[str, Any]) -> dict[str, Any]:
    """``location``/``scale`` as given; one rotation: a quaternion, Euler degrees or ``look_at``."""
    given = [key for key in ("rotation", "rotation_euler_deg", "look_at") if key in table]
    if len(given) > 1:
        raise InvalidArgument(f"give only one of {' or '.join(given)}", field=given[1])
    transform = _pick(table, "location", "scale", "rotation")
    if "rotation_euler_deg" in table:
        transform["rotation"] = euler_deg_to_quaternion(_numbers(table, "rotation_euler_deg", 3))
    elif "look_at" in table:
        location = _numbers(table, "location", 3) if "location" in table else (0.0, 0.0, 0.0)
        transform["rotation"] = look_at_quaternion(location, _numbers(table, "look_at", 3))
    return transform


def _bone_names(armature: ArmatureSpec | None) -> frozenset[str]:
    if armature is None:
        return frozenset()
    if armature.bones is not None:
        return frozenset(bone.name for bone in armature.bones)
    if armature.rig not in RIGS:
        raise InvalidArgument(
            f"unknown rig {armature.rig!r}; known rigs: {', '.join(sorted(RIGS))}", field="armature.rig"
        )
    return RIGS[armature.rig]


def _pose(name: str, table: dict[str, Any], bones: frozenset[str]) -> SetBonePose | None:
    """A character's rest-relative pose: ``pose`` quaternions and ``pose_euler_deg`` angles."""
    rotations: dict[str, tuple[float, ...]] = {}
    for key, count in (("pose", 4), ("pose_euler_deg", 3)):
        entries = table.get(key, {})
        if not isinstance(entries, dict):
            raise InvalidArgument(f"{key} must be a table of bone = rotation", field=key)
        for bone in entries:
            if bone not in bones:
                raise InvalidArgument(f"{key}: the rig has no bone {bone!r}", field=f"{key}.{bone}")
            if bone in rotations:
                raise InvalidArgument(f"bone {bone!r} is posed twice", field=f"{key}.{bone}")
            numbers = _numbers(entries, bone, count, f"{key}.{bone}")
            rotations[bone] = numbers if count == 4 else euler_deg_to_quaternion(numbers)
    if not rotations:
        return None
    return SetBonePose(node=name, bones=tuple(rotations), rotations=np.array(list(rotations.values())))


def _numbers(table: dict[str, Any], key: str, count: int, field: str | None = None) -> tuple[float, ...]:
    value = table[key]
    if (
        not isinstance(value, list)
        or len(value) != count
        or not all(isinstance(v, int | float) and not isinstance(v, bool) for v in value)
        or not all(math.isfinite(v) for v in value)
    ):
        raise InvalidArgument(f"{field or key} must be a list of {count} finite numbers", field=field or key)
    return tuple(float(v) for v in value)


def _pick(table: dict[str, Any], *keys: str) -> dict[str, Any]:
    return {key: table[key] for key in keys if key in table}


def _file_key(field: str | None) -> str | None:
    """A protocol field path (``camera.lens``, ``asset.path``) as the file's key."""
    if field is None:
        return None
    if field.startswith("asset."):
        return "asset" if field == "asset.path" else field.removeprefix("asset.")
    if field == "rotations":
        return "pose"
    for prefix in _FLATTENED:
        if field.startswith(prefix):
            return field.removeprefix(prefix)
    return field
