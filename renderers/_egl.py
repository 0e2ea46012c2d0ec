"""Can Workbench / EEVEE run here? They need EGL; without it a render aborts the process.

So the answer comes from a short child process that renders a 4×4 Workbench frame, once per
process; when it fails, those engines fall back to Cycles.
"""

from __future__ import annotations

import functools
import logging
import subprocess
import sys

from protocols import RenderEngine

logger = logging.getLogger("stagecraft.render")

PROBE_TIMEOUT_S = 120.0

_PROBE = """
import bpy
scene = bpy.context.scene
scene.render.engine = "BLENDER_WORKBENCH"
scene.render.resolution_x = scene.render.resolution_y = 4
scene.render.resolution_percentage = 100
bpy.ops.render.render()
"""

_NEEDS_EGL = frozenset({"workbench", "eevee"})


@functools.cache
def egl_available() -> bool:
    """Whether a Workbench render works in a child process (probed once per process)."""
    try:
        probe = subprocess.run(
            [sys.executable, "-c", _PROBE],
            capture_output=True,
            timeout=PROBE_TIMEOUT_S,
            check=False,
        )
    except subprocess.TimeoutExpired:
        logger.warning(
            "EGL probe: a 4×4 Workbench render did not finish in %.0f s; "
            "Workbench and EEVEE renders will use Cycles instead",
            PROBE_TIMEOUT_S,
        )
        return False
    if probe.returncode != 0:
        tail = probe.stderr.decode(errors="replace").strip().splitlines()[-1:] or ["no output"]
        logger.warning(
            "EGL probe: a 4×4 Workbench render failed (exit status %d: %s); install Mesa EGL "
            "(libegl1 libegl-mesa0 libgl1-mesa-dri). Workbench and EEVEE renders will use Cycles instead",
            probe.returncode,
            tail[0],
        )
        return False
    return True


def usable_engine(engine: RenderEngine) -> RenderEngine:
    """``engine``, or ``"cycles"`` when it needs EGL and EGL is missing."""
    if engine in _NEEDS_EGL and not egl_available():
        logger.info("rendering with cycles instead of %s (no EGL)", engine)
        return "cycles"
    return engine
