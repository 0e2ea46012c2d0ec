"""Frames to a video file with PyAV (H.264 in MP4 when the build has it)."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import av
import numpy as np

from protocols import InvalidArgument


def write_video(frames: Iterable[np.ndarray], path: str | Path, fps: int = 24) -> int:
    """Encode H×W×3 uint8 frames (all the same size) to ``path``; returns the frame count."""
    if not 1 <= fps <= 240:
        raise InvalidArgument(f"fps = {fps} is not in 1..240", field="fps")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    codec = "libx264" if "libx264" in av.codecs_available else "mpeg4"
    count = 0
    stream: av.VideoStream | None = None
    with av.open(str(path), "w") as container:
        for rgb in frames:
            if rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.dtype != np.uint8:
                raise InvalidArgument(
                    f"frames must be H×W×3 uint8, got {rgb.shape} {rgb.dtype}", field="frames"
                )
            even = rgb[: rgb.shape[0] // 2 * 2, : rgb.shape[1] // 2 * 2]  # yuv420p needs even sides
            if stream is None:
                added = container.add_stream(codec, rate=fps)
                assert isinstance(added, av.VideoStream)
                stream = added
                stream.width, stream.height = even.shape[1], even.shape[0]
                stream.pix_fmt = "yuv420p"
            elif (even.shape[1], even.shape[0]) != (stream.width, stream.height):
                raise InvalidArgument("every frame of a video must have the same size", field="frames")
            for packet in stream.encode(
                av.VideoFrame.from_ndarray(np.ascontiguousarray(even), format="rgb24")
            ):
                container.mux(packet)
            count += 1
        if stream is None:
            raise InvalidArgument("a video needs at least one frame", field="frames")
        for packet in stream.encode():
            container.mux(packet)
    return count
