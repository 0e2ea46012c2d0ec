"""Objects: creation, transforms, parenting (to objects and bones) and subtree deletion."""

from __future__ import annotations

from typing import Any

import bpy
from mathutils import Matrix, Quaternion, Vector

from protocols import Conflict, InvalidArgument, NotFound, Transform

from ._ids import MANNEQUIN_KEY, SOURCE_KEY, UUID_KEY, uuid_of

RETIRED_KEY = "stagecraft_retired"  # on a deleted object until it is freed

DECIMALS = 5


def rounded(values) -> tuple[float, ...]:
    """Blender's float32 values rounded so that dump -> rebuild -> dump compares equal."""
    return tuple(rounded_scalar(v) for v in values)


def rounded_scalar(value) -> float:
    return round(float(value), DECIMALS) + 0.0


def rounded3(values) -> tuple[float, float, float]:
    x, y, z = rounded(values)
    return x, y, z


def rounded4(values) -> tuple[float, float, float, float]:
    w, x, y, z = rounded(values)
    return w, x, y, z


def stage_objects() -> list[bpy.types.Object]:
    """Every object the stage owns in this file: its nodes and the mannequin bodies built for them."""
    return [o for o in bpy.data.objects if UUID_KEY in o or MANNEQUIN_KEY in o]


def new_object(name: str, data: bpy.types.ID | None) -> bpy.types.Object:
    obj = bpy.data.objects.new(name, data)
    bpy.context.scene.collection.objects.link(obj)
    obj.rotation_mode = "QUATERNION"
    return obj


ROTATION_PROPS = ("rotation_mode", "rotation_quaternion", "rotation_euler", "rotation_axis_angle")


def rotation_of(owner: Any) -> Quaternion:
    """An object's or pose bone's rotation as a unit quaternion, whatever its rotation mode."""
    mode = owner.rotation_mode
    if mode == "QUATERNION":
        q = Quaternion(owner.rotation_quaternion)
    elif mode == "AXIS_ANGLE":
        angle, *axis = owner.rotation_axis_angle
        q = Quaternion(axis, angle) if Vector(axis).length > 1e-9 else Quaternion()
    else:
        q = owner.rotation_euler.to_quaternion()
        if q.w < 0:  # the same rotation, written the way the stage keeps it
            q.negate()
    return q.normalized() if q.magnitude > 1e-9 else Quaternion()


def set_rotation(owner: Any, rotation) -> None:
    """Set an object's or pose bone's rotation from a quaternion, keeping its rotation mode (an
    animator's Euler XYZ stays Euler XYZ, the nearest Euler to the one it had)."""
    mode = owner.rotation_mode
    q = Quaternion(rotation)
    if mode == "QUATERNION":
        owner.rotation_quaternion = q
    elif mode == "AXIS_ANGLE":
        axis, angle = q.to_axis_angle()
        owner.rotation_axis_angle = (angle, *axis)
    else:
        owner.rotation_euler = q.to_euler(mode, owner.rotation_euler)


def read_transform(obj: bpy.types.Object) -> Transform:
    q = rotation_of(obj)
    return Transform(location=rounded3(obj.location), rotation=rounded4(q), scale=rounded3(obj.scale))


def apply_transform(obj: bpy.types.Object, location=None, rotation=None, scale=None) -> None:
    if location is not None:
        obj.location = location
    if rotation is not None:
        set_rotation(obj, rotation)
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
    obj.matrix_basis = basis  # Blender writes it in the object's own rotation mode


def parent_of(obj: bpy.types.Object) -> tuple[str | None, str | None]:
    """(parent uuid, parent bone) of a node."""
    if obj.parent is None:
        return None, None
    bone = obj.parent_bone if obj.parent_type == "BONE" and obj.parent_bone else None
    return uuid_of(obj.parent), bone


class Family:
    """Children and asset parts of every object, read once: ``obj.children`` scans the whole scene."""

    def __init__(self, objects) -> None:
        self.children: dict[int, list[bpy.types.Object]] = {}  # by the parent's session_uid
        self.parts: dict[str, list[bpy.types.Object]] = {}  # by the asset node's uuid
        self.cameras: list[bpy.types.Object] = []
        self.collections: dict[int, list[bpy.types.Collection]] = {}  # by the object's session_uid
        for collection in (*bpy.data.collections, *(scene.collection for scene in bpy.data.scenes)):
            for member in collection.objects:
                self.collections.setdefault(member.session_uid, []).append(collection)
        for obj in objects:
            if RETIRED_KEY in obj:  # deleted already, waiting to be freed
                continue
            if obj.parent is not None:
                self.children.setdefault(obj.parent.session_uid, []).append(obj)
            if obj.type == "CAMERA":
                self.cameras.append(obj)
            source = obj.get(SOURCE_KEY)
            if isinstance(source, str):
                self.parts.setdefault(source, []).append(obj)


def deletion_set(
    root: bpy.types.Object, family: Family, already: frozenset[int] | set[int] = frozenset()
) -> list[bpy.types.Object]:
    """``root``, its subtree, and (for assets) every part of the import, with their subtrees;
    objects whose ``session_uid`` is in ``already`` (deleted earlier in the same batch) are left out."""
    doomed: dict[int, bpy.types.Object] = {}
    pending = [root]
    while pending:
        obj = pending.pop()
        if obj.session_uid in doomed or obj.session_uid in already:
            continue
        doomed[obj.session_uid] = obj
        pending.extend(family.children.get(obj.session_uid, ()))
        uuid = uuid_of(obj)
        if uuid is not None:
            pending.extend(family.parts.get(uuid, ()))
    return list(doomed.values())


def remove_objects(objects: list[bpy.types.Object]) -> None:
    """Delete objects, then the object data and materials nothing else uses (one pass each)."""
    if not objects:
        return
    data = {o.data for o in objects if o.data is not None}
    bpy.data.batch_remove(objects)
    orphans = [block for block in data if block.users == 0]
    materials = {m for block in orphans for m in getattr(block, "materials", ()) if m is not None}
    if orphans:
        bpy.data.batch_remove(orphans)
    unused = [m for m in materials if m.users == 0]
    if unused:
        bpy.data.batch_remove(unused)


class Reaper:
    """Deleted objects, already out of the scene, freed later in one go (``reap``).

    Unlinking (the delete itself) is cheap. Freeing is not: every call of Blender's ID removal
    costs time that grows with the file (tens to hundreds of ms at 10k objects) on top of the
    objects it frees, so freeing each delete's objects at once made batch deletes quadratic.
    The stage frees everything pending in one call when it has been quiet for a while.
    """

    def __init__(self) -> None:
        self._pending: list[bpy.types.Object] = []

    def retire(self, objects: list[bpy.types.Object]) -> None:
        for obj in objects:
            for key in (UUID_KEY, SOURCE_KEY):
                if key in obj:
                    del obj[key]  # a retired object is no node, whatever finds it
            obj[RETIRED_KEY] = True
        self._pending.extend(objects)

    def reap(self) -> bool:
        """Free every pending object; False: nothing is left."""
        pending, self._pending = self._pending, []
        remove_objects(pending)
        return False

    def forget(self) -> None:
        """Blender freed everything (a reset or a file load): nothing is left to reap."""
        self._pending = []
