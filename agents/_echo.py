"""The ``echo`` agent: returns its params after N progress steps (for tests, and as an example).

Params: ``steps`` (int, default 3), ``delay`` (seconds of work per step, default 0),
``fail`` (a message: fail the job with the code ``echo_failed`` after the steps), ``frame``
(``{"camera": NAME, "width": W, "height": H}``: also render that camera's RGB and depth with the
SDK's frame request and return them as arrays).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from protocols import FrameRequest, Frames, from_wire

from ._sdk import JobContext, JobError

KINDS = ("echo",)


def echo(job: JobContext, progress: Callable[[float, str], None]) -> dict[str, Any]:
    steps, delay = job.params.get("steps", 3), job.params.get("delay", 0.0)
    if not isinstance(steps, int) or isinstance(steps, bool) or not 0 <= steps <= 10_000:
        raise JobError("bad_input", "steps must be an integer in [0, 10000]")
    if not isinstance(delay, int | float) or isinstance(delay, bool) or not 0 <= delay <= 60:
        raise JobError("bad_input", "delay must be a number of seconds in [0, 60]")
    for step in range(steps):
        time.sleep(delay)  # stands in for real work
        progress((step + 1) / steps, f"step {step + 1}/{steps}")
    if "fail" in job.params:
        raise JobError("echo_failed", str(job.params["fail"]))
    result: dict[str, Any] = {"params": job.params, "attempt": job.attempt}
    if "frame" in job.params:
        frame = job.frames(from_wire(FrameRequest, job.params["frame"], Frames()))
        result.update(seq=frame.seq, rgb=frame.rgb, depth=frame.depth)
    return result
