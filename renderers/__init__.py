"""Renderers: turn the stage's Blender scene into pixels, in a process that owns its own bpy."""

from ._blender import Frame, render_frame, render_still
from ._egl import egl_available
from ._settings import RESOLUTION_PRESETS, Engine, RenderSettings

__all__ = [
    "RESOLUTION_PRESETS",
    "Engine",
    "Frame",
    "RenderSettings",
    "egl_available",
    "render_frame",
    "render_still",
]
