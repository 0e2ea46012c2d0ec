"""Lights: type, colour, power, radius, spot cone, area size, shadows."""

from __future__ import annotations

import bpy

from protocols import InvalidArgument, LightParams

from ._mapping import Mapping, Setting
from ._objects import rounded3
from ._undo import Undo


def check_light(obj: bpy.types.Object, params: LightParams) -> None:
    """Spot and area fields must match the light's (resulting) type."""
    kind = params.light_type or obj.data.type.lower()
    if kind != "spot" and (params.spot_size is not None or params.spot_blend is not None):
        raise InvalidArgument(
            f"light {obj.name!r} is a {kind} light; spot_size / spot_blend are for spot lights",
            field="light.spot_size",
        )
    if kind != "area" and params.area_size is not None:
        raise InvalidArgument(
            f"light {obj.name!r} is a {kind} light; area_size is for area lights", field="light.area_size"
        )


LIGHT = Mapping(
    Setting("color", "color", from_blender=rounded3),
    Setting("energy", "energy"),
    Setting("radius", "shadow_soft_size"),
    Setting("cast_shadow", "use_shadow", from_blender=bool),
)
SPOT = Mapping(Setting("spot_size", "spot_size"), Setting("spot_blend", "spot_blend"))  # spot lights only
AREA = Mapping(Setting("area_size", "size"))  # area lights only, always square


def apply_light(obj: bpy.types.Object, params: LightParams) -> None:
    if params.light_type is not None:
        obj.data.type = params.light_type.upper()
    light = obj.data  # the RNA type follows the light type
    LIGHT.apply(light, params)
    if light.type == "SPOT":
        SPOT.apply(light, params)
    if light.type == "AREA" and params.area_size is not None:
        light.shape = "SQUARE"
        AREA.apply(light, params)


def read_light(obj: bpy.types.Object) -> LightParams:
    light = obj.data
    kind = light.type.lower()
    return LightParams(
        light_type=kind,
        **LIGHT.read(light),
        **(SPOT.read(light) if kind == "spot" else {}),
        **(AREA.read(light) if kind == "area" else {}),
    )


def guard_light(undo: Undo, obj: bpy.types.Object) -> None:
    """Register how to put back every light setting of ``obj`` (its type first)."""
    LIGHT.guard(undo, lambda: obj.data, "type", *(s.path for s in (*SPOT.settings, *AREA.settings)), "shape")
