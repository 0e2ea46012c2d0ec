"""Video frames with PyAV (MP4 / MOV / WebM …), trimmed to an in / out time."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import av
import numpy as np

from protocols import InvalidArgument, NotFound

MAX_FRAMES = 3000


@dataclass(frozen=True)
class Video:
    """Decoded RGB ``frames`` T×H×W×3 (uint8) at ``fps``, starting ``start`` seconds in."""

    frames: np.ndarray
    fps: float
    start: float


def read_video(path: str | Path, trim_in: float | None = None, trim_out: float | None = None) -> Video:
    """The frames of ``path`` between ``trim_in`` and ``trim_out`` seconds (whole video by default)."""
    path = Path(path)
    if not path.is_file():
        raise NotFound(f"video file {str(path)!r} does not exist", field="video")
    if trim_in is not None and trim_out is not None and trim_out <= trim_in:
        raise InvalidArgument(f"trim out ({trim_out} s) is not after trim in ({trim_in} s)", field="trim_out")
    frames, times = [], []
    try:
        with av.open(str(path)) as container:
            if not container.streams.video:
                raise InvalidArgument(f"{str(path)!r} has no video stream", field="video")
            stream = container.streams.video[0]
            fps = float(stream.average_rate or stream.guessed_rate or 0)
            for frame in container.decode(stream):
                time = float(frame.time or 0.0)
                if trim_in is not None and time < trim_in:
                    continue
                if trim_out is not None and time >= trim_out:
                    break
                frames.append(frame.to_ndarray(format="rgb24"))
                times.append(time)
                if len(frames) > MAX_FRAMES:
                    raise InvalidArgument(
                        f"{str(path)!r} holds more than {MAX_FRAMES} frames in the trim; trim it",
                        field="video",
                    )
    except av.error.FFmpegError as exc:
        raise InvalidArgument(
            f"{str(path)!r} is not a readable video (truncated or not a video file): {exc}", field="video"
        ) from exc
    if not frames:
        raise InvalidArgument(f"{str(path)!r} has no video frames in the trim", field="video")
    if fps <= 0:
        fps = (len(times) - 1) / (times[-1] - times[0]) if len(times) > 1 and times[-1] > times[0] else 25.0
    return Video(frames=np.stack(frames), fps=fps, start=times[0])
