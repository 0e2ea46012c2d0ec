"""Stable node identity: the ``stagecraft_uuid`` custom property and a uuid -> object index."""

from __future__ import annotations

import json
import re
import uuid as uuid_module

import bpy

from protocols import Conflict, NotFound

UUID_KEY = "stagecraft_uuid"
KIND_KEY = "stagecraft_kind"
SOURCE_KEY = "stagecraft_source"
SPEC_KEY = "stagecraft_spec"
MANNEQUIN_KEY = "stagecraft_body"  # on a mannequin mesh: the UUID of the armature it is the body of
_HEX32 = re.compile(r"[0-9a-f]{32}")


def uuid_of(obj: bpy.types.Object) -> str | None:
    value = obj.get(UUID_KEY)
    return value if isinstance(value, str) else None


def node_uuid(obj: bpy.types.Object) -> str:
    """The UUID of an object known to be a stage node (one the index resolved or created)."""
    value = uuid_of(obj)
    if value is None:
        raise LookupError(f"object {obj.name!r} is not a stage node")
    return value


def part_uuid(asset_uuid: str, imported_name: str) -> str:
    """The deterministic UUID of an object an asset import created."""
    return uuid_module.uuid5(uuid_module.UUID(asset_uuid), imported_name).hex


def tag(obj: bpy.types.Object, uuid: str, kind: str, source: str | None = None) -> None:
    obj[UUID_KEY] = uuid
    obj[KIND_KEY] = kind
    if source is not None:
        obj[SOURCE_KEY] = source


def store_spec(obj: bpy.types.Object, spec: dict) -> None:
    obj[SPEC_KEY] = json.dumps(spec, sort_keys=True)


def load_spec(obj: bpy.types.Object) -> dict | None:
    text = obj.get(SPEC_KEY)
    return json.loads(text) if isinstance(text, str) else None


class Index:
    """Stage nodes by UUID; rebuilt from the custom properties after a reset or load."""

    def __init__(self) -> None:
        self._objects: dict[str, bpy.types.Object] = {}

    def rebuild(self) -> None:
        self._objects = {u: o for o in bpy.data.objects if (u := uuid_of(o)) is not None}

    def add(self, obj: bpy.types.Object) -> None:
        uuid = node_uuid(obj)
        if uuid in self._objects:
            raise Conflict(f"a node with uuid {uuid} already exists", field="uuid")
        self._objects[uuid] = obj

    def discard(self, uuid: str) -> None:
        self._objects.pop(uuid, None)

    def __contains__(self, uuid: str) -> bool:
        return uuid in self._objects

    def get(self, uuid: str) -> bpy.types.Object | None:
        return self._objects.get(uuid)

    def objects(self) -> list[bpy.types.Object]:
        return list(self._objects.values())

    def resolve(self, ref: str, field: str = "node") -> bpy.types.Object:
        """The node named by ``ref``: a UUID, else a node name."""
        if _HEX32.fullmatch(ref) and ref in self._objects:
            return self._objects[ref]
        obj = bpy.data.objects.get(ref)
        if obj is None or uuid_of(obj) is None:
            raise NotFound(f"{field}: no node with uuid or name {ref!r}", field=field)
        return obj

    def check_name_free(self, name: str, owner: bpy.types.Object | None = None) -> None:
        """Names are unique across every object of the scene; Conflict if ``name`` is taken."""
        other = bpy.data.objects.get(name)
        if other is not None and other != owner:
            raise Conflict(f"name {name!r} is already used by another node", field="name")
