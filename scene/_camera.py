"""Cameras: lens, sensor, depth of field (with a focus target node) and clip range."""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import bpy

from optics import Lens, OpticsTable, marked_distance_m, object_distance_m
from protocols import CameraParams, InvalidArgument, SensorFit

from ._ids import Index, uuid_of
from ._mapping import Mapping, Setting
from ._objects import rounded_scalar
from ._undo import Undo

_FIT_TO_BLENDER: dict[SensorFit, str] = {"auto": "AUTO", "horizontal": "HORIZONTAL", "vertical": "VERTICAL"}
_FIT_FROM_BLENDER: dict[str, SensorFit] = {v: k for k, v in _FIT_TO_BLENDER.items()}


CAMERA_BODY_KEY = "stagecraft_camera_body"  # on camera data: its body's name in the optics table
_LEGACY_BODY_KEY = "stagecraft_body"  # what snapshots written before 2026-12 call it
COC_KEY = "stagecraft_coc_mm"
LENS_KEY = "stagecraft_lens"  # on camera data: the optics-table lens it wears
AREA_KEY = "stagecraft_recording_area"  # on camera data: its body's recording area in use
BREATHING_KEY = "stagecraft_breathing"  # on camera data: the view lost per dioptre of focus
BLENDER_DEFAULT_FSTOP = 2.8  # a new camera's f-number
BLENDER_DEFAULT_FOCAL_MM = 50.0  # a new camera's focal length


def resolve_target(
    index: Index, camera: bpy.types.Object | None, params: CameraParams, optics: OpticsTable
) -> CameraParams:
    """``params`` with ``focus_target`` as a UUID ("" kept: it clears the target) and a ``body``
    expanded into its sensor size and circle of confusion (explicit fields win)."""
    params = _with_lens(camera, params, optics)
    params = _with_area(camera, params, optics)
    if params.focus_distance is not None:  # a lens forms no image closer than 4f
        focal = params.lens or (camera.data.lens if camera is not None else BLENDER_DEFAULT_FOCAL_MM)
        object_distance_m(focal, params.focus_distance, "camera.focus_distance")
    if params.body is None and camera is not None and _leaves_body(camera.data, params, optics):
        params = _replace(params, body="")  # a sensor set by hand: no longer that body
    if params.body:
        body = optics.body(params.body, field="camera.body")
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


def _with_area(camera: bpy.types.Object | None, params: CameraParams, optics: OpticsTable) -> CameraParams:
    """A recording area expands into its extent on the sensor and its circle of confusion, on the
    body given or the one the camera has; ``""`` goes back to the body's whole sensor."""
    if params.recording_area is None:
        return params
    name = params.body or (body_name(camera.data) if camera is not None else None)
    if not name:
        if params.recording_area == "":
            return params
        raise InvalidArgument(
            "a recording area is a camera body's: give camera.body too (or first)",
            field="camera.recording_area",
        )
    body = optics.body(name, field="camera.body")
    if params.recording_area == "":
        width, height, coc = body.sensor_width_mm, body.sensor_height_mm, body.coc_mm
    else:
        width, height = body.area(params.recording_area, field="camera.recording_area")
        coc = body.area_coc_mm(params.recording_area)
    return _replace(
        params,
        body=name,
        sensor_width=params.sensor_width or width,
        sensor_height=params.sensor_height or height,
        coc_mm=params.coc_mm or coc,
    )


def set_focal_length(cam: bpy.types.Camera, focal_mm: float) -> None:
    """A new focal length, the focus keeping its mark (from the film plane), as on a real camera."""
    marked = marked_focus_m(cam)
    cam.lens = focal_mm
    cam.dof.focus_distance = _lens_to_subject(focal_mm, marked)


def _lens_to_subject(focal_mm: float, marked_m: float) -> float:
    """The subject's distance from the lens for a kept focus mark; a mark closer than this lens
    can focus (4f) goes to 4f."""
    return float(object_distance_m(focal_mm, max(marked_m, 4.0 * focal_mm / 1000.0)))


def marked_focus_m(cam: bpy.types.Camera) -> float:
    """The camera's focus distance as its lens is marked: from the film plane (Blender's
    ``dof.focus_distance`` is the subject's distance from the lens)."""
    # a subject nearer than 2f is never in focus: such a distance (set in an artist's Blender)
    # reads as the closest mark a lens has, 4f
    lens_to_subject = max(float(cam.dof.focus_distance), 2.0 * cam.lens / 1000.0)
    return rounded_scalar(marked_distance_m(cam.lens, lens_to_subject))


def breathing(cam: bpy.types.Camera) -> float:
    """The share of the angle of view its lens loses per dioptre of focus (0: it does not breathe)."""
    return rounded_scalar(cam.get(BREATHING_KEY, 0.0))


def area_name(cam: bpy.types.Camera) -> str | None:
    """The recording area of its body this camera records, if one was chosen."""
    return cam.get(AREA_KEY)


def lens_name(cam: bpy.types.Camera) -> str | None:
    """The optics-table lens this camera wears, if any."""
    return cam.get(LENS_KEY)


def glass(cam: bpy.types.Camera | None, optics: OpticsTable) -> Lens | None:
    """The lens a camera wears, from the optics table (None for a focal length set by hand)."""
    name = None if cam is None else lens_name(cam)
    return None if name is None else optics.lenses.get(name)


def wear(camera: bpy.types.Object, lens: Lens | None) -> None:
    """Mount ``lens`` on ``camera`` (None: a focal length of its own): its stop and, when focused
    by hand, its focus move within the lens's reach."""
    dof = camera.data.dof
    if lens is None:
        for key in (LENS_KEY, BREATHING_KEY):
            if key in camera.data:
                del camera.data[key]
        return
    camera.data[LENS_KEY] = lens.name
    camera.data[BREATHING_KEY] = lens.breathing_per_dioptre
    dof.aperture_fstop = lens.clamped_fstop(dof.aperture_fstop)
    if dof.focus_object is None:
        focal = camera.data.lens
        dof.focus_distance = object_distance_m(focal, lens.clamped_focus(marked_focus_m(camera.data)))


def _with_lens(camera: bpy.types.Object | None, params: CameraParams, optics: OpticsTable) -> CameraParams:
    """``params`` with a named lens expanded (focal length, squeeze, the stop and focus moved
    within its reach), a focal length set by hand leaving the lens, and what the lens in effect
    cannot take refused."""
    cam = None if camera is None else camera.data
    if params.lens_name:
        lens = optics.lens(params.lens_name, field="camera.lens_name")
        current = cam.dof.aperture_fstop if cam is not None else BLENDER_DEFAULT_FSTOP
        params = _replace(
            params, lens=params.lens or lens.focal_mm, squeeze=params.squeeze or lens.squeeze,
            fstop=params.fstop if params.fstop is not None else lens.clamped_fstop(current),
            breathing=params.breathing if params.breathing is not None else lens.breathing_per_dioptre,
        )  # fmt: skip
        if cam is not None and cam.dof.focus_object is None and params.focus_distance is None:
            marked = marked_focus_m(cam)
            reachable = lens.clamped_focus(marked)
            if reachable != marked:
                params = _replace(params, focus_distance=reachable)  # as near as it focuses
    elif params.lens_name is None and params.lens is not None and cam is not None:
        worn = glass(cam, optics)
        if lens_name(cam) is not None and (worn is None or abs(worn.focal_mm - params.lens) > 1e-6):
            params = _replace(params, lens_name="", breathing=0.0)  # a focal length by hand: not that lens
    wearing = glass(cam, optics) if params.lens_name is None else optics.lenses.get(params.lens_name)
    if wearing is not None and params.fstop is not None:
        wearing.check_fstop(params.fstop)
    if wearing is not None and params.focus_distance is not None:
        wearing.check_focus(params.focus_distance)
    return params


def _leaves_body(cam: bpy.types.Camera, params: CameraParams, optics: OpticsTable) -> bool:
    """Whether ``params`` give a camera that has a body a sensor size other than the body's (its
    whole sensor or one of its recording areas)."""
    name = body_name(cam)
    if name is None or (params.sensor_width is None and params.sensor_height is None):
        return False
    body = optics.bodies.get(name)
    width = params.sensor_width if params.sensor_width is not None else cam.sensor_width
    height = params.sensor_height if params.sensor_height is not None else cam.sensor_height
    if body is None:
        return True
    sizes = [(body.sensor_width_mm, body.sensor_height_mm), *body.recording_areas.values()]
    return not any(
        math.isclose(width, w, abs_tol=1e-4) and math.isclose(height, h, abs_tol=1e-4) for w, h in sizes
    )


def frame_fit(cam: bpy.types.Camera, width: float, height: float) -> str:
    """Blender's sensor fit for a ``width`` × ``height`` picture: a camera body keeps the frame
    inside its sensor as seen desqueezed (the sensor's width on a picture wider than that, else
    its height), as a real camera records; a camera without one keeps its own fit."""
    if body_name(cam) is None:
        return cam.sensor_fit
    sensor = desqueezed_width(cam) / cam.sensor_height
    return "HORIZONTAL" if width / height >= sensor else "VERTICAL"


def desqueezed_width(cam: bpy.types.Camera) -> float:
    """The sensor's width as the picture shows it: an anamorphic lens squeezes ``squeeze`` times
    that much of the view onto it, and viewing stretches it back."""
    return float(cam.sensor_width * cam.dof.aperture_ratio)


def body_name(cam: bpy.types.Camera) -> str | None:
    """The camera body this camera was set to, if any."""
    return cam.get(CAMERA_BODY_KEY, cam.get(_LEGACY_BODY_KEY))


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


CAMERA = Mapping(
    Setting("lens", "lens"),
    Setting("sensor_width", "sensor_width"),
    Setting("sensor_height", "sensor_height"),
    Setting("sensor_fit", "sensor_fit", _FIT_TO_BLENDER.__getitem__, _FIT_FROM_BLENDER.__getitem__),
    Setting("clip_start", "clip_start"),
    Setting("clip_end", "clip_end"),
    Setting("use_dof", "dof.use_dof", from_blender=bool),
    Setting("fstop", "dof.aperture_fstop"),
    Setting("squeeze", "dof.aperture_ratio"),
    Setting("blades", "dof.aperture_blades", from_blender=int),
    Setting("blade_rotation", "dof.aperture_rotation"),
)  # besides these: the focus distance (from the film plane: Blender's is from the lens), the focus
#   target (a node), the body, its recording area and circle of confusion (custom props)


def focus_bone(target: bpy.types.Object | None) -> str:
    """The bone a camera focused on ``target`` holds sharp: a character's eye (its rig's first eye
    bone), else its head bone; "" (the object's origin) for anything else."""
    if target is None or target.type != "ARMATURE":
        return ""
    names = [b.name for b in target.data.bones]
    eyes = [n for n in names if "eye" in n.lower()]
    heads = [n for n in names if n.lower().endswith("head")]  # "head", "mixamorig:Head"
    return (eyes or heads or [""])[0]


def apply_camera(index: Index, obj: bpy.types.Object, params: CameraParams) -> None:
    cam = obj.data
    kept = marked_focus_m(cam)
    CAMERA.apply(cam, params)
    # focus is marked from the film plane and a new focal length keeps the mark (Blender's is the
    # subject's distance from the lens, which the mark gives for the lens now)
    if params.focus_distance is not None:
        cam.dof.focus_distance = object_distance_m(cam.lens, params.focus_distance, "camera.focus_distance")
    else:
        cam.dof.focus_distance = _lens_to_subject(cam.lens, kept)
    if params.focus_target is not None:
        cam.dof.focus_object = index.get(params.focus_target) if params.focus_target else None
        cam.dof.focus_subtarget = focus_bone(cam.dof.focus_object)  # Blender's own DOF follows it
    if params.body:
        cam[CAMERA_BODY_KEY] = params.body
    elif params.body == "":  # no body: the circle of confusion follows the sensor, unless given
        for key in (CAMERA_BODY_KEY, _LEGACY_BODY_KEY) + (() if params.coc_mm is not None else (COC_KEY,)):
            if key in cam:
                del cam[key]
    if params.coc_mm is not None:
        cam[COC_KEY] = params.coc_mm
    if params.lens_name:
        cam[LENS_KEY] = params.lens_name
    elif params.lens_name == "" and LENS_KEY in cam:
        del cam[LENS_KEY]
    if params.breathing:
        cam[BREATHING_KEY] = params.breathing
    elif params.breathing is not None and BREATHING_KEY in cam:
        del cam[BREATHING_KEY]
    if params.recording_area:
        cam[AREA_KEY] = params.recording_area
    elif (params.recording_area == "" or params.body is not None) and AREA_KEY in cam:
        del cam[AREA_KEY]  # the whole sensor, another body, or none


def read_camera(obj: bpy.types.Object) -> CameraParams:
    cam = obj.data
    target = cam.dof.focus_object
    return CameraParams(
        **CAMERA.read(cam),
        focus_distance=marked_focus_m(cam),
        focus_target="" if target is None else (uuid_of(target) or ""),
        body=body_name(cam),
        coc_mm=rounded_scalar(cam[COC_KEY]) if COC_KEY in cam else None,
        lens_name=lens_name(cam),
        recording_area=area_name(cam),
        breathing=breathing(cam),
    )


def guard_camera(undo: Undo, obj: bpy.types.Object) -> None:
    """Register how to put back every camera setting of ``obj`` (the table, the target, the body)."""
    CAMERA.guard(undo, lambda: obj.data, "dof.focus_object", "dof.focus_subtarget", "dof.focus_distance")
    keys = (CAMERA_BODY_KEY, COC_KEY, LENS_KEY, AREA_KEY, BREATHING_KEY)
    saved = {key: obj.data[key] for key in keys if key in obj.data}

    def restore() -> None:
        for key in keys:
            if key in saved:
                obj.data[key] = saved[key]
            elif key in obj.data:
                del obj.data[key]

    undo.on_undo(restore)


def without_target(params: CameraParams) -> CameraParams:
    return _replace(params, focus_target=None)


def _replace(params: CameraParams, **changes: Any) -> CameraParams:
    return dataclasses.replace(params, **changes)
