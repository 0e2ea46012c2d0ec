"""Camera moves written as keyframes: a camera eased from where it is to a new pose (and its focus
with it) over a number of frames, as a dolly and a focus puller would make the move together."""

from __future__ import annotations

from collections.abc import Callable

import bpy
import numpy as np
from mathutils import Matrix

from . import _animation
from ._objects import ROTATION_PROPS
from ._undo import Undo, guard_props

_ROTATION_CHANNEL = {"QUATERNION": ("rotation_quaternion", 4), "AXIS_ANGLE": ("rotation_axis_angle", 4)}

Channel = tuple[str, int]  # (path, index) of a keyed property


def drop_move_keys(camera: bpy.types.Object, undo: Undo) -> None:
    """A cut replaces the camera's keyed moves: without this the keys would take it back."""
    for path in ("location", "rotation_quaternion", "rotation_euler", "rotation_axis_angle"):
        _animation.drop_keys(camera, path, undo)


def key_move(
    camera: bpy.types.Object,
    undo: Undo,
    start: Matrix,
    end: Matrix,
    frames: np.ndarray,
    ease: Callable[[np.ndarray], np.ndarray],
    focus_at: Callable[[], float] | None,
) -> tuple[Channel, ...]:
    """Key ``camera`` from world pose ``start`` to ``end`` at ``frames`` (eased: ``ease`` maps 0…1
    time to 0…1 progress); with ``focus_at`` (the focus, from the lens, for the pose the camera is
    in) the focus is keyed along. The camera is left posed as at the scene's current frame.
    Returns the channels keyed."""
    previous = _animation.read_curves(camera)
    undo.on_undo(lambda: _animation.write_curves(camera, previous))
    guard_props(undo, lambda: camera, ("location", *ROTATION_PROPS))
    guard_props(undo, lambda: camera.data.dof, ("focus_distance",))
    rotation_path, _ = _ROTATION_CHANNEL.get(camera.rotation_mode, ("rotation_euler", 3))
    (l0, r0, s0), (l1, r1, _) = start.decompose(), end.decompose()

    def pose(p: float) -> None:
        camera.matrix_world = Matrix.LocRotScale(l0.lerp(l1, p), r0.slerp(r1, p), s0)

    samples: dict[Channel, list[float]] = {}
    for p in ease(np.linspace(0.0, 1.0, len(frames))):
        pose(float(p))
        values = [
            ("location", tuple(camera.location)),
            (rotation_path, tuple(getattr(camera, rotation_path))),
        ]
        if focus_at is not None:
            values.append((_animation.FOCUS_PATH, (focus_at(),)))
        for path, components in values:
            for index, value in enumerate(components):
                samples.setdefault((path, index), []).append(float(value))
    for (path, index), series in samples.items():
        on_data = path.startswith(_animation.DATA_PREFIX)
        owner, prop = (camera.data, path[len(_animation.DATA_PREFIX) :]) if on_data else (camera, path)
        _animation.key_values(owner, prop, frames, np.asarray(series), index=index)
    span = max(float(frames[-1] - frames[0]), 1.0)
    now = float(np.clip((bpy.context.scene.frame_current - frames[0]) / span, 0.0, 1.0))
    pose(float(ease(np.asarray([now]))[0]))
    if focus_at is not None:
        camera.data.dof.focus_distance = focus_at()
    return tuple(samples)
