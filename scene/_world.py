"""World matrices of nodes, worked out from transforms, parents and bone poses.

Blender updates ``matrix_world`` only when its dependency graph is evaluated, and evaluating
it costs time that grows faster than the scene (1.2 ms per change at 1,000 objects). The
stage instead composes the matrices by Blender's own rules from what it stores: the parent's
world matrix, the parent inverse, the local transform and, for a bone parent, the bone's pose
in armature space and its length. What those rules do not cover (constraints, a bone that
does not inherit its parent's rotation and scale, vertex parents) is read from an evaluated
graph instead, so the answer is always Blender's.
"""

from __future__ import annotations

import bpy
from mathutils import Matrix

from protocols import Matrix4

from ._objects import DECIMALS


class _Evaluate(Exception):
    """This object's matrix needs Blender's evaluation."""


class WorldMatrices:
    """World matrices of objects, each worked out once (one per command's result)."""

    def __init__(self) -> None:
        self._objects: dict[int, Matrix] = {}
        self._bones: dict[tuple[int, str], Matrix] = {}
        self._evaluated = False

    def of(self, obj: bpy.types.Object) -> Matrix4:
        """``obj``'s world matrix, rounded as the stage stores values."""
        return rounded_matrix(self.matrix(obj))

    def matrix(self, obj: bpy.types.Object) -> Matrix:
        key = obj.session_uid
        found = self._objects.get(key)
        if found is None:
            try:
                found = self._compose(obj)
            except _Evaluate:
                found = self._evaluated_matrix(obj)
            self._objects[key] = found
        return found

    def _compose(self, obj: bpy.types.Object) -> Matrix:
        if obj.constraints:
            raise _Evaluate
        parent = obj.parent
        if parent is None:
            frame = Matrix.Identity(4)
        elif obj.parent_type == "OBJECT":
            frame = self.matrix(parent)
        elif obj.parent_type == "BONE" and obj.parent_bone in parent.pose.bones:
            pose_bone = parent.pose.bones[obj.parent_bone]
            tail = Matrix.Translation((0.0, pose_bone.length, 0.0))
            frame = self.matrix(parent) @ self._pose(parent, pose_bone) @ tail
        else:
            raise _Evaluate
        return frame @ obj.matrix_parent_inverse @ obj.matrix_basis

    def _pose(self, armature: bpy.types.Object, pose_bone: bpy.types.PoseBone) -> Matrix:
        """The bone's posed matrix in armature space (Blender's ``PoseBone.matrix``, evaluated)."""
        key = (armature.session_uid, pose_bone.name)
        found = self._bones.get(key)
        if found is not None:
            return found
        bone = pose_bone.bone
        if (
            pose_bone.constraints
            or not bone.use_inherit_rotation
            or bone.inherit_scale != "FULL"
            or not bone.use_local_location
            or bone.use_relative_parent
        ):
            raise _Evaluate
        rest = bone.matrix_local
        if pose_bone.parent is None:
            found = rest @ pose_bone.matrix_basis
        else:
            parent_rest = pose_bone.parent.bone.matrix_local
            offset = parent_rest.inverted() @ rest  # the bone's rest relative to its parent's
            found = self._pose(armature, pose_bone.parent) @ offset @ pose_bone.matrix_basis
        self._bones[key] = found
        return found

    def _evaluated_matrix(self, obj: bpy.types.Object) -> Matrix:
        if not self._evaluated:
            bpy.context.view_layer.update()
            self._evaluated = True
        return obj.matrix_world.copy()


def rounded_matrix(matrix: Matrix) -> Matrix4:
    r0, r1, r2, r3 = (
        (
            round(row[0], DECIMALS) + 0.0,
            round(row[1], DECIMALS) + 0.0,
            round(row[2], DECIMALS) + 0.0,
            round(row[3], DECIMALS) + 0.0,
        )
        for row in matrix
    )
    return r0, r1, r2, r3
