"""The check every command passes before it commits: what it stored can be read back and replayed.

A command is journaled only if the resolved command survives the wire unchanged (replay decodes
and applies exactly it) and every node it touched can still be described (``get_node``,
snapshots and late joiners read them). Anything else is refused and rolled back, so the stage
never acknowledges a value it cannot serve or replay. A node the command created is dumped
whole; a node it changed has its transform and the settings of its kind read back (cheap: the
rig spec of a character is not re-read for every move).
"""

from __future__ import annotations

import math
from collections.abc import Callable

import bpy

from protocols import (
    Batch,
    CreateNode,
    Frames,
    InvalidArgument,
    ProtocolError,
    SetBonePose,
    from_wire,
    to_wire,
)

from . import _armature, _camera, _light, _material, _state
from ._ids import Index
from ._objects import read_transform

_READ_BACK: dict[str, Callable[[bpy.types.Object], object]] = {
    "CAMERA": _camera.read_camera,
    "LIGHT": _light.read_light,
    "MESH": _material.read_material,
}


def check_storable(
    command: object, touched: tuple[str, ...], index: Index, *, read_back: bool = True
) -> None:
    """Raise InvalidArgument unless ``command`` round-trips and (``read_back``) every touched node
    reads back; a caller that reads the nodes back itself (the event's result) leaves that out."""
    try:
        frames = Frames()
        again = from_wire(type(command), to_wire(command, frames), frames)
    except ProtocolError as exc:
        raise InvalidArgument(f"the command as it would be journaled is not valid: {exc.message}") from None
    if again != command:
        raise InvalidArgument(
            f"{getattr(command, 'TYPE', type(command).__name__)} would not replay exactly as applied "
            "(a value changes on the way through the wire)"
        )
    if not read_back:
        return
    parts = command.commands if isinstance(command, Batch) else (command,)
    created = {c.uuid for c in parts if isinstance(c, CreateNode)}
    posed = {c.node for c in parts if isinstance(c, SetBonePose)}
    for uuid in touched:
        obj = index.get(uuid)
        if obj is None:  # deleted by this command
            continue
        try:
            if uuid in created:
                _state.dump(obj)
                continue
            transform = read_transform(obj)
            if not all(math.isfinite(v) for v in (*transform.location, *transform.scale)):
                raise InvalidArgument("its transform is not finite in Blender's 32-bit floats")
            reader = _READ_BACK.get(obj.type)
            if reader is not None:
                reader(obj)
            if uuid in posed:
                _armature.read_pose(obj)
        except ProtocolError as exc:
            raise InvalidArgument(
                f"node {obj.name!r} would hold a value the stage cannot describe: {exc.message}"
            ) from None
