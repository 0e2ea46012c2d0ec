"""Focal stacks: a focus sweep through the scene as a video — the "rack focus scrubber".

Two ways to make one: ``post`` renders the frame once, all in focus with depth and in linear
light, and defocuses it per focus distance with the bokeh post-process (fast; the camera's own
iris and squeeze, or any bokeh shape); ``cycles`` renders
every step with Cycles' own depth of field (slow, physically rendered).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import bpy
import numpy as np

from protocols import InvalidArgument
from scene import keys_muted

from ._blender import _camera, _patched, display, render_frame
from ._bokeh import BokehKernel
from ._lens_blur import camera_kernel, lens_blur
from ._settings import FocalStackMethod, RenderSettings
from ._video import write_video


def focus_sweep(start_m: float, end_m: float, steps: int) -> np.ndarray:
    """``steps`` focus distances from ``start_m`` to ``end_m``, evenly spaced in dioptres (1/m)."""
    if steps < 2:
        raise InvalidArgument(f"a focal stack needs at least 2 steps, got {steps}", field="frames")
    for name, value in (("near", start_m), ("far", end_m)):
        if not value > 0.0:
            raise InvalidArgument(f"{name} focus distance must be > 0 m, got {value}", field=name)
    return 1.0 / np.linspace(1.0 / start_m, 1.0 / end_m, steps)


def render_focal_stack(
    camera_name: str,
    out_path: str | Path,
    distances: np.ndarray,
    *,
    settings: RenderSettings | None = None,
    method: FocalStackMethod = "post",
    kernel: BokehKernel | None = None,
    fps: int = 24,
) -> Path:
    """Render the current scene through ``camera_name`` focused at each of ``distances`` (m, from the
    lens, as Blender's focus is) to a video."""
    settings = settings or RenderSettings()
    camera = _camera(bpy.context.scene, camera_name)
    if method == "post":
        frames = _post_frames(camera, distances, settings, kernel or camera_kernel(camera))
    elif method == "cycles":
        frames = _cycles_frames(camera, distances, settings)
    else:
        raise InvalidArgument(f"method {method!r} is not 'post' or 'cycles'", field="method")
    write_video(frames, out_path, fps)
    return Path(out_path)


def _post_frames(
    camera, distances: np.ndarray, settings: RenderSettings, kernel: BokehKernel
) -> Iterator[np.ndarray]:
    sharp = render_frame(camera.name, settings, depth=True, linear=True, dof=False)
    for distance in distances:
        yield display(lens_blur(sharp, camera, float(distance), kernel))


def _cycles_frames(camera, distances: np.ndarray, settings: RenderSettings) -> Iterator[np.ndarray]:
    cycles = RenderSettings("cycles", settings.resolution, settings.samples, settings.denoise)
    # the sweep overrides a rack focus's keys while it renders (they are left as they were)
    with (
        keys_muted(camera.data, "dof.focus_distance"),
        _patched(camera.data.dof, use_dof=True, focus_object=None),
    ):
        for distance in distances:
            with _patched(camera.data.dof, focus_distance=float(distance)):
                yield render_frame(camera.name, cycles).rgb
