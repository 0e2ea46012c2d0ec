"""Video frames with PyAV (MP4 / MOV / WebM …), trimmed to an in / out time."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import av
import numpy as np

from protocols import InvalidArgument, NotFound

MAX_FRAMES = 3000
# FFmpeg demuxers of single pictures (a PNG or JPEG is "a video" of one frame to FFmpeg)
STILL_FORMATS = {
    "png_pipe", "jpeg_pipe", "webp_pipe", "bmp_pipe", "tiff_pipe", "image2", "exr_pipe",
    "dpx_pipe", "pam_pipe", "ppm_pipe", "pgm_pipe", "psd_pipe", "qoi_pipe", "svg_pipe",
}  # fmt: skip


@dataclass(frozen=True)
class Video:
    """Decoded RGB ``frames`` T×H×W×3 (uint8) at ``fps``, starting ``start`` seconds in."""

    frames: np.ndarray
    fps: float
    start: float


def read_video(
    path: str | Path, trim_in: float | None = None, trim_out: float | None = None, name: str | None = None
) -> Video:
    """The frames of ``path`` between ``trim_in`` and ``trim_out`` seconds (whole video by default).

    Errors call the file ``name`` (the user's own name for it; default: ``path``).
    """
    path = Path(path)
    shown = repr(name if name is not None else str(path))
    if not path.is_file():
        raise NotFound(f"video file {shown} does not exist", field="video")
    if trim_in is not None and trim_out is not None and trim_out <= trim_in:
        raise InvalidArgument(f"trim out ({trim_out} s) is not after trim in ({trim_in} s)", field="trim_out")
    frames, times = [], []
    try:
        with av.open(str(path)) as container:
            if not container.streams.video:
                raise InvalidArgument(f"{shown} has no video stream", field="video")
            if container.format.name in STILL_FORMATS:
                raise InvalidArgument(
                    f"{shown} is a still image ({container.format.name}); mocap needs a video", field="video"
                )
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
                        f"{shown} holds more than {MAX_FRAMES} frames in the trim; trim it",
                        field="video",
                    )
    except av.error.FFmpegError as exc:
        raise InvalidArgument(
            f"{shown} is not a readable video (truncated or not a video file): {_without_path(exc, path)}",
            field="video",
        ) from exc
    if not frames:
        raise InvalidArgument(f"{shown} has no video frames in the trim", field="video")
    if len(frames) < 2:
        raise InvalidArgument(f"{shown} holds one frame: a still image; mocap needs a video", field="video")
    if fps <= 0:
        fps = (len(times) - 1) / (times[-1] - times[0]) if len(times) > 1 and times[-1] > times[0] else 25.0
    return Video(frames=np.stack(frames), fps=fps, start=times[0])


def _without_path(error: Exception, path: Path) -> str:
    """FFmpeg's message with the file's path (perhaps a temporary copy) left out."""
    return str(error).replace(f": '{path}'", "").replace(str(path), "the file")
