"""Stills and focus sweeps of a stage, rendered from a replica of it in this process's bpy.

The stage thread never renders: a render takes tens of milliseconds to seconds, and nothing may
touch the scene while it runs. This process takes a snapshot and renders its own copy.
"""

from __future__ import annotations

import re
import tempfile
from pathlib import Path

from protocols import FrameData, FrameRequest, InvalidArgument, NotFound, RenderEngine, StageClient

from ._settings import FocalStackMethod


def render_stage(
    client: StageClient,
    out: Path,
    camera: str | None,
    engine: RenderEngine,
    resolution: str,
    samples: int,
) -> Path:
    """Render the stage's ``camera`` (default: its active camera) to the PNG ``out``."""
    from scene import open_replica

    from ._blender import render_still
    from ._settings import RenderSettings

    settings = RenderSettings(engine=engine, resolution=_resolution(resolution), samples=samples)
    with tempfile.TemporaryDirectory(prefix="stagecraft-render-") as scratch:
        stage = open_replica(client, Path(scratch)).stage
        if camera is None:
            active = stage.scene_settings().active_camera
            if active is None:
                raise NotFound("the stage has no active camera; name one with --camera")
            camera = stage.node_state(active).name
        return render_still(stage.node_state(camera).name, out, settings)


def render_stage_focal_stack(
    client: StageClient,
    out: Path,
    camera: str,
    near_far: tuple[float, float] | None,
    targets: tuple[str, str] | None,
    steps: int,
    method: FocalStackMethod,
    settings_args: tuple[RenderEngine, str, int],
) -> Path:
    """Render a focus sweep of the stage's ``camera`` to the video ``out``.

    The sweep runs from ``near_far`` (metres) or between two target nodes' distances.
    """
    from optics import object_distance_m
    from scene import distance_along_view, focus_point, open_replica

    from ._focal_stack import focus_sweep, render_focal_stack
    from ._settings import RenderSettings

    engine, resolution, samples = settings_args
    settings = RenderSettings(engine=engine, resolution=_resolution(resolution), samples=samples)
    with tempfile.TemporaryDirectory(prefix="stagecraft-render-") as scratch:
        stage = open_replica(client, Path(scratch)).stage
        import bpy

        bpy.context.view_layer.update()
        cam = bpy.data.objects[stage.node_state(camera).name]
        if targets is not None:
            near, far = (
                distance_along_view(cam, focus_point(bpy.data.objects[stage.node_state(t).name]))
                for t in targets
            )
        elif near_far is not None:  # marked from the film plane, as a focus puller reads them
            near, far = (object_distance_m(cam.data.lens, d, "near_far") for d in near_far)
        else:
            raise InvalidArgument("a focal stack needs near/far distances or two targets", field="near_far")
        return render_focal_stack(
            cam.name, out, focus_sweep(near, far, steps), settings=settings, method=method
        )


def _resolution(text: str) -> str | tuple[int, int]:
    match = re.fullmatch(r"(\d+)x(\d+)", text)
    if match:
        return int(match.group(1)), int(match.group(2))
    if not text.isalpha():
        raise InvalidArgument(
            f"resolution {text!r} is neither a preset name nor WIDTHxHEIGHT", field="resolution"
        )
    return text


def render_stage_frames(stage: StageClient, request: FrameRequest) -> FrameData:
    """Render ``request`` in this process: a snapshot of the stage rebuilt in our own bpy.

    bpy has one owner per process: call it from one thread at a time (an agent with
    ``max_jobs=1``, or a lock of your own).
    """
    import numpy as np

    from scene import open_replica

    from ._blender import render_frame
    from ._settings import RenderSettings

    settings = RenderSettings(
        engine=request.engine, resolution=(request.width, request.height), samples=request.samples
    )
    with tempfile.TemporaryDirectory(prefix="stagecraft-frames-") as scratch:
        replica = open_replica(stage, Path(scratch))
        frame = render_frame(replica.stage.node_state(request.camera).name, settings, depth=True)
    assert frame.depth is not None  # asked for
    return FrameData(
        seq=replica.seq,
        camera=request.camera,
        rgb=frame.rgb,
        depth=frame.depth.astype(np.float32, copy=False),
    )
