"""Replies (``parent`` = the request's id) and events published to every subscriber."""

from __future__ import annotations

from ._codec import Message, wire
from ._commands import Command
from ._errors import ErrorCode
from ._scene import NodeKind, NodeState, SceneSettings


@wire("server_info")
class ServerInfo(Message):
    """Who answered: versions, the stage, its newest sequence number, where events are published."""

    protocol_version: int
    server_version: str
    stage: str
    seq: int
    session: str
    event_endpoint: str


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
    seq: int
    nodes: tuple[TreeNode, ...]


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
    """A request failed; nothing it asked for was changed."""

    code: ErrorCode
    message: str
    field: str | None = None


@wire("event")
class Event(Message):
    """An applied command, in sequence order, with who sent it."""

    seq: int
    command: Command
    session: str = ""
    request: str = ""


@wire("events")
class Events(Message):
    """Journaled events in order; ``last_seq`` is the newest the server has."""

    events: tuple[Event, ...]
    last_seq: int
