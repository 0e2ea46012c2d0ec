"""A node's keyframes (on the object and on its data) as AnimationCurves, and back.

Only the properties the stage animates are managed (``protocols`` ``ANIMATABLE``: transforms,
pose bones, a camera's lens and focus); other curves an imported file brings are left alone.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import bpy
import numpy as np
from bpy_extras import anim_utils

from protocols import ANIMATABLE, AnimationCurve

DATA_PREFIX = "data."


def read_curves(obj: bpy.types.Object) -> tuple[AnimationCurve, ...] | None:
    """The managed curves of ``obj`` and its data, sorted by path and index (None: no keys)."""
    curves = []
    for owner, prefix in ((obj, ""), (obj.data, DATA_PREFIX)):
        for fcurve in _fcurves(owner):
            path = prefix + fcurve.data_path
            count = len(fcurve.keyframe_points)
            if not count or not ANIMATABLE.fullmatch(path):
                continue
            co = np.empty(2 * count, dtype=np.float64)
            fcurve.keyframe_points.foreach_get("co", co)
            frames, values = np.round(co[0::2], 4), np.round(co[1::2], 5)
            curves.append(AnimationCurve(path=path, frames=frames, values=values, index=fcurve.array_index))
    curves.sort(key=lambda c: (c.path, c.index))
    return tuple(curves) or None


def read_keys(obj: bpy.types.Object, wanted: dict[tuple[str, int], set[float]]) -> tuple[AnimationCurve, ...]:
    """The keys of ``obj`` on the frames ``wanted`` names per curve (path, index), read as
    ``read_curves`` reads them."""
    curves = []
    for owner, prefix in ((obj, ""), (obj.data, DATA_PREFIX)):
        for fcurve in _fcurves(owner):
            path = prefix + fcurve.data_path
            frames_wanted = wanted.get((path, fcurve.array_index))
            count = len(fcurve.keyframe_points)
            if not frames_wanted or not count:
                continue
            co = np.empty(2 * count, dtype=np.float64)
            fcurve.keyframe_points.foreach_get("co", co)
            frames, values = np.round(co[0::2], 4), np.round(co[1::2], 5)
            chosen = np.isin(frames, np.array(sorted(frames_wanted)))
            if chosen.any():
                curve = AnimationCurve(
                    path=path, frames=frames[chosen], values=values[chosen], index=fcurve.array_index
                )
                curves.append(curve)
    curves.sort(key=lambda c: (c.path, c.index))
    return tuple(curves)


def write_curves(obj: bpy.types.Object, curves: tuple[AnimationCurve, ...] | None) -> None:
    """Replace the managed animation of ``obj`` and its data by ``curves``."""
    for owner in (obj, obj.data):
        _clear_managed(owner, DATA_PREFIX if owner is obj.data else "")
    for curve in curves or ():
        owner, path = (
            (obj.data, curve.path[len(DATA_PREFIX) :])
            if curve.path.startswith(DATA_PREFIX)
            else (obj, curve.path)
        )
        bag = _channelbag(owner)
        fcurve = bag.fcurves.new(path, index=curve.index)
        fcurve.keyframe_points.add(len(curve.frames))
        co = np.empty(2 * len(curve.frames), dtype=np.float64)
        co[0::2], co[1::2] = curve.frames, curve.values
        fcurve.keyframe_points.foreach_set("co", co)
        fcurve.update()


def key_values(
    owner: bpy.types.ID, path: str, frames: np.ndarray, values: np.ndarray, index: int = 0
) -> None:
    """Key ``owner.path`` at every frame of ``frames`` (replacing keys already on those frames)."""
    bag = _channelbag(owner)
    fcurve = bag.fcurves.find(path, index=index) or bag.fcurves.new(path, index=index)
    for frame, value in zip(frames, values, strict=True):
        fcurve.keyframe_points.insert(float(frame), float(value))
    fcurve.update()


FOCUS_PATH = DATA_PREFIX + "dof.focus_distance"


def drop_keys(obj: bpy.types.Object, path: str, undo) -> bool:
    """Remove the keys of managed property ``path`` from ``obj`` (``undo`` can put them back);
    False if it had none.

    A camera focused by hand after a rack focus drops the pull's keys: otherwise the pull would
    take the focus back at once (see ``take_animated_values``).
    """
    curves = read_curves(obj)
    if curves is None or all(c.path != path for c in curves):
        return False
    undo.on_undo(lambda: write_curves(obj, curves))
    write_curves(obj, tuple(c for c in curves if c.path != path) or None)
    return True


def is_animated(obj: bpy.types.Object) -> bool:
    """Whether ``obj`` or its data has keyframes."""
    return bool(_fcurves(obj) or _fcurves(obj.data))


def take_animated_values(objects: list[bpy.types.Object]) -> None:
    """Give every keyframed property of ``objects`` (and their data) its animated value now.

    A value set by hand on an animated property lasts only until Blender next evaluates that
    datablock's animation, which may happen at any later call; the stage has Blender evaluate it
    at once (the same evaluation, so the same numbers), so that its state is the same whenever
    and wherever it is read.
    """
    if not objects:
        return
    for obj in objects:
        for owner in (obj, obj.data):
            if _fcurves(owner):
                owner.update_tag(refresh={"TIME"})
    bpy.context.view_layer.update()


@contextlib.contextmanager
def keys_muted(owner: bpy.types.ID, path: str) -> Iterator[None]:
    """The keys of ``owner.path`` muted for the duration: a render that sets the value itself (a
    focal stack's focus sweep) would otherwise get the keyed value every step."""
    curves = [c for c in _fcurves(owner) if c.data_path == path]
    saved = [c.mute for c in curves]
    for curve in curves:
        curve.mute = True
    try:
        yield
    finally:
        for curve, mute in zip(curves, saved, strict=True):
            curve.mute = mute


def _fcurves(owner: bpy.types.ID | None) -> list[bpy.types.FCurve]:
    anim = getattr(owner, "animation_data", None)
    if anim is None or anim.action is None or anim.action_slot is None:
        return []
    bag = anim_utils.action_get_channelbag_for_slot(anim.action, anim.action_slot)
    return list(bag.fcurves) if bag is not None else []


def _clear_managed(owner: bpy.types.ID | None, prefix: str) -> None:
    anim = getattr(owner, "animation_data", None)
    if anim is None or anim.action is None or anim.action_slot is None:
        return
    bag = anim_utils.action_get_channelbag_for_slot(anim.action, anim.action_slot)
    if bag is None:
        return
    for fcurve in [f for f in bag.fcurves if ANIMATABLE.fullmatch(prefix + f.data_path)]:
        bag.fcurves.remove(fcurve)


def _channelbag(owner: bpy.types.ID):
    """The channel bag ``owner``'s keys go into, creating its action and slot when needed."""
    anim = owner.animation_data or owner.animation_data_create()
    if anim.action is None:
        anim.action = bpy.data.actions.new(f"{owner.name}Action")
    if anim.action_slot is None:
        anim.action_slot = anim.action.slots.new(id_type=owner.id_type, name=owner.name)
    return anim_utils.action_ensure_channelbag_for_slot(anim.action, anim.action_slot)
