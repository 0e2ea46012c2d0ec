"""One handler per stage command: validate, register undo steps, change the scene, resolve refs."""

from __future__ import annotations

import dataclasses
import functools
import uuid as uuid_module
from collections.abc import Callable

import bpy

from optics import OpticsTable
from protocols import (
    AssetRef,
    Conflict,
    CreateNode,
    DeleteNode,
    FrameShot,
    InvalidArgument,
    LookAt,
    RackFocus,
    RenameNode,
    SetActiveCamera,
    SetBonePose,
    SetCamera,
    SetFrameRange,
    SetLens,
    SetLight,
    SetMaterial,
    SetParent,
    SetTransform,
)

from . import _animation, _armature, _assets, _camera, _light, _material, _optics, _settings
from ._changes import Changes, Section, animated_sections
from ._ids import Index, node_uuid, uuid_of
from ._objects import (
    ROTATION_PROPS,
    Family,
    Reaper,
    apply_transform,
    check_parent,
    deletion_set,
    remove_objects,
    set_parent,
)
from ._state import ImportPath, create
from ._undo import Undo, guard_material, guard_props

_TRANSFORM = (*ROTATION_PROPS, "location", "scale")
_PARENTING = ("parent", "parent_type", "parent_bone", "matrix_parent_inverse", *_TRANSFORM)
_POSE_BONE = (*ROTATION_PROPS, "location")


@dataclasses.dataclass
class Context:
    index: Index
    store_path: Callable[[str], str]  # asset path -> sha256, stored
    import_path: ImportPath
    undo: Undo
    optics: OpticsTable
    reaper: Reaper
    changes: Changes = dataclasses.field(default_factory=Changes)
    _family: Family | None = None
    _deleted: list[bpy.types.Object] = dataclasses.field(default_factory=list)
    deleted_uids: set[int] = dataclasses.field(default_factory=set)  # session_uids deleted so far

    def family(self) -> Family:
        """Parents, parts and cameras of the scene, read once for a run of deletes."""
        if self._family is None:
            self._family = Family(bpy.data.objects)
        return self._family

    def changed(self) -> None:
        """A command other than a delete ran: the family read before it may be stale."""
        self._family = None

    def remove_on_commit(self, objects: list[bpy.types.Object]) -> None:
        """Objects (already unlinked) to free for good once the command commits, when idle."""
        if not self._deleted:
            self.undo.on_commit(lambda: self.reaper.retire(self._deleted))
        self._deleted.extend(objects)
        self.deleted_uids.update(o.session_uid for o in objects)


def create_node(ctx: Context, cmd: CreateNode):
    uuid = cmd.uuid or uuid_module.uuid4().hex
    if uuid in ctx.index:
        raise Conflict(f"a node with uuid {uuid} already exists", field="uuid")
    ctx.index.check_name_free(cmd.name)
    parent = ctx.index.resolve(cmd.parent, "parent") if cmd.parent else None
    check_parent(None, parent, cmd.parent_bone)
    armature = _armature.expand_rig(cmd.armature) if cmd.armature else None
    asset = _resolve_asset(ctx, cmd.asset) if cmd.asset else None
    camera = _camera.resolve_target(ctx.index, None, cmd.camera, ctx.optics) if cmd.camera else None
    resolved = dataclasses.replace(
        cmd,
        uuid=uuid,
        parent=node_uuid(parent) if parent else None,
        armature=armature,
        asset=asset,
        camera=camera,
    )
    ctx.undo.on_undo(lambda: _delete_created(ctx.index, uuid))
    created = create(
        ctx.index, ctx.import_path, uuid=uuid, name=cmd.name, kind=cmd.kind, mesh=cmd.mesh,
        armature=armature, asset=asset,
    )  # fmt: skip
    obj = created[0]
    set_parent(obj, parent, cmd.parent_bone)
    if cmd.transform is not None:
        t = cmd.transform
        apply_transform(obj, t.location, t.rotation, t.scale)
    if cmd.material is not None:
        _material.apply_material(obj, cmd.material)
    if camera is not None:
        _camera.check_range_against(obj, camera)
        _camera.apply_camera(ctx.index, obj, camera)
    if cmd.light is not None:
        _light.check_light(obj, cmd.light)
        _light.apply_light(obj, cmd.light)
    uuids = tuple(node_uuid(o) for o in created)
    ctx.changes.create(uuids)
    return resolved, uuids


def delete_node(ctx: Context, cmd: DeleteNode):
    root = ctx.index.resolve(cmd.node)
    family = ctx.family()
    doomed = deletion_set(root, family, ctx.deleted_uids)
    doomed_set = set(doomed)
    scene = bpy.context.scene
    focusing = [o for o in family.cameras if o.data.dof.focus_object in doomed_set]
    for camera in focusing:
        guard_props(ctx.undo, functools.partial(_dof_of, camera), ("focus_object", "focus_subtarget"))
        camera.data.dof.focus_object = None
        camera.data.dof.focus_subtarget = ""
        if (uuid := uuid_of(camera)) is not None:
            ctx.changes.change(uuid, "camera")
    if scene.camera in doomed_set:
        guard_props(ctx.undo, lambda: bpy.context.scene, ("camera",))
        scene.camera = None
        ctx.changes.scene = True
    touched = []
    for obj in doomed:
        uuid = uuid_of(obj)
        collections = family.collections.get(obj.session_uid, [])
        name = obj.name
        ctx.undo.on_undo(functools.partial(_undelete, ctx.index, obj, collections, name, uuid))
        for collection in collections:
            collection.objects.unlink(obj)
        obj.name = f"~stagecraft-deleted-{obj.session_uid}"
        if uuid is not None:
            ctx.index.discard(uuid)
            touched.append(uuid)
    ctx.remove_on_commit(doomed)
    ctx.changes.delete(touched)
    return dataclasses.replace(cmd, node=node_uuid(root)), tuple(touched)


def rename_node(ctx: Context, cmd: RenameNode):
    obj = ctx.index.resolve(cmd.node)
    ctx.index.check_name_free(cmd.name, owner=obj)
    guard_props(ctx.undo, lambda: obj, ("name",))
    obj.name = cmd.name
    return dataclasses.replace(cmd, node=node_uuid(obj)), (node_uuid(obj),)


def set_transform(ctx: Context, cmd: SetTransform):
    obj = ctx.index.resolve(cmd.node)
    guard_props(ctx.undo, lambda: obj, _TRANSFORM)
    apply_transform(obj, cmd.location, cmd.rotation, cmd.scale)
    return dataclasses.replace(cmd, node=node_uuid(obj)), (node_uuid(obj),)


def set_parent_cmd(ctx: Context, cmd: SetParent):
    obj = ctx.index.resolve(cmd.node)
    parent = ctx.index.resolve(cmd.parent, "parent") if cmd.parent else None
    check_parent(obj, parent, cmd.bone)
    guard_props(ctx.undo, lambda: obj, _PARENTING)
    set_parent(obj, parent, cmd.bone, keep_world=cmd.keep_world)
    resolved = dataclasses.replace(cmd, node=node_uuid(obj), parent=node_uuid(parent) if parent else None)
    return resolved, (node_uuid(obj),)


def set_material(ctx: Context, cmd: SetMaterial):
    obj = ctx.index.resolve(cmd.node)
    _material.check_editable(obj)
    guard_material(ctx.undo, obj)
    _material.apply_material(obj, cmd.material)
    return dataclasses.replace(cmd, node=node_uuid(obj)), (node_uuid(obj),)


def set_camera(ctx: Context, cmd: SetCamera):
    obj = ctx.index.resolve(cmd.node)
    if obj.type != "CAMERA":
        raise InvalidArgument(f"node {obj.name!r} is not a camera", field="node")
    params = _camera.resolve_target(ctx.index, obj, cmd.camera, ctx.optics)
    _camera.check_range_against(obj, params)
    _camera.guard_camera(ctx.undo, obj)
    by_hand = params.focus_distance is not None or params.focus_target is not None
    if by_hand and _animation.drop_keys(obj, _animation.FOCUS_PATH, ctx.undo):  # it ends a pull
        ctx.changes.change(node_uuid(obj), "animation")
    _camera.apply_camera(ctx.index, obj, params)
    return dataclasses.replace(cmd, node=node_uuid(obj), camera=params), (node_uuid(obj),)


def set_light(ctx: Context, cmd: SetLight):
    obj = ctx.index.resolve(cmd.node)
    if obj.type != "LIGHT":
        raise InvalidArgument(f"node {obj.name!r} is not a light", field="node")
    _light.check_light(obj, cmd.light)
    _light.guard_light(ctx.undo, obj)
    _light.apply_light(obj, cmd.light)
    return dataclasses.replace(cmd, node=node_uuid(obj)), (node_uuid(obj),)


def set_bone_pose(ctx: Context, cmd: SetBonePose):
    obj = ctx.index.resolve(cmd.node)
    _armature.check_bones(obj, cmd.bones)
    for name in cmd.bones:
        guard_props(ctx.undo, functools.partial(_pose_bone, obj, name), _POSE_BONE)
    if cmd.keyframe is not None:
        _armature.guard_action(obj, ctx.undo)
    _armature.apply_pose(obj, cmd.bones, cmd.rotations, cmd.locations, reset=False)
    if cmd.keyframe is not None:
        _armature.insert_keyframes(obj, cmd.bones, cmd.keyframe, cmd.locations is not None)
        channels = (("rotation_quaternion", 4), ("location", 3 if cmd.locations is not None else 0))
        for name in cmd.bones:
            for prop, count in channels:
                for index in range(count):
                    ctx.changes.key(node_uuid(obj), f'pose.bones["{name}"].{prop}', index, (cmd.keyframe,))
    return dataclasses.replace(cmd, node=node_uuid(obj)), (node_uuid(obj),)


def set_active_camera(ctx: Context, cmd: SetActiveCamera):
    obj = ctx.index.resolve(cmd.node)
    _settings.check_camera(obj)
    guard_props(ctx.undo, lambda: bpy.context.scene, ("camera",))
    _settings.set_active_camera(obj)
    ctx.changes.scene = True
    return dataclasses.replace(cmd, node=node_uuid(obj)), (node_uuid(obj),)


def set_frame_range(ctx: Context, cmd: SetFrameRange):
    _settings.check_frame_range(cmd.current, cmd.start, cmd.end)
    scene = bpy.context.scene
    current = scene.frame_current
    guard_props(ctx.undo, lambda: bpy.context.scene, ("frame_start", "frame_end"))
    guard_props(ctx.undo, lambda: bpy.context.scene.render, ("fps", "fps_base"))
    ctx.undo.on_undo(lambda: bpy.context.scene.frame_set(current))
    _settings.apply_frame_range(cmd.current, cmd.start, cmd.end, cmd.fps)
    ctx.changes.scene = True
    if cmd.current is not None:  # animated nodes take their values at the new frame
        for obj in ctx.index.objects():
            sections = animated_sections(obj)
            if sections:
                ctx.changes.change(node_uuid(obj), *sections)
    return cmd, ()


def camera_move(ctx: Context, cmd: FrameShot | LookAt):
    """A frame_shot or look_at: at once, or a camera move keyed over frames."""
    if isinstance(cmd, FrameShot):
        resolved, touched, channels = _optics.frame_shot(ctx.index, ctx.undo, cmd, ctx.optics)
    else:
        resolved, touched, channels = _optics.look_at(ctx.index, ctx.undo, cmd)
    if channels:
        first = resolved.start_frame
        for path, index in channels:
            ctx.changes.key(touched[0], path, index, range(first, first + resolved.frames + 1))
    return resolved, touched


def rack_focus(ctx: Context, cmd: RackFocus):
    resolved, touched = _optics.rack_focus(ctx.index, ctx.undo, cmd, ctx.optics)
    first = resolved.start_frame
    ctx.changes.key(touched[0], _animation.FOCUS_PATH, 0, range(first, first + resolved.frames + 1))
    return resolved, touched


# what each command changes on the nodes it touched (creates, deletes and side effects are
# noted by the handlers themselves)
SECTIONS: dict[type, tuple[Section, ...]] = {
    RenameNode: ("name",),
    SetTransform: ("transform",),
    SetParent: ("parent",),
    SetMaterial: ("material",),
    SetCamera: ("camera",),
    SetLight: ("light",),
    SetBonePose: ("pose",),
    SetLens: ("camera", "transform", "animation"),
    FrameShot: ("camera", "transform", "animation"),
    LookAt: ("transform", "animation"),
    RackFocus: ("camera",),
}

HANDLERS = {
    SetLens: lambda ctx, cmd: _optics.set_lens(ctx.index, ctx.undo, cmd, ctx.optics),
    FrameShot: camera_move,
    LookAt: camera_move,
    RackFocus: rack_focus,
    CreateNode: create_node,
    DeleteNode: delete_node,
    RenameNode: rename_node,
    SetTransform: set_transform,
    SetParent: set_parent_cmd,
    SetMaterial: set_material,
    SetCamera: set_camera,
    SetLight: set_light,
    SetBonePose: set_bone_pose,
    SetActiveCamera: set_active_camera,
    SetFrameRange: set_frame_range,
}


def _resolve_asset(ctx: Context, ref: AssetRef) -> AssetRef:
    """A path reference stored in the asset store, as ``AssetRef(sha256, format)``."""
    if ref.path is None:
        ctx.import_path(ref)  # NotFound now if the store lacks it
        return ref
    fmt = ref.format or _assets.format_of(ref.path)
    return AssetRef(sha256=ctx.store_path(ref.path), format=fmt)


def _dof_of(camera: bpy.types.Object) -> bpy.types.CameraDOFSettings:
    return camera.data.dof


def _pose_bone(obj: bpy.types.Object, name: str) -> bpy.types.PoseBone:
    return obj.pose.bones[name]


def _delete_created(index: Index, uuid: str) -> None:
    root = index.get(uuid)
    if root is None:
        return
    doomed = deletion_set(root, Family(bpy.data.objects))
    for obj in doomed:
        if (part := uuid_of(obj)) is not None:
            index.discard(part)
    remove_objects(doomed)


def _undelete(index: Index, obj, collections, name: str, uuid: str | None) -> None:
    for collection in collections:
        collection.objects.link(obj)
    obj.name = name
    if uuid is not None:
        index.add(obj)
