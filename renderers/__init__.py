"""Renderers: turn the stage's Blender scene into pixels, in a process that owns its own bpy.

The thin-lens math and the camera-body table they use are the ``optics`` package."""

from ._blender import Frame, render_frame, render_still
from ._bokeh import BokehKernel, defocus, defocus_frame, heart, star
from ._egl import egl_available
from ._feed import ViewFeed
from ._focal_stack import focus_sweep, render_focal_stack
from ._pool import WorkerPool
from ._settings import RESOLUTION_PRESETS, RenderSettings
from ._stills import render_stage, render_stage_focal_stack, render_stage_frames
from ._video import write_video
from ._worker import RenderWorker

__all__ = [
    "RESOLUTION_PRESETS",
    "BokehKernel",
    "Frame",
    "RenderSettings",
    "RenderWorker",
    "ViewFeed",
    "WorkerPool",
    "defocus",
    "defocus_frame",
    "egl_available",
    "focus_sweep",
    "heart",
    "render_focal_stack",
    "render_frame",
    "render_stage",
    "render_stage_focal_stack",
    "render_stage_frames",
    "render_still",
    "star",
    "write_video",
]
