"""Renderers: turn the stage's Blender scene into pixels, in a process that owns its own bpy."""

from ._blender import Frame, render_frame, render_still
from ._bodies import COC_RULES, CameraBody, Lens, LensKind, OpticsTable, default_optics
from ._bokeh import BokehKernel, defocus, defocus_frame, heart, star
from ._egl import egl_available
from ._focal_stack import focus_sweep, render_focal_stack
from ._optics import (
    MIN_FSTOP,
    SHOT_SIZES,
    FieldOfView,
    OpticsReadout,
    blur_px,
    coc_diameter_mm,
    depth_of_field_m,
    dof_limits_m,
    dolly_zoom_distance_m,
    field_of_view_rad,
    framing_distance_m,
    hyperfocal_m,
    optics_readout,
)
from ._settings import RESOLUTION_PRESETS, Engine, RenderSettings
from ._stills import render_stage, render_stage_focal_stack
from ._video import write_video
from ._worker import RenderWorker

__all__ = [
    "COC_RULES",
    "MIN_FSTOP",
    "RESOLUTION_PRESETS",
    "SHOT_SIZES",
    "BokehKernel",
    "CameraBody",
    "Engine",
    "FieldOfView",
    "Frame",
    "Lens",
    "LensKind",
    "OpticsReadout",
    "OpticsTable",
    "RenderSettings",
    "RenderWorker",
    "blur_px",
    "coc_diameter_mm",
    "default_optics",
    "defocus",
    "defocus_frame",
    "depth_of_field_m",
    "dof_limits_m",
    "dolly_zoom_distance_m",
    "egl_available",
    "field_of_view_rad",
    "focus_sweep",
    "framing_distance_m",
    "heart",
    "hyperfocal_m",
    "optics_readout",
    "render_focal_stack",
    "render_frame",
    "render_stage",
    "render_stage_focal_stack",
    "render_still",
    "star",
    "write_video",
]
