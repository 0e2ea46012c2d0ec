"""The bokeh post-process as a camera's own lens draws it: its iris, its focus, its frame."""

from __future__ import annotations

import bpy
import numpy as np

from scene import desqueezed_width, focus_distance, frame_fit

from ._blender import Frame
from ._bokeh import BokehKernel, defocus_frame


def camera_kernel(camera: bpy.types.Object) -> BokehKernel:
    """The camera's iris: its blade count and rotation, and its lens's squeeze."""
    dof = camera.data.dof
    return BokehKernel.iris(int(dof.aperture_blades), float(dof.aperture_rotation), float(dof.aperture_ratio))


def picture_width_mm(camera: bpy.types.Object, width_px: int, height_px: int) -> float:
    """How many millimetres of the sensor the rendered picture's width spans, desqueezed (square
    pixels: the same millimetres per pixel as its height)."""
    cam = camera.data
    fit = frame_fit(cam, width_px, height_px)
    if fit == "AUTO":
        fit = "HORIZONTAL" if width_px >= height_px else "VERTICAL"
    if fit == "HORIZONTAL":
        return desqueezed_width(cam)
    return cam.sensor_height * width_px / height_px


def lens_blur(
    frame: Frame, camera: bpy.types.Object, focus_m: float | None = None, kernel: BokehKernel | None = None
) -> np.ndarray:
    """``frame`` (rendered through ``camera`` without depth of field, with depth) defocused as the
    camera's lens would at its f-stop and focus (or ``focus_m``); the frame's kind of colour."""
    cam = camera.data
    height, width = frame.depth.shape if frame.depth is not None else frame.rgb.shape[:2]
    return defocus_frame(
        frame,
        cam.lens,
        cam.dof.aperture_fstop,
        focus_distance(camera) if focus_m is None else focus_m,
        picture_width_mm(camera, width, height),
        kernel or camera_kernel(camera),
    )
