"""What to render with: engine, resolution, samples."""

from __future__ import annotations

import dataclasses
from typing import Literal, get_args

from protocols import InvalidArgument, RenderEngine

FocalStackMethod = Literal["post", "cycles"]  # a thin-lens blur of one render, or a Cycles render a step


RESOLUTION_PRESETS: dict[str, tuple[int, int]] = {
    "preview": (320, 180),
    "hd": (1280, 720),
    "fhd": (1920, 1080),
}
MAX_SIDE = 16_384
MAX_SAMPLES = 65_536


@dataclasses.dataclass(frozen=True, slots=True)
class RenderSettings:
    """``resolution`` is a preset name (``preview``, ``hd``, ``fhd``) or ``(width, height)`` pixels.

    ``samples`` is Cycles' and EEVEE's sample count, and Workbench's anti-aliasing level.
    Cycles' denoiser costs ~0.6 s a frame, so it is off unless ``denoise`` asks for it.
    """

    engine: RenderEngine = "cycles"
    resolution: str | tuple[int, int] = "preview"
    samples: int = 16
    denoise: bool = False

    def __post_init__(self) -> None:
        if self.engine not in get_args(RenderEngine):
            raise InvalidArgument(
                f"engine {self.engine!r} is not one of {', '.join(get_args(RenderEngine))}", field="engine"
            )
        if isinstance(self.resolution, str):
            if self.resolution not in RESOLUTION_PRESETS:
                raise InvalidArgument(
                    f"resolution preset {self.resolution!r} is not one of {', '.join(RESOLUTION_PRESETS)}",
                    field="resolution",
                )
        elif not (
            isinstance(self.resolution, tuple)
            and len(self.resolution) == 2
            and all(isinstance(n, int) and not isinstance(n, bool) for n in self.resolution)
            and all(1 <= n <= MAX_SIDE for n in self.resolution)
        ):
            raise InvalidArgument(
                f"resolution must be a preset name or (width, height) with sides in 1..{MAX_SIDE}, "
                f"got {self.resolution!r}",
                field="resolution",
            )
        if isinstance(self.samples, bool) or not isinstance(self.samples, int):
            raise InvalidArgument(f"samples must be an integer, got {self.samples!r}", field="samples")
        if not 1 <= self.samples <= MAX_SAMPLES:
            raise InvalidArgument(f"samples = {self.samples} is not in 1..{MAX_SAMPLES}", field="samples")

    @property
    def size(self) -> tuple[int, int]:
        """``(width, height)`` in pixels."""
        if isinstance(self.resolution, str):
            return RESOLUTION_PRESETS[self.resolution]
        return self.resolution

    @property
    def width(self) -> int:
        return self.size[0]

    @property
    def height(self) -> int:
        return self.size[1]
