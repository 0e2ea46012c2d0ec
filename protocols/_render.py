"""Render workers: what the streaming service asks a worker to render, and the frames it sends back.

A worker is a separate process with its own bpy that follows the stage like any client. It
connects a DEALER to the streaming service's ROUTER, says ``worker_ready``, and is then sent
``render_view`` / ``drop_view``. It answers with a ``frame`` (RGB as one raw frame) whenever a
view's picture may have changed, or ``view_error`` when a view cannot be rendered.
"""

from __future__ import annotations

from typing import Literal

import numpy as np

from ._checks import check_name, check_range, check_ref, normalized_quaternion
from ._codec import Message, wire
from ._errors import ErrorCode, InvalidArgument
from ._scene import Quat, Vec3

RenderEngine = Literal["workbench", "eevee", "cycles"]
MIN_SIDE = 16
MAX_SIDE = 4096
MAX_PIXELS = 3840 * 2160


def check_view_size(width: int, height: int) -> None:
    """Both sides even and in 16..4096, at most 3840×2160 pixels in all (video encoders need even sides)."""
    for name, side in (("width", width), ("height", height)):
        check_range(name, side, MIN_SIDE, MAX_SIDE, unit=" px")
        if side % 2:
            raise InvalidArgument(f"{name} = {side} px must be even", field=name)
    if width * height > MAX_PIXELS:
        raise InvalidArgument(
            f"{width}×{height} is {width * height} pixels; a view has at most {MAX_PIXELS} (3840×2160)",
            field="width",
        )


@wire("worker_ready")
class WorkerReady(Message):
    """A worker has rebuilt the stage at ``seq`` and takes views (worker → service)."""

    worker: str
    seq: int

    def __post_init__(self) -> None:
        check_name("worker", self.worker)
        check_range("seq", self.seq, 0)


@wire("render_view")
class RenderView(Message):
    """Render view ``view`` from now on, replacing its previous settings (service → worker).

    Through the stage camera ``camera`` (UUID or name; none: the active camera), or — when
    ``location`` and ``rotation`` are given — through a free viewport camera with ``lens`` (mm)
    owned by the worker. ``play`` plays the scene's frame range at its frame rate. ``samples``:
    with Cycles, the samples a still view converges to; else the engine's anti-aliasing samples.
    """

    view: str
    width: int
    height: int
    engine: RenderEngine = "cycles"
    samples: int = 64
    camera: str | None = None
    location: Vec3 | None = None
    rotation: Quat | None = None
    lens: float = 35.0
    play: bool = False

    def __post_init__(self) -> None:
        check_name("view", self.view)
        check_view_size(self.width, self.height)
        check_range("samples", self.samples, 1, 4096)
        check_range("lens", self.lens, 1.0, 5000.0, unit=" mm")
        check_ref("camera", self.camera)
        if (self.location is None) != (self.rotation is None):
            raise InvalidArgument("a viewport needs both location and rotation", field="location")
        if self.camera is not None and self.location is not None:
            raise InvalidArgument("give a stage camera or a viewport pose, not both", field="camera")
        if self.rotation is not None:
            object.__setattr__(self, "rotation", normalized_quaternion("rotation", self.rotation))

    @property
    def viewport(self) -> bool:
        return self.location is not None


@wire("drop_view")
class DropView(Message):
    """Stop rendering view ``view`` and forget it (service → worker)."""

    view: str

    def __post_init__(self) -> None:
        check_name("view", self.view)


@wire("frame")
class RenderedFrame(Message):
    """One rendered picture of ``view`` (worker → service).

    ``seq`` is the stage sequence number it shows, ``frame`` the scene frame, ``render_ms`` the
    render time, ``changed_at`` the worker's Unix time when it learned of the change it shows;
    ``rgb`` is uint8 H×W×3, top row first. ``samples``: the path-traced samples it holds (0: a
    fast preview, or a raster engine's picture); ``converged``: no better picture of this state
    follows.
    """

    view: str
    seq: int
    frame: int
    render_ms: float
    changed_at: float
    rgb: np.ndarray
    samples: int = 0
    converged: bool = True

    def __post_init__(self) -> None:
        check_name("view", self.view)
        check_range("samples", self.samples, 0)
        rgb = self.rgb
        if rgb.dtype != np.uint8 or rgb.ndim != 3 or rgb.shape[2] != 3:
            raise InvalidArgument(f"rgb must be uint8 H×W×3, got {rgb.dtype} {rgb.shape}", field="rgb")
        check_view_size(rgb.shape[1], rgb.shape[0])

    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, RenderedFrame)
            and (
                self.view,
                self.seq,
                self.frame,
                self.render_ms,
                self.changed_at,
                self.samples,
                self.converged,
            )
            == (
                other.view,
                other.seq,
                other.frame,
                other.render_ms,
                other.changed_at,
                other.samples,
                other.converged,
            )
            and np.array_equal(self.rgb, other.rgb)
        )

    __hash__ = None  # type: ignore[assignment]


@wire("view_error")
class ViewError(Message):
    """View ``view`` cannot be rendered as asked (a missing camera …); nothing is sent for it."""

    view: str
    code: ErrorCode
    message: str
    field: str | None = None
