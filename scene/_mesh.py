"""Procedural mesh primitives built with bmesh (no operators)."""

from __future__ import annotations

import math

import bmesh
import bpy
from mathutils import Matrix

from protocols import MeshSpec


def build_mesh(name: str, spec: MeshSpec) -> bpy.types.Mesh:
    """A new mesh datablock of ``spec.primitive`` whose overall size is ``spec.size``."""
    bm = bmesh.new()
    try:
        _PRIMITIVES[spec.primitive](bm, spec.size, spec.segments)
        mesh = bpy.data.meshes.new(name)
        bm.to_mesh(mesh)
    finally:
        bm.free()
    return mesh


def spec_to_dict(spec: MeshSpec) -> dict:
    return {"primitive": spec.primitive, "size": spec.size, "segments": spec.segments}


def spec_from_dict(data: dict) -> MeshSpec:
    return MeshSpec(primitive=data["primitive"], size=data["size"], segments=data["segments"])


def _cube(bm: bmesh.types.BMesh, size: float, segments: int) -> None:
    bmesh.ops.create_cube(bm, size=size)


def _plane(bm: bmesh.types.BMesh, size: float, segments: int) -> None:
    bmesh.ops.create_grid(bm, x_segments=1, y_segments=1, size=size / 2)


def _uv_sphere(bm: bmesh.types.BMesh, size: float, segments: int) -> None:
    bmesh.ops.create_uvsphere(bm, u_segments=segments, v_segments=max(3, segments // 2), radius=size / 2)


def _ico_sphere(bm: bmesh.types.BMesh, size: float, segments: int) -> None:
    subdivisions = min(5, max(1, round(math.log2(segments)) - 3))
    bmesh.ops.create_icosphere(bm, subdivisions=subdivisions, radius=size / 2)


def _cylinder(bm: bmesh.types.BMesh, size: float, segments: int) -> None:
    bmesh.ops.create_cone(
        bm, cap_ends=True, segments=segments, radius1=size / 2, radius2=size / 2, depth=size
    )


def _cone(bm: bmesh.types.BMesh, size: float, segments: int) -> None:
    bmesh.ops.create_cone(bm, cap_ends=True, segments=segments, radius1=size / 2, radius2=0.0, depth=size)


def _torus(bm: bmesh.types.BMesh, size: float, segments: int) -> None:
    major, minor = size * 0.375, size * 0.125
    rings, sides = segments, max(3, segments // 2)
    verts = []
    for i in range(rings):
        a = 2 * math.pi * i / rings
        for j in range(sides):
            b = 2 * math.pi * j / sides
            r = major + minor * math.cos(b)
            verts.append(bm.verts.new((r * math.cos(a), r * math.sin(a), minor * math.sin(b))))
    for i in range(rings):
        for j in range(sides):
            i2, j2 = (i + 1) % rings, (j + 1) % sides
            bm.faces.new(
                (verts[i * sides + j], verts[i2 * sides + j], verts[i2 * sides + j2], verts[i * sides + j2])
            )


def _monkey(bm: bmesh.types.BMesh, size: float, segments: int) -> None:
    bmesh.ops.create_monkey(bm, matrix=Matrix.Scale(size / _MONKEY_WIDTH, 4))


_MONKEY_WIDTH = 2.734375  # Suzanne at scale 1

_PRIMITIVES = {
    "cube": _cube,
    "plane": _plane,
    "uv_sphere": _uv_sphere,
    "ico_sphere": _ico_sphere,
    "cylinder": _cylinder,
    "cone": _cone,
    "torus": _torus,
    "monkey": _monkey,
}
