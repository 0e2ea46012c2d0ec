"""Objects: creation, transforms, parenting (to objects and bones) and subtree deletion."""

from __future__ import annotations

import bpy
from mathutils import Matrix, Quaternion

from protocols import Conflict, InvalidArgument, NotFound, Transform

from ._ids import SOURCE_KEY, uuid_of

DECIMALS = 5


def rounded(values) -> tuple[float, ...]:
    """Blender's float32 values rounded so that dump -> rebuild -> dump compares equal."""
    return tuple(round(float(v), DECIMALS) + 0.0 for v in values)


def new_object(name: str, data: bpy.types.ID | None) -> bpy.types.Object:
    obj = bpy.data.objects.new(name, data)
    bpy.context.scene.collection.objects.link(obj)
    obj.rotation_mode = "QUATERNION"
    return obj


def read_transform(obj: bpy.types.Object) -> Transform:
    q = Quaternion(obj.rotation_quaternion)
    q = q.normalized() if q.magnitude > 1e-9 else Quaternion()
    return Transform(location=rounded(obj.location), rotation=rounded(q), scale=rounded(obj.scale))


def apply_transform(obj: bpy.types.Object, location=None, rotation=None, scale=None) -> None:
    obj.rotation_mode = "QUATERNION"
    if location is not None:
        obj.location = location
    if rotation is not None:
        obj.rotation_quaternion = rotation
    if scale is not None:
        obj.scale = scale


def parent_frame(parent: bpy.types.Object | None, bone: str | None) -> Matrix:
    """World matrix of the frame a child's local transform is relative to (a bone's tail)."""
    if parent is None:
        return Matrix.Identity(4)
    if bone is None:
        return parent.matrix_world.copy()
    pose_bone = parent.pose.bones[bone]
    return parent.matrix_world @ pose_bone.matrix @ Matrix.Translation((0.0, pose_bone.length, 0.0))


def check_parent(obj: bpy.types.Object | None, parent: bpy.types.Object | None, bone: str | None) -> None:
    """Validate a parent (and bone) for ``obj``; None for a node not created yet."""
    if parent is None:
        return
    if obj is not None and (parent == obj or parent in obj.children_recursive):
        raise Conflict(f"parenting {obj.name!r} to {parent.name!r} would make a cycle", field="parent")
    if bone is not None:
        if parent.type != "ARMATURE":
            raise InvalidArgument(
                f"bone {bone!r} given but parent {parent.name!r} is not an armature", field="bone"
            )
        if bone not in parent.data.bones:
            raise NotFound(f"armature {parent.name!r} has no bone {bone!r}", field="bone")


def set_parent(
    obj: bpy.types.Object,
    parent: bpy.types.Object | None,
    bone: str | None,
    keep_world: bool = False,
) -> None:
    """Parent with an identity parent inverse; ``keep_world`` recomputes the local transform."""
    if keep_world:
        bpy.context.view_layer.update()
        world = obj.matrix_world.copy()
    obj.parent = parent
    if parent is not None and bone is not None:
        obj.parent_type = "BONE"
        obj.parent_bone = bone
    else:
        obj.parent_type = "OBJECT"
        obj.parent_bone = ""
    obj.matrix_parent_inverse = Matrix.Identity(4)
    if keep_world:
        bpy.context.view_layer.update()
        local = parent_frame(parent, bone).inverted_safe() @ world
        loc, rot, scale = local.decompose()
        apply_transform(obj, tuple(loc), tuple(rot), tuple(scale))


def bake_parent_inverse(obj: bpy.types.Object) -> None:
    """Fold a non-identity parent inverse (left by importers) into the local transform."""
    inverse = obj.matrix_parent_inverse.copy()
    if inverse == Matrix.Identity(4):
        return
    basis = inverse @ obj.matrix_basis
    obj.matrix_parent_inverse = Matrix.Identity(4)
    obj.rotation_mode = "QUATERNION"
    obj.matrix_basis = basis


def parent_of(obj: bpy.types.Object) -> tuple[str | None, str | None]:
    """(parent uuid, parent bone) of a node."""
    if obj.parent is None:
        return None, None
    bone = obj.parent_bone if obj.parent_type == "BONE" and obj.parent_bone else None
    return uuid_of(obj.parent), bone


def deletion_set(root: bpy.types.Object, nodes: list[bpy.types.Object]) -> list[bpy.types.Object]:
    """``root``, its subtree, and (for assets) every part of the import, with their subtrees."""
    doomed: dict[str, bpy.types.Object] = {}
    pending = [root]
    while pending:
        obj = pending.pop()
        if obj.name in doomed:
            continue
        doomed[obj.name] = obj
        pending.extend(obj.children)
        uuid = uuid_of(obj)
        if uuid is not None:
            pending.extend(n for n in nodes if n.get(SOURCE_KEY) == uuid)
    return list(doomed.values())


def remove_objects(objects: list[bpy.types.Object]) -> None:
    """Delete objects and the object data nothing else uses."""
    data = [o.data for o in objects if o.data is not None]
    for obj in objects:
        bpy.data.objects.remove(obj, do_unlink=True)
    for block in data:
        if block.users == 0:
            _remove_data(block)


def _remove_data(block: bpy.types.ID) -> None:
    for name in ("meshes", "cameras", "lights", "armatures", "curves"):
        collection = getattr(bpy.data, name)
        if collection.get(block.name) == block:
            collection.remove(block)
            return
