"""Asset import (glTF/GLB, FBX, USD, OBJ, .blend) under an asset root node, with stable part UUIDs."""

from __future__ import annotations

import contextlib
import tempfile
from collections.abc import Iterator
from pathlib import Path

import bpy

from protocols import AssetFormat, AssetRef, InvalidArgument

from ._ids import part_uuid, tag
from ._objects import bake_parent_inverse, remove_objects, set_parent

_EXTENSIONS: dict[str, AssetFormat] = {
    ".gltf": "gltf",
    ".glb": "glb",
    ".fbx": "fbx",
    ".usd": "usd",
    ".usda": "usda",
    ".usdc": "usdc",
    ".usdz": "usdz",
    ".obj": "obj",
    ".blend": "blend",
}
_KINDS = {"MESH": "mesh", "CAMERA": "camera", "LIGHT": "light", "ARMATURE": "armature"}
_DATA = (
    "objects", "meshes", "materials", "armatures", "actions", "images", "cameras", "lights",
    "collections", "node_groups", "textures", "curves", "worlds", "libraries",
)  # fmt: skip


def format_of(path: str) -> AssetFormat:
    suffix = Path(path).suffix.lower()
    if suffix not in _EXTENSIONS:
        raise InvalidArgument(
            f"asset {path!r}: unknown file extension {suffix!r}; use one of {', '.join(_EXTENSIONS)}",
            field="asset.path",
        )
    return _EXTENSIONS[suffix]


def kind_of(obj: bpy.types.Object) -> str:
    return _KINDS.get(obj.type, "empty")


def ref_to_dict(ref: AssetRef) -> dict:
    return {"sha256": ref.sha256, "format": ref.format}


def ref_from_dict(data: dict) -> AssetRef:
    return AssetRef(sha256=data["sha256"], format=data["format"])


def import_asset(root: bpy.types.Object, asset_uuid: str, source: Path, fmt: str) -> list[bpy.types.Object]:
    """Import ``source`` as ``fmt``; the new objects become tagged parts under ``root``.

    On the stage server ``source`` is the stage's own .blend conversion of the file (see
    ``_convert``), never a client's file. A file that does not import raises InvalidArgument and
    leaves nothing behind.
    """
    before = _datablocks()
    with tempfile.TemporaryDirectory(prefix="stagecraft-import-") as tmp:
        link = Path(tmp) / f"asset.{fmt}"
        link.symlink_to(source.resolve())
        with _names_parked():
            try:
                run_importer(link, fmt)
            except (RuntimeError, OSError) as exc:
                _remove_new(before)
                raise InvalidArgument(
                    f"asset {source.name} could not be imported as {fmt}: {str(exc).strip()[:300]}",
                    field="asset",
                ) from None
            parts = [o for o in bpy.data.objects if o.session_uid not in before["objects"]]
            raw_names = [o.name for o in parts]
            for i, obj in enumerate(parts):
                obj.name = f"~stagecraft-import-{i}"
    for obj, raw in zip(parts, raw_names, strict=True):
        obj.name = raw
    if not parts:
        _remove_new(before)
        raise InvalidArgument(f"asset {source.name} ({fmt}) contains no objects", field="asset")
    for obj, raw in zip(parts, raw_names, strict=True):
        tag(obj, part_uuid(asset_uuid, raw), kind_of(obj), source=asset_uuid)
        obj.rotation_mode = "QUATERNION"
        if obj.type == "ARMATURE":
            for pose_bone in obj.pose.bones:
                pose_bone.rotation_mode = "QUATERNION"
        bake_parent_inverse(obj)
        if obj.parent is None:
            set_parent(obj, root, None)
    return parts


def run_importer(path: Path, fmt: str) -> None:
    """Run Blender's importer for ``fmt`` on ``path`` (in the converter process only)."""
    if fmt == "blend":
        _append_blend(path)
        return
    if fmt in ("gltf", "glb"):
        result = bpy.ops.import_scene.gltf(filepath=str(path))
    elif fmt == "fbx":
        result = bpy.ops.import_scene.fbx(filepath=str(path))
    elif fmt == "obj":
        result = bpy.ops.wm.obj_import(filepath=str(path))
    else:
        result = bpy.ops.wm.usd_import(filepath=str(path))
    if "FINISHED" not in result:
        raise RuntimeError(f"the importer returned {', '.join(sorted(result))}")


def _append_blend(path: Path) -> None:
    """Append the file's objects (no scripts run) and link them to the scene."""
    with bpy.data.libraries.load(str(path), link=False) as (source, target):
        target.objects = list(source.objects)
    for obj in target.objects:
        if obj is not None and not obj.users_collection:
            bpy.context.scene.collection.objects.link(obj)


@contextlib.contextmanager
def _names_parked() -> Iterator[None]:
    """Rename every existing object out of the way so imported objects keep their file names."""
    parked = [(obj, obj.name) for obj in bpy.data.objects]
    for i, (obj, _) in enumerate(parked):
        obj.name = f"~stagecraft-parked-{i}"
    try:
        yield
    finally:
        for obj, name in parked:
            obj.name = name


def _datablocks() -> dict[str, set[int]]:
    return {name: {block.session_uid for block in getattr(bpy.data, name)} for name in _DATA}


def _remove_new(before: dict[str, set[int]]) -> None:
    """Remove every datablock created since ``before`` (a half-finished import)."""
    remove_objects([o for o in bpy.data.objects if o.session_uid not in before["objects"]])
    for name in _DATA[1:]:
        collection = getattr(bpy.data, name)
        for block in [b for b in collection if b.session_uid not in before[name]]:
            collection.remove(block)
