"""Lights: type, colour, power, radius, spot cone, area size, shadows."""

from __future__ import annotations

import bpy

from protocols import InvalidArgument, LightParams

from ._objects import rounded3, rounded_scalar


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


def apply_light(obj: bpy.types.Object, params: LightParams) -> None:
    if params.light_type is not None:
        obj.data.type = params.light_type.upper()
    light = obj.data  # the RNA type follows the light type
    if params.color is not None:
        light.color = params.color
    if params.energy is not None:
        light.energy = params.energy
    if params.radius is not None:
        light.shadow_soft_size = params.radius
    if params.cast_shadow is not None:
        light.use_shadow = params.cast_shadow
    if params.spot_size is not None:
        light.spot_size = params.spot_size
    if params.spot_blend is not None:
        light.spot_blend = params.spot_blend
    if params.area_size is not None:
        light.shape = "SQUARE"
        light.size = params.area_size


def read_light(obj: bpy.types.Object) -> LightParams:
    light = obj.data
    kind = light.type.lower()
    return LightParams(
        light_type=kind,
        color=rounded3(light.color),
        energy=rounded_scalar(light.energy),
        radius=rounded_scalar(light.shadow_soft_size),
        spot_size=rounded_scalar(light.spot_size) if kind == "spot" else None,
        spot_blend=rounded_scalar(light.spot_blend) if kind == "spot" else None,
        area_size=rounded_scalar(light.size) if kind == "area" else None,
        cast_shadow=light.use_shadow,
    )
