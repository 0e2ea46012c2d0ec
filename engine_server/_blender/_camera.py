"""Cameras: lens, sensor, depth of field (with a focus target node) and clip range."""

from __future__ import annotations

import bpy

from protocols import CameraParams, InvalidArgument

from ._ids import Index, uuid_of
from ._objects import rounded

_FIT_TO_BLENDER = {"auto": "AUTO", "horizontal": "HORIZONTAL", "vertical": "VERTICAL"}
_FIT_FROM_BLENDER = {v: k for k, v in _FIT_TO_BLENDER.items()}


def resolve_target(index: Index, camera: bpy.types.Object, params: CameraParams) -> CameraParams:
    """``params`` with ``focus_target`` as a UUID ("" kept: it clears the target)."""
    if not params.focus_target:
        return params
    target = index.resolve(params.focus_target, "camera.focus_target")
    if target == camera:
        raise InvalidArgument(f"camera {camera.name!r} cannot focus on itself", field="camera.focus_target")
    return _replace(params, focus_target=uuid_of(target))


def check_range_against(camera: bpy.types.Object, params: CameraParams) -> None:
    """Clip start must stay below clip end once both old and new values are combined."""
    start = params.clip_start if params.clip_start is not None else camera.data.clip_start
    end = params.clip_end if params.clip_end is not None else camera.data.clip_end
    if end <= start:
        raise InvalidArgument(
            f"camera {camera.name!r}: clip_end ({end:g} m) must be greater than clip_start ({start:g} m)",
            field="camera.clip_end",
        )


def apply_camera(index: Index, obj: bpy.types.Object, params: CameraParams) -> None:
    cam = obj.data
    for field, attr in (
        ("lens", "lens"),
        ("sensor_width", "sensor_width"),
        ("sensor_height", "sensor_height"),
        ("clip_start", "clip_start"),
        ("clip_end", "clip_end"),
    ):
        value = getattr(params, field)
        if value is not None:
            setattr(cam, attr, value)
    if params.sensor_fit is not None:
        cam.sensor_fit = _FIT_TO_BLENDER[params.sensor_fit]
    dof = cam.dof
    if params.use_dof is not None:
        dof.use_dof = params.use_dof
    if params.fstop is not None:
        dof.aperture_fstop = params.fstop
    if params.focus_distance is not None:
        dof.focus_distance = params.focus_distance
    if params.focus_target is not None:
        dof.focus_object = index.get(params.focus_target) if params.focus_target else None


def read_camera(obj: bpy.types.Object) -> CameraParams:
    cam = obj.data
    dof = cam.dof
    target = dof.focus_object
    return CameraParams(
        lens=rounded([cam.lens])[0],
        sensor_width=rounded([cam.sensor_width])[0],
        sensor_height=rounded([cam.sensor_height])[0],
        sensor_fit=_FIT_FROM_BLENDER[cam.sensor_fit],
        use_dof=dof.use_dof,
        fstop=rounded([dof.aperture_fstop])[0],
        focus_distance=rounded([dof.focus_distance])[0],
        focus_target="" if target is None else (uuid_of(target) or ""),
        clip_start=rounded([cam.clip_start])[0],
        clip_end=rounded([cam.clip_end])[0],
    )


def without_target(params: CameraParams) -> CameraParams:
    return _replace(params, focus_target=None)


def _replace(params: CameraParams, **changes) -> CameraParams:
    fields = {f: getattr(params, f) for f in params.__slots__}
    fields.update(changes)
    return CameraParams(**fields)
