"""NodeState <-> bpy objects: dump a node, create one from a spec, restore one in place."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TypeVar

import bpy

from protocols import ArmatureSpec, AssetRef, CameraParams, Internal, InvalidArgument, NodeState, TreeNode

from . import _animation, _armature, _assets, _camera, _light, _material, _mesh
from ._ids import KIND_KEY, SOURCE_KEY, Index, load_spec, node_uuid, store_spec, tag, uuid_of
from ._objects import apply_transform, new_object, parent_of, read_transform, remove_objects, set_parent
from ._world import WorldMatrices

_T = TypeVar("_T")
ImportPath = Callable[[AssetRef], tuple[Path, str]]  # an asset -> the file its import reads, its format


def dump(obj: bpy.types.Object, worlds: WorldMatrices | None = None) -> NodeState:
    """The node's whole state (``worlds``: matrices already worked out for this read)."""
    kind = obj[KIND_KEY]
    source = obj.get(SOURCE_KEY)
    spec = load_spec(obj)
    parent, bone = parent_of(obj)
    return NodeState(
        uuid=node_uuid(obj),
        name=obj.name,
        kind=kind,
        transform=read_transform(obj),
        world=(worlds or WorldMatrices()).of(obj),
        parent=parent,
        parent_bone=bone,
        source=source,
        mesh=_mesh.spec_from_dict(spec) if kind == "mesh" and spec else None,
        material=_material.read_material(obj) if obj.type == "MESH" else None,
        camera=_camera.read_camera(obj) if obj.type == "CAMERA" else None,
        light=_light.read_light(obj) if obj.type == "LIGHT" else None,
        armature=_armature.spec_from_dict(spec) if kind == "armature" and spec else None,
        pose=_armature.read_pose(obj) if obj.type == "ARMATURE" else None,
        asset=_assets.ref_from_dict(spec) if kind == "asset" and spec else None,
        animation=_animation.read_curves(obj),
    )


def tree_node(obj: bpy.types.Object) -> TreeNode:
    parent, bone = parent_of(obj)
    return TreeNode(
        uuid=node_uuid(obj),
        name=obj.name,
        kind=obj[KIND_KEY],
        parent=parent,
        parent_bone=bone,
        source=obj.get(SOURCE_KEY),
    )


def ordered(objects: Iterable[bpy.types.Object]) -> list[bpy.types.Object]:
    """Nodes with every parent, and every part's asset node, before the node itself."""
    pending = sorted(objects, key=lambda o: o.name)
    present = {node_uuid(o) for o in pending}
    done: set[str] = set()
    result: list[bpy.types.Object] = []
    while pending:
        later = []
        for obj in pending:
            needs = {parent_of(obj)[0], obj.get(SOURCE_KEY)} & present
            if needs <= done:
                result.append(obj)
                done.add(node_uuid(obj))
            else:
                later.append(obj)
        if len(later) == len(pending):
            raise Internal("stage nodes form a parent cycle")
        pending = later
    return result


def create(
    index: Index,
    import_path: ImportPath,
    *,
    uuid: str,
    name: str,
    kind: str,
    mesh=None,
    armature: ArmatureSpec | None = None,
    asset: AssetRef | None = None,
) -> list[bpy.types.Object]:
    """A new node (and, for an asset, its imported parts), tagged and indexed, at the origin."""
    if kind == "mesh":
        obj = new_object(name, _mesh.build_mesh(name, mesh))
        store_spec(obj, _mesh.spec_to_dict(mesh))
        _material.use_shared_default(obj)
    elif kind == "camera":
        obj = new_object(name, bpy.data.cameras.new(name))
    elif kind == "light":
        obj = new_object(name, bpy.data.lights.new(name, "POINT"))
    elif kind == "armature":
        armature = _given(armature, "armature")
        obj = _armature.build_armature(name, armature)
        store_spec(obj, _armature.spec_to_dict(armature))
    else:
        obj = new_object(name, None)
        obj.empty_display_type = "ARROWS" if kind == "asset" else "PLAIN_AXES"
    tag(obj, uuid, kind)
    created = [obj]
    if kind == "asset":
        asset = _given(asset, "asset")
        store_spec(obj, _assets.ref_to_dict(asset))
        try:
            created += _assets.import_asset(obj, uuid, *import_path(asset))
        except BaseException:
            remove_objects([obj])
            raise
    elif kind == "armature" and armature is not None and armature.body == "mannequin":
        _armature.build_body(obj, uuid)
    for node in created:
        index.add(node)
    return created


def _given(value: _T | None, field: str) -> _T:
    if value is None:
        raise InvalidArgument(f"a node of this kind needs {field}", field=field)
    return value


def restore(index: Index, obj: bpy.types.Object, state: NodeState, *, focus: bool = True) -> None:
    """Give an existing node ``state``'s name, parent, transform and datablock settings."""
    if obj.name != state.name:
        holder = bpy.data.objects.get(state.name)
        if holder is not None:
            holder.name = f"~stagecraft-moved-{uuid_of(holder) or holder.session_uid}"
        obj.name = state.name
    parent = index.get(state.parent) if state.parent else None
    set_parent(obj, parent, state.parent_bone)
    t = state.transform
    apply_transform(obj, t.location, t.rotation, t.scale)
    if state.material is not None and state.material != _material.read_material(obj):
        _material.apply_material(obj, state.material)
    if state.camera is not None:
        camera = state.camera if focus else _camera.without_target(state.camera)
        _camera.apply_camera(index, obj, camera)
    if state.light is not None:
        _light.apply_light(obj, state.light)
    if obj.type == "ARMATURE":
        pose = state.pose
        if pose is None:
            _armature.apply_pose(obj, (), [], None, reset=True)
        else:
            _armature.apply_pose(obj, pose.bones, pose.rotations, pose.locations, reset=True)
    _animation.write_curves(obj, state.animation)


def recreate(index: Index, import_path: ImportPath, states: Iterable[NodeState]) -> list[str]:
    """Create nodes from states (parents and assets first); returns their UUIDs."""
    states = list(states)
    wanted = {s.uuid for s in states}
    by_uuid = {s.uuid: s for s in states}
    done: set[str] = set()
    pending = list(states)
    while pending:
        later = []
        for state in pending:
            deps = {state.parent, state.source} & wanted
            if not deps <= done:
                later.append(state)
                continue
            _recreate_one(index, import_path, state, wanted)
            done.add(state.uuid)
        if len(later) == len(pending):
            raise InvalidArgument("snapshot nodes form a parent cycle or name a missing asset", field="nodes")
        pending = later
    for uuid in done:
        state = by_uuid[uuid]
        if state.camera is not None and state.camera.focus_target:
            _camera.apply_camera(index, index.get(uuid), CameraParams(focus_target=state.camera.focus_target))
    return [s.uuid for s in states]


def _recreate_one(index: Index, import_path: ImportPath, state: NodeState, wanted: set[str]) -> None:
    if state.source is None:
        created = create(
            index,
            import_path,
            uuid=state.uuid,
            name=state.name,
            kind=state.kind,
            mesh=state.mesh,
            armature=state.armature,
            asset=state.asset,
        )
        absent = [o for o in created[1:] if uuid_of(o) not in wanted]
        for obj in absent:
            index.discard(node_uuid(obj))
        remove_objects(absent)
    obj = index.get(state.uuid)
    if obj is None:
        raise InvalidArgument(
            f"node {state.name!r} ({state.uuid}) is not among the objects its asset {state.source} imports",
            field="nodes",
        )
    restore(index, obj, state, focus=False)
