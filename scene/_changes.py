"""What a command did to the stage, read back as an ``EventResult`` once it has run.

Handlers note what they created, deleted and changed (by section: ``transform``, ``camera`` …);
the result reads those sections' new values from the scene, with the world matrix of every
node whose placement may have moved (the changed node and everything under it).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable
from typing import Any, Literal

import bpy

from protocols import EventResult, NodeChange

from . import _animation, _armature, _camera, _light, _material, _settings, _state
from ._ids import node_uuid, uuid_of
from ._objects import Family, parent_of, read_transform
from ._world import WorldMatrices

Section = Literal["name", "parent", "transform", "material", "camera", "light", "pose", "animation"]
MOVES: frozenset[Section] = frozenset({"parent", "transform", "pose"})  # what moves a subtree


class Changes:
    """The nodes one command (or batch) created, deleted and changed, in order."""

    def __init__(self) -> None:
        self.created: dict[str, None] = {}
        self.deleted: dict[str, None] = {}
        self.changed: dict[str, set[Section]] = {}
        self.keyed: dict[str, dict[tuple[str, int], set[float]]] = {}  # uuid -> curve -> frames
        self.scene = False

    def create(self, uuids: Iterable[str]) -> None:
        self.created.update(dict.fromkeys(uuids))

    def delete(self, uuids: Iterable[str]) -> None:
        for uuid in uuids:
            if uuid in self.created:  # made and removed by the same batch: the stage never had it
                del self.created[uuid]
            else:
                self.deleted[uuid] = None
            self.changed.pop(uuid, None)

    def change(self, uuid: str, *sections: Section) -> None:
        self.changed.setdefault(uuid, set()).update(sections)

    def key(self, uuid: str, path: str, index: int, frames) -> None:
        """The command keyed curve (``path``, ``index``) of node ``uuid`` at ``frames``."""
        self.changed.setdefault(uuid, set())
        curve = self.keyed.setdefault(uuid, {}).setdefault((path, index), set())
        curve.update(float(f) for f in frames)

    def result(self, lookup: Any, family: Callable[[], Family]) -> EventResult:
        """The stage's new state for every noted node (``lookup``: uuid -> object or None;
        ``family``: who is whose child, read only if a noted node moved)."""
        worlds = WorldMatrices()
        created = tuple(
            _state.dump(obj, worlds) for uuid in self.created if (obj := lookup(uuid)) is not None
        )
        changes: dict[str, NodeChange] = {}
        moved: list[bpy.types.Object] = []
        for uuid, sections in self.changed.items():
            obj = lookup(uuid)
            if obj is None or uuid in self.created:
                continue
            changes[uuid] = node_change(obj, sections, worlds)
            if uuid in self.keyed and "animation" not in sections:  # the keys set, not all of them
                keyed = _animation.read_keys(obj, self.keyed[uuid])
                changes[uuid] = dataclasses.replace(changes[uuid], keyed=keyed)
            if sections & MOVES:
                moved.extend(family().children.get(obj.session_uid, ()))
        while moved:  # descendants: a new world matrix only
            child = moved.pop()
            part = uuid_of(child)  # a node, and not one deleted by this command
            if part is not None and lookup(part) is child and part not in self.created:
                known = changes.get(part)
                if known is None:
                    changes[part] = NodeChange(uuid=part, world=worlds.of(child))
                elif known.world is None:
                    changes[part] = dataclasses.replace(known, world=worlds.of(child))
            moved.extend(family().children.get(child.session_uid, ()))
        return EventResult(
            created=created,
            changed=tuple(changes.values()),
            deleted=tuple(self.deleted),
            scene=_settings.read_settings() if self.scene else None,
        )


def node_change(obj: bpy.types.Object, sections: set[Section], worlds: WorldMatrices) -> NodeChange:
    """The named sections of ``obj`` as they are now (and its world matrix if it may have moved)."""
    fields: dict[str, Any] = {}
    cleared: list[str] = []

    def put(name: str, value: Any) -> None:
        if value is None:
            cleared.append(name)
        else:
            fields[name] = value

    if "name" in sections:
        fields["name"] = obj.name
    if "parent" in sections:
        parent, bone = parent_of(obj)
        put("parent", parent)
        put("parent_bone", bone)
    if "transform" in sections or "parent" in sections:
        fields["transform"] = read_transform(obj)
    if sections & MOVES:
        fields["world"] = worlds.of(obj)
    if "material" in sections:
        fields["material"] = _material.read_material(obj)
    if "camera" in sections:
        fields["camera"] = _camera.read_camera(obj)
    if "light" in sections:
        fields["light"] = _light.read_light(obj)
    if "pose" in sections:
        put("pose", _armature.read_pose(obj))
    if "animation" in sections:
        put("animation", _animation.read_curves(obj))
    return NodeChange(uuid=node_uuid(obj), cleared=tuple(cleared), **fields)


def animated_sections(obj: bpy.types.Object) -> tuple[Section, ...]:
    """What of ``obj`` its keyframes set when the frame changes (nothing if it has none)."""
    sections: list[Section] = []
    if obj.animation_data is not None and obj.animation_data.action is not None:
        sections.append("transform")
        if obj.type == "ARMATURE":
            sections.append("pose")
    data = obj.data
    if obj.type == "CAMERA" and data.animation_data is not None and data.animation_data.action is not None:
        sections.append("camera")
    return tuple(sections)
