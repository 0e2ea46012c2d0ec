"""PBR materials: one Principled BSDF per mesh node, with a noise-driven Bump for normal strength."""

from __future__ import annotations

import bpy

from protocols import InvalidArgument, MaterialParams

from ._objects import rounded3, rounded4, rounded_scalar

BUMP = "stagecraft_bump"
NOISE = "stagecraft_noise"
SHARED_NAME = "Stage Default"
SHARED_KEY = "stagecraft_shared_default"


def use_shared_default(obj: bpy.types.Object) -> None:
    """Give a new mesh node the stage's shared default material; it gets its own on first edit.

    Every edit of a node tree costs time in proportion to the materials in the file, so a
    stage of thousands of props would slow down with each one if every prop had its own.
    """
    material = bpy.data.materials.get(SHARED_NAME)
    if material is None or not material.get(SHARED_KEY):
        material = bpy.data.materials.new(SHARED_NAME)
        material[SHARED_KEY] = True
        obj.data.materials.append(material)
        apply_material(obj, default_params(), own=False)
        return
    obj.data.materials.append(material)


def ensure_material(obj: bpy.types.Object, own: bool = True) -> bpy.types.Material:
    """The node's own material: the first slot's (made single-user), or a new one."""
    mesh = obj.data
    if mesh.materials and mesh.materials[0] is not None:
        material = mesh.materials[0]
        if own and (material.users > 1 or material.get(SHARED_KEY)):
            material = material.copy()
            if SHARED_KEY in material:
                del material[SHARED_KEY]
            mesh.materials[0] = material
        if material.node_tree is None or _principled(material) is None:
            raise InvalidArgument(
                f"node {obj.name!r}: its material {material.name!r} has no Principled BSDF to edit",
                field="material",
            )
        return material
    material = bpy.data.materials.new(obj.name)
    mesh.materials.append(material)
    return material


def check_editable(obj: bpy.types.Object) -> None:
    if obj.type != "MESH":
        raise InvalidArgument(f"node {obj.name!r} is not a mesh; materials are for meshes", field="node")
    mesh = obj.data
    if mesh.materials and mesh.materials[0] is not None:
        material = mesh.materials[0]
        if material.node_tree is None or _principled(material) is None:
            raise InvalidArgument(
                f"node {obj.name!r}: its material {material.name!r} has no Principled BSDF to edit",
                field="material",
            )


def apply_material(obj: bpy.types.Object, params: MaterialParams, own: bool = True) -> None:
    """Set the first slot's Principled BSDF values (on a material of the node's own, unless not ``own``)."""
    material = ensure_material(obj, own)
    bsdf = _principled(material)
    if bsdf is None:
        raise InvalidArgument(f"material {material.name!r} has no Principled BSDF to edit", field="material")
    inputs = bsdf.inputs
    if params.base_color is not None:
        inputs["Base Color"].default_value = params.base_color
        material.diffuse_color = params.base_color
    if params.roughness is not None:
        inputs["Roughness"].default_value = params.roughness
    if params.metallic is not None:
        inputs["Metallic"].default_value = params.metallic
    if params.emission_color is not None:
        inputs["Emission Color"].default_value = (*params.emission_color, 1.0)
    if params.emission_strength is not None:
        inputs["Emission Strength"].default_value = params.emission_strength
    if params.normal_strength is not None:
        _bump(material, bsdf).inputs["Strength"].default_value = params.normal_strength


def read_material(obj: bpy.types.Object) -> MaterialParams | None:
    """The first slot's Principled BSDF values (clamped to the protocol's ranges), if any."""
    mesh = obj.data
    if not mesh.materials or mesh.materials[0] is None:
        return None
    material = mesh.materials[0]
    bsdf = _principled(material) if material.node_tree is not None else None
    if bsdf is None:
        return None
    inputs = bsdf.inputs
    bump = material.node_tree.nodes.get(BUMP)
    return MaterialParams(
        base_color=rounded4(_clamped(inputs["Base Color"].default_value, 1.0)),
        roughness=rounded_scalar(_clamp(inputs["Roughness"].default_value, 1.0)),
        metallic=rounded_scalar(_clamp(inputs["Metallic"].default_value, 1.0)),
        normal_strength=None
        if bump is None
        else rounded_scalar(_clamp(bump.inputs["Strength"].default_value, 10.0)),
        emission_color=rounded3(_clamped(inputs["Emission Color"].default_value[:3], 1000.0)),
        emission_strength=rounded_scalar(_clamp(inputs["Emission Strength"].default_value, 1e6)),
    )


def default_params() -> MaterialParams:
    """What a new stage material starts with (every field set, so a dump is complete)."""
    return MaterialParams(
        base_color=(0.8, 0.8, 0.8, 1.0),
        roughness=0.5,
        metallic=0.0,
        normal_strength=0.0,
        emission_color=(0.0, 0.0, 0.0),
        emission_strength=0.0,
    )


def _clamped(values, high: float) -> list[float]:
    return [_clamp(v, high) for v in values]


def _clamp(value: float, high: float) -> float:
    return min(max(value, 0.0), high)


def _principled(material: bpy.types.Material) -> bpy.types.ShaderNode | None:
    for node in material.node_tree.nodes:
        if node.type == "BSDF_PRINCIPLED":
            return node
    return None


def _bump(material: bpy.types.Material, bsdf: bpy.types.ShaderNode) -> bpy.types.ShaderNode:
    """The Bump node fed by a Noise texture, wired into the BSDF's Normal (created once)."""
    nodes, links = material.node_tree.nodes, material.node_tree.links
    bump = nodes.get(BUMP)
    if bump is not None:
        return bump
    noise = nodes.new("ShaderNodeTexNoise")
    noise.name = NOISE
    noise.inputs["Scale"].default_value = 40.0
    noise.location = bsdf.location.x - 500, bsdf.location.y - 300
    bump = nodes.new("ShaderNodeBump")
    bump.name = BUMP
    bump.location = bsdf.location.x - 250, bsdf.location.y - 300
    normal = bsdf.inputs["Normal"]
    if normal.is_linked:
        links.new(normal.links[0].from_socket, bump.inputs["Normal"])
    links.new(noise.outputs["Fac"], bump.inputs["Height"])
    links.new(bump.outputs["Normal"], normal)
    return bump
