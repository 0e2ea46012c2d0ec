"""Scene-wide settings: the active camera, frame range and rate, and render defaults."""

from __future__ import annotations

import bpy

from protocols import InvalidArgument, SceneSettings

from ._ids import uuid_of


def render_defaults() -> None:
    """Sane defaults for an empty stage: Cycles on CPU, few samples, no denoiser, a grey world."""
    scene = bpy.context.scene
    scene.render.engine = "CYCLES"
    scene.cycles.device = "CPU"
    scene.cycles.samples = 16
    scene.cycles.use_denoising = False
    scene.render.resolution_x, scene.render.resolution_y = 1280, 720
    scene.render.resolution_percentage = 100
    scene.render.fps, scene.render.fps_base = 24, 1.0
    scene.frame_start, scene.frame_end = 1, 250
    scene.frame_set(1)
    world = bpy.data.worlds.new("Stage World")
    world.color = (0.05, 0.05, 0.05)
    scene.world = world


def read_settings() -> SceneSettings:
    scene = bpy.context.scene
    return SceneSettings(
        active_camera=None if scene.camera is None else uuid_of(scene.camera),
        frame_current=scene.frame_current,
        frame_start=scene.frame_start,
        frame_end=scene.frame_end,
        fps=scene.render.fps,
    )


def check_frame_range(current, start, end) -> None:
    """The range that results must not end before it starts; the error names the field given."""
    scene = bpy.context.scene
    field = "start" if end is None else "end"
    start = scene.frame_start if start is None else start
    end = scene.frame_end if end is None else end
    if end < start:
        raise InvalidArgument(f"frame end ({end}) would be before frame start ({start})", field=field)


def apply_frame_range(current=None, start=None, end=None, fps=None) -> None:
    scene = bpy.context.scene
    if start is not None and end is not None and start > scene.frame_end:
        scene.frame_end = end  # widen first so Blender does not clamp the other bound
    if start is not None:
        scene.frame_start = start
    if end is not None:
        scene.frame_end = end
    if fps is not None:
        scene.render.fps, scene.render.fps_base = fps, 1.0
    if current is not None:
        scene.frame_set(current)


def check_camera(obj: bpy.types.Object) -> None:
    if obj.type != "CAMERA":
        raise InvalidArgument(
            f"node {obj.name!r} is a {obj.type.lower()}, not a camera; only cameras can be active",
            field="node",
        )


def set_active_camera(obj: bpy.types.Object | None) -> None:
    bpy.context.scene.camera = obj
