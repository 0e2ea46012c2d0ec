"""A live view's picture, refined while nothing changes, as modern viewports do.

While the view or the scene changes, each picture is a **preview**: Cycles (so the scene's own
lights, materials and shadows) at 1/``PREVIEW_SCALE`` of each side and one sample, denoised
(guided by the render's albedo and normals, so edges and texture stay),
rendered without depth of field and defocused by the bokeh pass on its linear colour and depth
(the camera's iris, f-stop and focus), then scaled up. Once nothing has changed since a picture,
**refinement** passes of Cycles with its own depth of field and a new seed each are added up in
linear light, and each pass's average is denoised and sent: it converges as samples add up,
until the view's sample count is reached; then nothing more is rendered. A pass takes about
``PASS_S`` (at least one sample), so a change waits at most that long. Other engines render once
per change.
"""

from __future__ import annotations

import dataclasses
import time

import bpy
import numpy as np

from protocols import RenderEngine

from ._blender import display, render_frame
from ._denoise import denoise
from ._lens_blur import lens_blur
from ._settings import RenderSettings

PREVIEW_SCALE = 2
PASS_S = 0.3


@dataclasses.dataclass(frozen=True, slots=True, eq=False)
class Picture:
    """One picture of a view: ``samples`` it holds (0: a preview or a raster engine's picture);
    ``converged``: no better one follows until something changes."""

    rgb: np.ndarray
    samples: int
    converged: bool


class ProgressiveView:
    """One view's pictures: ``next`` after a change, and again while ``refining``."""

    def __init__(self, engine: RenderEngine, width: int, height: int, samples: int) -> None:
        self.engine = engine
        self.size = (width, height)
        self.target = samples
        self._sum: np.ndarray | None = None
        self._samples = 0
        self._seconds_per_sample: float | None = None

    @property
    def refining(self) -> bool:
        """Still converging: another ``next(changed=False)`` gives a better picture."""
        return self.engine == "cycles" and self._samples < self.target

    def next(self, camera_name: str, changed: bool) -> Picture:
        """The picture after a change (``changed``: a preview), or the next refinement."""
        width, height = self.size
        if self.engine != "cycles":
            settings = RenderSettings(self.engine, (width, height), self.target)
            return Picture(render_frame(camera_name, settings).rgb, 0, converged=True)
        if changed:
            self._sum, self._samples = None, 0
            return Picture(preview(camera_name, width, height), 0, converged=False)
        return self._refine(camera_name)

    def _refine(self, camera_name: str) -> Picture:
        width, height = self.size
        samples = 1
        if self._seconds_per_sample:
            samples = max(1, min(int(PASS_S / self._seconds_per_sample), self.target - self._samples))
        settings = RenderSettings("cycles", (width, height), samples)
        started = time.perf_counter()
        frame = render_frame(camera_name, settings, linear=True, seed=self._samples)
        self._seconds_per_sample = (time.perf_counter() - started) / samples
        assert frame.linear is not None
        weighted = frame.linear * samples
        self._sum = weighted if self._sum is None else self._sum + weighted
        self._samples += samples
        converged = self._samples >= self.target
        # colour alone: guides rendered through the lens are blurred and noisy where the picture
        # is, and taken as they are they would keep that noise as detail
        rgb = display(denoise(self._sum / self._samples))
        return Picture(rgb, self._samples, converged=converged)


def preview(camera_name: str, width: int, height: int) -> np.ndarray:
    """A fast Cycles picture with the camera's depth of field from the bokeh pass (uint8 H×W×3)."""
    camera = bpy.context.scene.objects[camera_name]
    small = (max(16, width // PREVIEW_SCALE), max(16, height // PREVIEW_SCALE))
    dof = bool(camera.data.dof.use_dof)
    settings = RenderSettings("cycles", small, 1)
    frame = render_frame(camera_name, settings, depth=dof, linear=True, dof=False, guides=True)
    assert frame.linear is not None
    denoised = denoise(frame.linear, frame.albedo, frame.normal, fast=True)
    linear = lens_blur(dataclasses.replace(frame, linear=denoised), camera) if dof else denoised
    return display(_resized(linear, width, height))


def _resized(image: np.ndarray, width: int, height: int) -> np.ndarray:
    """``image`` (H×W×C) resampled bilinearly to ``width`` × ``height`` (pixel centres aligned)."""
    rows = _axis_positions(image.shape[0], height)
    cols = _axis_positions(image.shape[1], width)
    lo_r, t_r = rows
    lo_c, t_c = cols
    top = (
        image[lo_r] * (1 - t_r)[:, None, None]
        + image[np.minimum(lo_r + 1, image.shape[0] - 1)] * t_r[:, None, None]
    )
    left, right = top[:, lo_c], top[:, np.minimum(lo_c + 1, image.shape[1] - 1)]
    return (left * (1 - t_c)[None, :, None] + right * t_c[None, :, None]).astype(np.float32)


def _axis_positions(source: int, target: int) -> tuple[np.ndarray, np.ndarray]:
    coords = np.clip((np.arange(target) + 0.5) * source / target - 0.5, 0, source - 1)
    lo = np.floor(coords).astype(np.intp)
    return lo, (coords - lo).astype(np.float32)
