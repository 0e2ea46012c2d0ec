"""Optics on the stage's cameras: lens changes (zoom / dolly zoom), shot framing, rack focus,
and the live optics readout. The math is ``optics``' thin-lens functions; this module maps
it onto Blender cameras (which look down their local −Z axis)."""

from __future__ import annotations

import dataclasses
from typing import Any

import bpy
import numpy as np
from mathutils import Matrix, Vector

from optics import (
    SHOT_SIZES,
    OpticsTable,
    field_of_view_rad,
    image_distance_m,
    marked_distance_m,
    object_distance_m,
)
from protocols import (
    BodyEntry,
    FrameShot,
    InvalidArgument,
    LensEntry,
    LookAt,
    Optics,
    OpticsTableReply,
    RackFocus,
    RecordingArea,
    SetLens,
)

from . import _animation, _camera
from ._camera_moves import drop_move_keys, key_move
from ._ids import Index, node_uuid
from ._objects import ROTATION_PROPS, rounded_scalar
from ._undo import Undo, guard_props

EASINGS = {
    "linear": lambda t: t,
    "ease_in": lambda t: t * t,
    "ease_out": lambda t: 1.0 - (1.0 - t) ** 2,
    "ease_in_out": lambda t: t * t * (3.0 - 2.0 * t),
}


def camera_of(index: Index, ref: str) -> bpy.types.Object:
    """The camera node ``ref``, with every world matrix brought up to date for measuring."""
    bpy.context.view_layer.update()
    obj = index.resolve(ref)
    if obj.type != "CAMERA":
        raise InvalidArgument(f"node {obj.name!r} is not a camera", field="node")
    return obj


def view_axis(camera: bpy.types.Object) -> Vector:
    """The camera's world-space viewing direction (unit vector)."""
    return (camera.matrix_world.to_3x3() @ Vector((0.0, 0.0, -1.0))).normalized()


def subject_point(obj: bpy.types.Object) -> Vector:
    """Where a node is, for focusing and framing: its posed skeleton's or geometry's centre."""
    low, high = _subject_bounds(obj)
    return (low + high) / 2.0


def subject_height(obj: bpy.types.Object) -> float:
    """A node's height in the world (m): its posed skeleton's, or its bounding box's."""
    low, high = _subject_bounds(obj)
    height = high.z - low.z
    if height <= 1e-6:
        raise InvalidArgument(
            f"node {obj.name!r} has no height to frame; give subject_height", field="target"
        )
    return height


def distance_along_view(camera: bpy.types.Object, point: Vector) -> float:
    return float((point - camera.matrix_world.translation).dot(view_axis(camera)))


def focus_point(obj: bpy.types.Object) -> Vector:
    """Where a camera focused on ``obj`` is sharp: a character's eye (``_camera.focus_bone``, as
    Blender's depth of field reads it, so it follows the character), else the node's centre."""
    bone = _camera.focus_bone(obj)
    if bone and bone in obj.pose.bones:
        return obj.matrix_world @ obj.pose.bones[bone].head
    return subject_point(obj)


def focus_distance(camera: bpy.types.Object) -> float:
    """The distance from the lens the camera is focused at now (its focus target's, if it has one),
    as the thin-lens formulas take it; readouts add the image distance (``marked_distance_m``)."""
    dof = camera.data.dof
    if dof.focus_object is not None:
        return distance_along_view(camera, focus_point(dof.focus_object))
    return float(dof.focus_distance)


def picture_lens_mm(camera: bpy.types.Object) -> float:
    """The focal length the picture is drawn with: the lens's, narrowed as it breathes at the
    camera's focus now (``_camera.breathing`` per dioptre of the marked focus)."""
    cam = camera.data
    per_dioptre = _camera.breathing(cam)
    if not per_dioptre:
        return float(cam.lens)
    lens_to_subject = focus_distance(camera)
    if lens_to_subject <= 2.0 * cam.lens / 1000.0:  # a target behind the camera or inside 2f
        return float(cam.lens)
    lost = per_dioptre / float(marked_distance_m(cam.lens, lens_to_subject))
    return float(cam.lens) / (1.0 - min(max(lost, -0.9), 0.9))


def effective_sensor_mm(camera: bpy.types.Object) -> tuple[float, float]:
    """The sensor extents (width, height) that map onto the rendered frame under its sensor fit;
    the picture is the frame desqueezed (``_camera.desqueezed_width``)."""
    cam = camera.data
    render = bpy.context.scene.render
    width, height = render.resolution_x * render.pixel_aspect_x, render.resolution_y * render.pixel_aspect_y
    aspect = height / width
    fit = _camera.frame_fit(cam, width, height)
    if fit == "AUTO":
        fit = "HORIZONTAL" if aspect <= 1.0 else "VERTICAL"
    squeeze = cam.dof.aperture_ratio
    if fit == "HORIZONTAL":
        return cam.sensor_width, _camera.desqueezed_width(cam) * aspect
    return cam.sensor_height / aspect / squeeze, cam.sensor_height


EYE_BELOW_TOP = 0.065  # a standing adult's eyes below the top of the head, as a share of height


def shot_aim(target: bpy.types.Object, frame_m: float) -> Vector:
    """Where a shot of ``target`` whose frame is ``frame_m`` high puts the frame's centre.

    A shot that holds the whole subject centres it (head- and foot-room alike); a closer shot of
    a character puts its eyes on the upper third line, as camera operators frame people. Other
    subjects are centred.
    """
    centre = subject_point(target)
    low, high = _subject_bounds(target)
    height = high.z - low.z
    if target.type != "ARMATURE" or frame_m >= height:
        return centre
    eyes = [target.matrix_world @ b.head for b in target.pose.bones if "eye" in b.name.lower()]
    eye_z = sum(p.z for p in eyes) / len(eyes) if eyes else high.z - EYE_BELOW_TOP * height
    return Vector((centre.x, centre.y, eye_z - frame_m / 6.0))


def aim_at(camera: bpy.types.Object, point: Vector, distance: float) -> None:
    """Point the camera at ``point`` from ``distance`` metres, keeping its bearing and height
    angle to the point and a level horizon."""
    world = camera.matrix_world.copy()
    direction = point - world.translation
    if direction.length < 1e-9:
        direction = view_axis(camera)
    direction.normalize()
    rotation = direction.to_track_quat("-Z", "Y")
    scale = world.to_scale()
    camera.matrix_world = Matrix.LocRotScale(point - direction * distance, rotation, scale)


def _subject_bounds(obj: bpy.types.Object) -> tuple[Vector, Vector]:
    if obj.type == "ARMATURE" and obj.pose.bones:
        points = [obj.matrix_world @ p for b in obj.pose.bones for p in (b.head, b.tail)]
    elif obj.type == "MESH":
        points = [obj.matrix_world @ Vector(corner) for corner in obj.bound_box]
    else:
        point = obj.matrix_world.translation.copy()
        return point, point
    return Vector(np.min(points, axis=0)), Vector(np.max(points, axis=0))


def move_along_view(camera: bpy.types.Object, delta: float) -> None:
    """Dolly the camera ``delta`` metres along its viewing direction."""
    world = camera.matrix_world.copy()
    world.translation += view_axis(camera) * delta
    camera.matrix_world = world


def set_lens(index: Index, undo: Undo, cmd: SetLens, optics: OpticsTable):
    from optics import dolly_zoom_distance_m

    camera = camera_of(index, cmd.node)
    focal_mm, squeeze = cmd.focal_mm, cmd.squeeze
    mounted = optics.lens(cmd.lens) if cmd.lens is not None else None
    if mounted is not None:
        focal_mm = focal_mm or mounted.focal_mm
        squeeze = squeeze or mounted.squeeze
    assert focal_mm is not None  # SetLens holds focal_mm or a lens name
    worn = _camera.glass(camera.data, optics)
    if mounted is None and worn is not None and abs(worn.focal_mm - focal_mm) > 1e-6:
        worn = None  # a focal length set by hand: the camera no longer wears that lens
    glass = mounted or worn
    guard_props(undo, lambda: camera, (*ROTATION_PROPS, "location", "scale"))
    _camera.guard_camera(undo, camera)
    target = index.resolve(cmd.target, "target") if cmd.target else camera.data.dof.focus_object
    if cmd.mode == "dolly_zoom":
        before = distance_along_view(camera, focus_point(target)) if target else focus_distance(camera)
        if before <= 0.0:
            raise InvalidArgument(
                f"the dolly-zoom subject is behind camera {camera.name!r}; aim the camera at it",
                field="target",
            )
        after = dolly_zoom_distance_m(before, camera.data.lens, focal_mm)
        if glass is not None and camera.data.dof.focus_object is None:
            glass.check_focus(marked_distance_m(focal_mm, after), field="target")
        move_along_view(camera, before - after)
        if camera.data.dof.focus_object is None:
            _animation.drop_keys(camera, _animation.FOCUS_PATH, undo)
            camera.data.dof.focus_distance = after
    if squeeze is None:  # the event says the squeeze in every case: the camera keeps its own
        squeeze = rounded_scalar(camera.data.dof.aperture_ratio)
    if cmd.mode == "dolly_zoom" and camera.data.dof.focus_object is None:
        camera.data.lens = focal_mm  # the focus was set to the subject's new distance above
    else:
        _camera.set_focal_length(camera.data, focal_mm)
    camera.data.dof.aperture_ratio = squeeze
    _camera.wear(camera, glass)
    resolved = dataclasses.replace(
        cmd,
        node=node_uuid(camera),
        focal_mm=focal_mm,
        squeeze=squeeze,
        target=node_uuid(target) if cmd.target else None,
    )
    return resolved, (node_uuid(camera),)


def frame_shot(index: Index, undo: Undo, cmd: FrameShot, optics: OpticsTable):
    from optics import framing_distance_m

    camera = camera_of(index, cmd.node)
    target = index.resolve(cmd.target, "target")
    if target == camera:
        raise InvalidArgument(f"camera {camera.name!r} cannot frame itself; name a subject", field="target")
    height = cmd.subject_height or subject_height(target)
    wanted = framing_distance_m(height, cmd.shot_size, camera.data.lens, effective_sensor_mm(camera)[1])
    glass = _camera.glass(camera.data, optics)
    if glass is not None and camera.data.dof.focus_object is None:  # focus the lens cannot reach
        glass.check_focus(marked_distance_m(camera.data.lens, wanted), field="shot_size")
    guard_props(undo, lambda: camera, (*ROTATION_PROPS, "location", "scale"))
    guard_props(undo, lambda: camera.data.dof, ("focus_distance",))
    start = camera.matrix_world.copy()
    aim = shot_aim(target, SHOT_SIZES[cmd.shot_size] * height)
    aim_at(camera, aim, wanted)
    by_hand = camera.data.dof.focus_object is None
    if by_hand:
        _animation.drop_keys(camera, _animation.FOCUS_PATH, undo)
        camera.data.dof.focus_distance = wanted
    resolved = dataclasses.replace(
        cmd, node=node_uuid(camera), target=node_uuid(target), subject_height=height
    )
    if not cmd.frames:
        drop_move_keys(camera, undo)
        return resolved, (node_uuid(camera),), ()
    focus = (lambda: distance_along_view(camera, aim)) if by_hand else None
    return _keyed(camera, undo, resolved, start, focus)


def look_at(index: Index, undo: Undo, cmd: LookAt):
    """Turn the camera where it stands to look at the target's focus point (a character's eye) or
    a point, level; at once or keyed over ``frames``."""
    camera = camera_of(index, cmd.node)
    target = index.resolve(cmd.target, "target") if cmd.target is not None else None
    if target == camera:
        raise InvalidArgument(f"camera {camera.name!r} cannot look at itself", field="target")
    bpy.context.view_layer.update()  # world matrices of what the command's batch moved
    point = focus_point(target) if target is not None else Vector(cmd.point)
    start = camera.matrix_world.copy()
    if (point - start.translation).length < 1e-6:
        raise InvalidArgument(
            f"camera {camera.name!r} stands at that point; look somewhere else", field="point"
        )
    guard_props(undo, lambda: camera, (*ROTATION_PROPS, "location", "scale"))
    aim_at(camera, point, (point - start.translation).length)
    resolved = dataclasses.replace(cmd, node=node_uuid(camera), target=node_uuid(target) if target else None)
    if not cmd.frames:
        drop_move_keys(camera, undo)
        return resolved, (node_uuid(camera),), ()
    return _keyed(camera, undo, resolved, start, None)


def _keyed(camera, undo: Undo, resolved, start: Matrix, focus):
    """``resolved`` (a frame_shot or look_at that has posed ``camera`` at its end) as a keyed move
    from ``start``: the command with its start frame, the camera, and the channels keyed."""
    first = resolved.start_frame if resolved.start_frame is not None else bpy.context.scene.frame_current
    frames = np.arange(first, first + resolved.frames + 1, dtype=np.float64)
    channels = key_move(
        camera, undo, start, camera.matrix_world.copy(), frames, EASINGS[resolved.easing], focus
    )
    return dataclasses.replace(resolved, start_frame=first), (node_uuid(camera),), channels


def rack_focus(index: Index, undo: Undo, cmd: RackFocus, optics: OpticsTable):
    camera = camera_of(index, cmd.node)
    focal = camera.data.lens
    # the pull's ends from the lens (targets), or marked from the film plane (distances)
    if cmd.from_target is not None:
        start = distance_along_view(camera, focus_point(index.resolve(cmd.from_target, "from_target")))
    elif cmd.from_distance is not None:
        start = object_distance_m(focal, cmd.from_distance, "from_distance")
    else:
        start = focus_distance(camera)
    if cmd.to_target is not None:
        end = distance_along_view(camera, focus_point(index.resolve(cmd.to_target, "to_target")))
    else:
        assert cmd.to_distance is not None  # RackFocus takes exactly one of the two
        end = object_distance_m(focal, cmd.to_distance, "to_distance")
    for name, value in (("from", start), ("to", end)):
        if value <= focal / 1000.0:
            raise InvalidArgument(
                f"the {name} focus distance ({value:.3f} m) is behind or inside the lens of {camera.name!r}",
                field=f"{name}_target",
            )
    # as the event says them (marked, rounded): a replay keys the same
    start_marked, end_marked = (round(float(marked_distance_m(focal, d)), 6) for d in (start, end))
    glass = _camera.glass(camera.data, optics)
    if glass is not None:
        glass.check_focus(
            start_marked, field="from_target" if cmd.from_target is not None else "from_distance"
        )
        glass.check_focus(end_marked, field="to_target" if cmd.to_target is not None else "to_distance")
    start, end = (object_distance_m(focal, d) for d in (start_marked, end_marked))
    first = cmd.start_frame if cmd.start_frame is not None else bpy.context.scene.frame_current
    frames = np.arange(first, first + cmd.frames + 1, dtype=np.float64)
    t = np.linspace(0.0, 1.0, len(frames))
    # a focus ring turns about linearly in dioptres (1/distance): pull in that space
    dioptres = 1.0 / start + (1.0 / end - 1.0 / start) * EASINGS[cmd.easing](t)
    previous = _animation.read_curves(camera)
    undo.on_undo(lambda: _animation.write_curves(camera, previous))
    guard_props(undo, lambda: camera.data.dof, ("use_dof", "focus_object", "focus_distance"))
    camera.data.dof.focus_object = None
    camera.data.dof.use_dof = True
    _animation.key_values(camera.data, "dof.focus_distance", frames, 1.0 / dioptres)
    resolved = dataclasses.replace(
        cmd,
        node=node_uuid(camera),
        from_target=None,
        from_distance=start_marked,
        to_target=None,
        to_distance=end_marked,
        start_frame=first,
    )
    return resolved, (node_uuid(camera),)


def readout(index: Index, ref: str, optics: OpticsTable) -> Optics:
    from optics import optics_readout

    camera = camera_of(index, ref)
    cam = camera.data
    width, height = effective_sensor_mm(camera)
    focus = focus_distance(camera)
    coc = _camera.coc_mm(cam)
    lens = _camera.glass(cam, optics)
    result = optics_readout(
        cam.lens, cam.dof.aperture_fstop, coc, focus, width, height, cam.dof.aperture_ratio
    )
    fov = field_of_view_rad(picture_lens_mm(camera), width, height, cam.dof.aperture_ratio)  # as it breathes
    finite = np.isfinite(result.far_m)
    behind = image_distance_m(cam.lens, focus)  # the film plane, behind the lens: distances from it
    return _rounded(
        Optics(
            node=node_uuid(camera),
            body=_camera.body_name(cam) or "",
            recording_area=_camera.area_name(cam) or "",
            lens=_camera.lens_name(cam) or "",
            focal_mm=float(cam.lens),
            fstop=float(cam.dof.aperture_fstop),
            tstop=float(lens.tstop(cam.dof.aperture_fstop) if lens else cam.dof.aperture_fstop),
            focus_m=focus + behind,
            coc_mm=coc,
            sensor_width_mm=float(width),
            sensor_height_mm=float(height),
            squeeze=float(cam.dof.aperture_ratio),
            hyperfocal_m=float(marked_distance_m(cam.lens, result.hyperfocal_m)),
            near_m=float(result.near_m) + behind,
            far_m=float(result.far_m) + behind if finite else None,
            dof_m=float(result.dof_m) if finite else None,
            fov_horizontal=float(fov.horizontal),
            fov_vertical=float(fov.vertical),
            fov_diagonal=float(fov.diagonal),
        )
    )


def _rounded(readout: Optics) -> Optics:
    """Six significant digits: Blender stores float32, so more would only show noise."""
    values: dict[str, Any] = {
        f.name: float(f"{v:.6g}") if isinstance(v, float) else v
        for f in dataclasses.fields(readout)
        for v in [getattr(readout, f.name)]
    }
    return Optics(**values)


def table_entries(table: OpticsTable) -> OpticsTableReply:
    """The optics table as the wire lists it, by name."""
    bodies = tuple(
        BodyEntry(name=b.name, label=b.label or b.name, sensor_width_mm=b.sensor_width_mm,
                  sensor_height_mm=b.sensor_height_mm, coc_mm=b.coc_mm,
                  recording_areas=tuple(RecordingArea(n, w, h) for n, (w, h) in b.recording_areas.items()))
        for b in sorted(table.bodies.values(), key=lambda b: b.name)
    )  # fmt: skip
    lenses = tuple(
        LensEntry(name=lens.name, label=lens.label or lens.name, focal_mm=lens.focal_mm, squeeze=lens.squeeze,
                  max_aperture=lens.max_aperture, min_aperture=lens.min_aperture,
                  min_focus_m=lens.min_focus_m, transmission=lens.transmission, breathing=lens.breathing)
        for lens in sorted(table.lenses.values(), key=lambda lens: (lens.squeeze, lens.focal_mm))
    )  # fmt: skip
    return OpticsTableReply(bodies=bodies, lenses=lenses)
