"""Renderers: turn the stage's Blender scene into pixels, in a process that owns its own bpy.

The thin-lens math and the camera-body table they use are the ``optics`` package."""

from ._blender import Frame, display, image_format, render_frame, render_still
from ._bokeh import BokehKernel, defocus, defocus_frame, heart, star
from ._denoise import denoise
from ._egl import egl_available
from ._feed import ViewFeed
from ._focal_stack import focus_sweep, render_focal_stack
from ._lens_blur import camera_kernel, lens_blur, picture_width_mm
from ._pool import WorkerPool
from ._progressive import Picture, ProgressiveView, preview
from ._settings import RESOLUTION_PRESETS, RenderSettings
from ._stills import render_stage, render_stage_focal_stack, render_stage_frames
from ._video import write_video
from ._worker import RenderWorker

__all__ = [
    "RESOLUTION_PRESETS",
    "BokehKernel",
    "Frame",
    "Picture",
    "ProgressiveView",
    "RenderSettings",
    "RenderWorker",
    "ViewFeed",
    "WorkerPool",
    "camera_kernel",
    "defocus",
    "defocus_frame",
    "denoise",
    "display",
    "egl_available",
    "focus_sweep",
    "heart",
    "image_format",
    "lens_blur",
    "picture_width_mm",
    "preview",
    "render_focal_stack",
    "render_frame",
    "render_stage",
    "render_stage_focal_stack",
    "render_stage_frames",
    "render_still",
    "star",
    "write_video",
]
