"""Cameras: lens, sensor, depth of field (with a focus target node) and clip range."""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import bpy

from optics import OpticsTable
from protocols import CameraParams, InvalidArgument, SensorFit

from ._ids import Index, uuid_of
from ._objects import rounded_scalar

_FIT_TO_BLENDER: dict[SensorFit, str] = {"auto": "AUTO", "horizontal": "HORIZONTAL", "vertical": "VERTICAL"}
_FIT_FROM_BLENDER: dict[str, SensorFit] = {v: k for k, v in _FIT_TO_BLENDER.items()}


BODY_KEY = "stagecraft_body"
COC_KEY = "stagecraft_coc_mm"


def resolve_target(
    index: Index, camera: bpy.types.Object, params: CameraParams, optics: OpticsTable
) -> CameraParams:
    """``params`` with ``focus_target`` as a UUID ("" kept: it clears the target) and a ``body``
    expanded into its sensor size and circle of confusion (explicit fields win)."""
    if params.body is not None:
        body = optics.body(params.body)
        params = _replace(
            params,
            sensor_width=params.sensor_width or body.sensor_width_mm,
            sensor_height=params.sensor_height or body.sensor_height_mm,
            coc_mm=params.coc_mm or body.coc_mm,
            sensor_fit=params.sensor_fit or "horizontal",
        )
    if not params.focus_target:
        return params
    target = index.resolve(params.focus_target, "camera.focus_target")
    if target == camera:
        raise InvalidArgument(f"camera {camera.name!r} cannot focus on itself", field="camera.focus_target")
    return _replace(params, focus_target=uuid_of(target))


def coc_mm(cam: bpy.types.Camera) -> float:
    """The camera's circle of confusion: its body's, else the sensor diagonal / 1500."""
    if COC_KEY in cam:
        return float(cam[COC_KEY])
    return math.hypot(cam.sensor_width, cam.sensor_height) / 1500.0


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
    if params.body is not None:
        cam[BODY_KEY] = params.body
    if params.coc_mm is not None:
        cam[COC_KEY] = params.coc_mm
    if params.squeeze is not None:
        dof.aperture_ratio = params.squeeze
    if params.blades is not None:
        dof.aperture_blades = params.blades
    if params.blade_rotation is not None:
        dof.aperture_rotation = params.blade_rotation


def read_camera(obj: bpy.types.Object) -> CameraParams:
    cam = obj.data
    dof = cam.dof
    target = dof.focus_object
    return CameraParams(
        lens=rounded_scalar(cam.lens),
        sensor_width=rounded_scalar(cam.sensor_width),
        sensor_height=rounded_scalar(cam.sensor_height),
        sensor_fit=_FIT_FROM_BLENDER[cam.sensor_fit],
        use_dof=dof.use_dof,
        fstop=rounded_scalar(dof.aperture_fstop),
        focus_distance=rounded_scalar(dof.focus_distance),
        focus_target="" if target is None else (uuid_of(target) or ""),
        clip_start=rounded_scalar(cam.clip_start),
        clip_end=rounded_scalar(cam.clip_end),
        body=cam.get(BODY_KEY),
        coc_mm=rounded_scalar(cam[COC_KEY]) if COC_KEY in cam else None,
        squeeze=rounded_scalar(dof.aperture_ratio),
        blades=dof.aperture_blades,
        blade_rotation=rounded_scalar(dof.aperture_rotation),
    )


def without_target(params: CameraParams) -> CameraParams:
    return _replace(params, focus_target=None)


def _replace(params: CameraParams, **changes: Any) -> CameraParams:
    return dataclasses.replace(params, **changes)
