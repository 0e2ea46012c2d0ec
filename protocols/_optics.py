"""Optics commands and the optics readout: lenses, shot framing, rack focus, depth of field.

Distances in metres, focal lengths and circles of confusion in millimetres, angles in radians.
"""

from __future__ import annotations

from typing import Literal

from ._checks import check_focal_length, check_name, check_range, check_ref
from ._codec import Message, wire
from ._errors import InvalidArgument
from ._scene import Vec3

ShotSize = Literal["extreme_close_up", "close_up", "medium_close_up", "medium", "cowboy", "full", "wide"]
Easing = Literal["linear", "ease_in", "ease_out", "ease_in_out"]
LensMode = Literal["zoom", "dolly_zoom"]


@wire("set_lens", command=True)
class SetLens(Message):
    """Change a camera's focal length: ``focal_mm``, or a ``lens`` from the optics table (which
    also sets the anamorphic ``squeeze``); explicit ``focal_mm`` / ``squeeze`` win over the lens's.

    ``zoom`` keeps the camera where it is; ``dolly_zoom`` moves it along its view axis so
    ``target`` (default: its focus target, else the point at its focus distance) keeps its
    size in frame: d₂ = d₁·f₂/f₁. The focus follows the subject.
    """

    node: str
    focal_mm: float | None = None
    lens: str | None = None
    squeeze: float | None = None
    mode: LensMode = "zoom"
    target: str | None = None

    def __post_init__(self) -> None:
        check_ref("node", self.node)
        check_ref("target", self.target)
        if self.focal_mm is None and self.lens is None:
            raise InvalidArgument("set_lens needs focal_mm or a lens name", field="focal_mm")
        check_focal_length("focal_mm", self.focal_mm)
        check_range("squeeze", self.squeeze, 1.0, 2.0)
        if self.lens is not None:
            check_name("lens", self.lens)


@wire("frame_shot", command=True)
class FrameShot(Message):
    """Aim a camera at ``target`` and move it so the target fills the frame at ``shot_size``; at
    once (``frames`` 0), or as a camera move (and focus pull) over ``frames`` frames from
    ``start_frame`` (default: the current frame), written as keyframes.

    ``subject_height`` (m) defaults to the target's own height (a character's skeleton, or
    the object's bounding box).
    """

    node: str
    target: str
    shot_size: ShotSize
    subject_height: float | None = None
    frames: int = 0
    start_frame: int | None = None
    easing: Easing = "ease_in_out"

    def __post_init__(self) -> None:
        check_ref("node", self.node)
        check_ref("target", self.target)
        check_range("subject_height", self.subject_height, 0.0, 1000.0, low_open=True, unit=" m")
        _check_move(self.frames, self.start_frame)


@wire("look_at", command=True)
class LookAt(Message):
    """Turn a camera, where it stands, to look at ``target`` (a character's eyes, any other node's
    centre) or at ``point`` (world metres), with a level horizon; over ``frames`` frames from
    ``start_frame`` (default: the current frame) as keyframes, or at once (0)."""

    node: str
    target: str | None = None
    point: Vec3 | None = None
    frames: int = 0
    start_frame: int | None = None
    easing: Easing = "ease_in_out"

    def __post_init__(self) -> None:
        check_ref("node", self.node)
        check_ref("target", self.target)
        if (self.target is None) == (self.point is None):
            raise InvalidArgument("look_at needs exactly one of target or point", field="target")
        _check_move(self.frames, self.start_frame)


def _check_move(frames: int, start_frame: int | None) -> None:
    check_range("frames", frames, 0, 10_000)
    check_range("start_frame", start_frame, -1_048_574, 1_048_574)


@wire("rack_focus", command=True)
class RackFocus(Message):
    """Animate a focus pull over ``frames`` frames from ``start_frame``, written as keyframes.

    From ``from_target`` / ``from_distance`` (default: the camera's focus now) to ``to_target`` /
    ``to_distance``, with an easing curve. Target distances are measured along the camera's
    view axis when the command is applied. The camera's focus target is cleared.
    """

    node: str
    frames: int
    to_target: str | None = None
    to_distance: float | None = None
    from_target: str | None = None
    from_distance: float | None = None
    start_frame: int | None = None
    easing: Easing = "ease_in_out"

    def __post_init__(self) -> None:
        check_ref("node", self.node)
        check_range("frames", self.frames, 1, 10_000)
        if (self.to_target is None) == (self.to_distance is None):
            raise InvalidArgument(
                "rack_focus needs exactly one of to_target or to_distance", field="to_target"
            )
        if self.from_target is not None and self.from_distance is not None:
            raise InvalidArgument("give from_target or from_distance, not both", field="from_target")
        for field in ("to_target", "from_target"):
            check_ref(field, getattr(self, field))
        for field in ("to_distance", "from_distance"):
            check_range(field, getattr(self, field), 0.0, 1e6, low_open=True, unit=" m")
        check_range("start_frame", self.start_frame, -1_048_574, 1_048_574)


@wire("get_optics")
class GetOptics(Message):
    """A camera's live optics readout; the reply is ``optics``."""

    node: str

    def __post_init__(self) -> None:
        check_ref("node", self.node)


@wire("optics")
class Optics(Message):
    """Depth of field and field of view of a camera as set now (thin-lens model).

    ``far_m`` and ``dof_m`` are nil when the far limit is at infinity (focus at or past the
    hyperfocal distance). ``recording_area`` is the body's recording area in use ("" for its
    whole sensor); ``lens`` is the optics-table lens the camera wears ("" if none);
    ``tstop`` the f-number over the square root of its transmission (the f-number if none).
    """

    node: str
    body: str
    lens: str
    focal_mm: float
    fstop: float
    tstop: float
    focus_m: float
    coc_mm: float
    sensor_width_mm: float
    sensor_height_mm: float
    squeeze: float
    hyperfocal_m: float
    near_m: float
    far_m: float | None
    dof_m: float | None
    fov_horizontal: float
    fov_vertical: float
    fov_diagonal: float
    recording_area: str = ""


@wire("get_optics_table")
class GetOpticsTable(Message):
    """The stage's camera bodies and lenses (the bundled table and the stage file's additions);
    the reply is ``optics_table``."""


@wire()
class RecordingArea:
    """One of a body's recording modes: the sensor extent it records (mm)."""

    name: str
    width_mm: float
    height_mm: float


@wire()
class BodyEntry:
    """A camera body: its sensor (mm), its circle of confusion (mm) and its recording areas."""

    name: str
    label: str
    sensor_width_mm: float
    sensor_height_mm: float
    coc_mm: float
    recording_areas: tuple[RecordingArea, ...] = ()


@wire()
class LensEntry:
    """A lens: focal length (mm), squeeze (1 = spherical) and, where known, what the glass can do."""

    name: str
    label: str
    focal_mm: float
    squeeze: float
    max_aperture: float | None = None
    min_aperture: float | None = None
    min_focus_m: float | None = None
    transmission: float | None = None
    breathing: float = 0.0


@wire("optics_table")
class OpticsTableReply(Message):
    """Every camera body and lens a camera can be set to, by name."""

    bodies: tuple[BodyEntry, ...]
    lenses: tuple[LensEntry, ...]
