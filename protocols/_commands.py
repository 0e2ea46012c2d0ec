"""Stage commands: every change to the stage is one of these, applied in sequence order.

A node reference (``node``, ``parent``) is a node's UUID or its unique name; the server
resolves names to UUIDs before it journals and broadcasts the command.
"""

from __future__ import annotations

import typing

import numpy as np

from ._checks import check_name, check_range, check_ref, check_uuid, normalized_quaternion
from ._codec import Message, wire
from ._errors import InvalidArgument
from ._optics import FrameShot, LookAt, RackFocus, SetLens
from ._scene import (
    ArmatureSpec,
    AssetRef,
    CameraParams,
    LightParams,
    MaterialParams,
    MeshSpec,
    NodeKind,
    Quat,
    Transform,
    Vec3,
    check_pose_arrays,
    optional_arrays_match,
)

MAX_BATCH = 10_000


_KIND_SPECS = {
    "mesh": "mesh",
    "camera": "camera",
    "light": "light",
    "armature": "armature",
    "asset": "asset",
}


@wire("create_node", command=True)
class CreateNode(Message):
    """Create a node of ``kind``; the spec matching the kind is required (``mesh`` …).

    ``uuid`` is assigned by the server when left out. ``material`` applies to meshes.
    """

    kind: NodeKind
    name: str
    uuid: str | None = None
    parent: str | None = None
    parent_bone: str | None = None
    transform: Transform | None = None
    mesh: MeshSpec | None = None
    material: MaterialParams | None = None
    camera: CameraParams | None = None
    light: LightParams | None = None
    armature: ArmatureSpec | None = None
    asset: AssetRef | None = None

    def __post_init__(self) -> None:
        check_name("name", self.name)
        check_uuid("uuid", self.uuid)
        check_ref("parent", self.parent)
        if self.parent_bone is not None:
            check_name("parent_bone", self.parent_bone)
            if self.parent is None:
                raise InvalidArgument("parent_bone needs a parent armature", field="parent_bone")
        for kind, field in _KIND_SPECS.items():
            given = getattr(self, field) is not None
            if kind == self.kind and not given:
                raise InvalidArgument(f"a {kind} node needs its '{field}' spec", field=field)
            if kind != self.kind and given:
                raise InvalidArgument(f"'{field}' is only for {kind} nodes, not {self.kind}", field=field)
        if self.material is not None and self.kind != "mesh":
            raise InvalidArgument(f"'material' is for mesh nodes, not {self.kind}", field="material")


@wire("delete_node", command=True)
class DeleteNode(Message):
    """Delete a node and everything parented under it."""

    node: str

    def __post_init__(self) -> None:
        check_ref("node", self.node)


@wire("rename_node", command=True)
class RenameNode(Message):
    node: str
    name: str

    def __post_init__(self) -> None:
        check_ref("node", self.node)
        check_name("name", self.name)


@wire("set_transform", command=True)
class SetTransform(Message):
    """Set the local transform; a component left out is left unchanged."""

    node: str
    location: Vec3 | None = None
    rotation: Quat | None = None
    scale: Vec3 | None = None

    def __post_init__(self) -> None:
        check_ref("node", self.node)
        if self.location is None and self.rotation is None and self.scale is None:
            raise InvalidArgument("set_transform needs location, rotation or scale", field="location")
        if self.rotation is not None:  # stored (and journaled) as a unit quaternion
            object.__setattr__(self, "rotation", normalized_quaternion("rotation", self.rotation))


@wire("set_parent", command=True)
class SetParent(Message):
    """Parent ``node`` to ``parent`` (and its ``bone``), or unparent with no parent.

    With ``keep_world`` the node stays where it is in the world.
    """

    node: str
    parent: str | None = None
    bone: str | None = None
    keep_world: bool = True

    def __post_init__(self) -> None:
        check_ref("node", self.node)
        check_ref("parent", self.parent)
        if self.bone is not None:
            check_name("bone", self.bone)
            if self.parent is None:
                raise InvalidArgument("bone needs a parent armature", field="bone")


@wire("set_material", command=True)
class SetMaterial(Message):
    node: str
    material: MaterialParams

    def __post_init__(self) -> None:
        check_ref("node", self.node)


@wire("set_camera", command=True)
class SetCamera(Message):
    node: str
    camera: CameraParams

    def __post_init__(self) -> None:
        check_ref("node", self.node)


@wire("set_light", command=True)
class SetLight(Message):
    node: str
    light: LightParams

    def __post_init__(self) -> None:
        check_ref("node", self.node)


@wire("set_bone_pose", command=True)
class SetBonePose(Message):
    """Pose bones: ``rotations`` B×4 (w, x, y, z) local to each bone's rest, ``locations`` B×3.

    With ``keyframe`` the pose is also keyed at that frame.
    """

    node: str
    bones: tuple[str, ...]
    rotations: np.ndarray
    locations: np.ndarray | None = None
    keyframe: int | None = None

    def __post_init__(self) -> None:
        check_ref("node", self.node)
        check_pose_arrays(self.bones, self.rotations, self.locations)
        check_range("keyframe", self.keyframe, -1_048_574, 1_048_574)

    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, SetBonePose)
            and (self.node, self.bones, self.keyframe) == (other.node, other.bones, other.keyframe)
            and np.array_equal(self.rotations, other.rotations)
            and optional_arrays_match(self.locations, other.locations, np.array_equal)
        )

    __hash__ = None  # type: ignore[assignment]


@wire("set_active_camera", command=True)
class SetActiveCamera(Message):
    node: str

    def __post_init__(self) -> None:
        check_ref("node", self.node)


@wire("set_frame_range", command=True)
class SetFrameRange(Message):
    """Current frame, play range and frame rate; a field left out is left unchanged."""

    current: int | None = None
    start: int | None = None
    end: int | None = None
    fps: int | None = None

    def __post_init__(self) -> None:
        for name in ("current", "start", "end"):
            check_range(name, getattr(self, name), -1_048_574, 1_048_574)
        check_range("fps", self.fps, 1, 240)
        if self.start is not None and self.end is not None and self.end < self.start:
            raise InvalidArgument(f"end ({self.end}) is before start ({self.start})", field="end")


@wire("batch", command=True)
class Batch(Message):
    """Apply all ``commands`` atomically: all or nothing, one sequence number."""

    commands: tuple[Command, ...]

    def __post_init__(self) -> None:
        if not self.commands:
            raise InvalidArgument(
                "batch.commands is empty; a batch needs at least one command", field="commands"
            )
        if len(self.commands) > MAX_BATCH:
            raise InvalidArgument(
                f"batch holds {len(self.commands)} commands; the limit is {MAX_BATCH}", field="commands"
            )
        for i, item in enumerate(self.commands):
            if isinstance(item, Batch):
                raise InvalidArgument(f"commands[{i}]: batches do not nest", field=f"commands[{i}]")
            if type(item) not in COMMAND_TYPES:
                raise InvalidArgument(f"commands[{i}] is not a stage command", field=f"commands[{i}]")


Command = (
    CreateNode
    | DeleteNode
    | RenameNode
    | SetTransform
    | SetParent
    | SetMaterial
    | SetCamera
    | SetLight
    | SetBonePose
    | SetActiveCamera
    | SetFrameRange
    | SetLens
    | FrameShot
    | LookAt
    | RackFocus
    | Batch
)
"""Every stage command: the one list (the codec registers them, the scene library handles them)."""

COMMAND_TYPES: tuple[type[Message], ...] = typing.get_args(Command)
