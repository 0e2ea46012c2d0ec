"""The newest frame of one view, written on the trio thread and read by its video track."""

from __future__ import annotations

import collections
import threading
import time

import numpy as np

from protocols import RenderedFrame

FPS_WINDOW_S = 2.0


class ViewFeed:
    """Thread-safe holder of a view's newest frame, with the figures the page's stats show."""

    def __init__(self, width: int, height: int) -> None:
        self.size = (width, height)
        self._lock = threading.Lock()
        self._rgb = np.zeros((height, width, 3), np.uint8)
        self._frame: RenderedFrame | None = None
        self._latency_ms = 0.0
        self._arrivals: collections.deque[float] = collections.deque()
        self.updated = 0  # frames received so far
        self.rendered = threading.Event()  # set by the first real picture

    def put(self, frame: RenderedFrame) -> None:
        now = time.time()
        with self._lock:
            self._rgb = frame.rgb
            self._frame = frame
            self._latency_ms = (now - frame.changed_at) * 1000
            self._arrivals.append(now)
            while self._arrivals and self._arrivals[0] < now - FPS_WINDOW_S:
                self._arrivals.popleft()
            self.updated += 1
        self.rendered.set()

    def latest(self) -> np.ndarray:
        """The newest picture (black until the first frame: wait on ``rendered``); the same one
        again if nothing changed."""
        with self._lock:
            return self._rgb

    def stats(self) -> dict[str, float | int | bool | None]:
        """Rendered fps (last 2 s), last render time, change-to-frame latency, stage seq shown,
        the samples the picture holds (0: a preview), whether it has converged, and the Unix time
        of the change it shows."""
        with self._lock:
            frame = self._frame
            now = time.time()
            recent = [t for t in self._arrivals if t >= now - FPS_WINDOW_S]
            return {
                "fps": round(len(recent) / FPS_WINDOW_S, 1),
                "render_ms": None if frame is None else round(frame.render_ms, 1),
                "frame_latency_ms": None if frame is None else round(self._latency_ms, 1),
                "seq": None if frame is None else frame.seq,
                "samples": None if frame is None else frame.samples,
                "converged": None if frame is None else frame.converged,
                "changed_at": None if frame is None else frame.changed_at,
            }
