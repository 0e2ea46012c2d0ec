"""Replies (``parent`` = the request's id) and events published to every subscriber."""

from __future__ import annotations

from ._codec import Message, wire
from ._commands import Command
from ._errors import ErrorCode, InvalidArgument
from ._scene import (
    AnimationCurve,
    BonePose,
    CameraParams,
    LightParams,
    MaterialParams,
    Matrix4,
    NodeKind,
    NodeState,
    SceneSettings,
    Transform,
)

PRESENCE_S = 10.0  # a client that has not said hello for this long is gone from presence


@wire()
class Peer:
    """Another client on the stage, for presence: its ``session``, its ``client`` name, what it
    has selected (node UUIDs) and how many seconds ago it last said hello (``idle_s``)."""

    session: str
    client: str
    selection: tuple[str, ...] = ()
    idle_s: float = 0.0


@wire("server_info")
class ServerInfo(Message):
    """Who answered: versions, the stage, where events are published, and ``seq``: the newest
    event published (every event a client has received has a seq at most this). ``peers``: the
    other clients that said hello in the last ``PRESENCE_S`` seconds."""

    protocol_version: int
    server_version: str
    stage: str
    seq: int
    session: str
    event_endpoint: str
    peers: tuple[Peer, ...] = ()


@wire("applied")
class Applied(Message):
    """A command was applied and is durable: its sequence number and the nodes it touched."""

    seq: int
    nodes: tuple[str, ...] = ()


@wire("tree_node")
class TreeNode(Message):
    """A node's identity and place; ``source`` is the asset node whose import made it."""

    uuid: str
    name: str
    kind: NodeKind
    parent: str | None = None
    parent_bone: str | None = None
    source: str | None = None


@wire("tree")
class Tree(Message):
    """Every node's identity and place, as the stage holds them at ``seq``."""

    seq: int
    nodes: tuple[TreeNode, ...]


@wire("node_reply")
class NodeReply(Message):
    """One node's state as the stage holds it at ``seq`` (the reply to ``get_node``)."""

    seq: int
    node: NodeState


@wire("snapshot")
class Snapshot(Message):
    """The stage at ``seq``: parents before children. Apply events with seq > ``seq`` after it."""

    seq: int
    scene: SceneSettings
    nodes: tuple[NodeState, ...]


@wire("asset_data")
class AssetData(Message):
    sha256: str
    data: bytes


@wire("asset_stored")
class AssetStored(Message):
    sha256: str
    size: int


@wire("error")
class Error(Message):
    """A request failed; nothing it asked for was changed.

    ``seq`` comes with ``compacted``: the oldest ``after`` that ``get_events`` still answers.
    """

    code: ErrorCode
    message: str
    field: str | None = None
    seq: int | None = None


CLEARABLE = frozenset({"parent", "parent_bone", "pose", "animation"})


@wire()
class NodeChange:
    """The new values of what a command changed on a node that existed before it.

    A field given is the node's new value (settings in full, defaults filled in); a field left
    out did not change. A field named in ``cleared`` is now absent: the node was unparented
    (``parent``), left its bone (``parent_bone``), has every bone at rest (``pose``) or no
    animation (``animation``). ``world`` comes whenever the node's world matrix may have moved:
    its own transform, its parent, or an ancestor (or a parent bone's pose) changed.
    ``keyed`` holds the keys a command set (on each curve, these frames now hold these values:
    added, or replacing the key on that frame); ``animation``, when given, is all of it.
    """

    uuid: str
    name: str | None = None
    parent: str | None = None
    parent_bone: str | None = None
    transform: Transform | None = None
    world: Matrix4 | None = None
    material: MaterialParams | None = None
    camera: CameraParams | None = None
    light: LightParams | None = None
    pose: BonePose | None = None
    animation: tuple[AnimationCurve, ...] | None = None
    keyed: tuple[AnimationCurve, ...] | None = None
    cleared: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        unknown = set(self.cleared) - CLEARABLE
        if unknown:
            raise InvalidArgument(
                f"cleared names {sorted(unknown)}; only {sorted(CLEARABLE)} can be cleared", field="cleared"
            )


@wire()
class EventResult:
    """The stage after a command: apply ``deleted``, then ``created`` (in order), then ``changed``,
    then ``scene``, and a copy of the stage equals the server's.

    ``created``: every node the command made, in full (an import's parts too, parents first);
    ``deleted``: every node it removed, the subtrees and import parts included; ``scene``: the
    stage-wide settings, whenever one of them changed.
    """

    created: tuple[NodeState, ...] = ()
    changed: tuple[NodeChange, ...] = ()
    deleted: tuple[str, ...] = ()
    scene: SceneSettings | None = None


@wire("event")
class Event(Message):
    """An applied command, in sequence order, with its result and who sent it.

    ``command`` is the request as applied (names resolved to UUIDs), for audit and replay;
    ``result`` is everything a follower needs to keep its copy of the stage exact.
    """

    seq: int
    command: Command
    result: EventResult
    session: str = ""
    request: str = ""


@wire("events")
class Events(Message):
    """Journaled events in order; ``last_seq`` is the newest the server has."""

    events: tuple[Event, ...]
    last_seq: int
