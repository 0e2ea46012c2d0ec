"""Replies (``parent`` = the request's id) and events published to every subscriber."""

from __future__ import annotations

import dataclasses

from ._codec import message
from ._commands import Command
from ._errors import ErrorCode
from ._scene import NodeKind, NodeState, SceneSettings


def _reply(type_name: str):
    def wrap(cls):
        return message(type_name)(dataclasses.dataclass(frozen=True, slots=True)(cls))

    return wrap


@_reply("server_info")
class ServerInfo:
    """Who answered: versions, the stage, its newest sequence number, where events are published."""

    protocol_version: int
    server_version: str
    stage: str
    seq: int
    session: str
    event_endpoint: str


@_reply("applied")
class Applied:
    """A command was applied and is durable: its sequence number and the nodes it touched."""

    seq: int
    nodes: tuple[str, ...] = ()


@_reply("tree_node")
class TreeNode:
    """A node's identity and place; ``source`` is the asset node whose import made it."""

    uuid: str
    name: str
    kind: NodeKind
    parent: str | None = None
    parent_bone: str | None = None
    source: str | None = None


@_reply("tree")
class Tree:
    seq: int
    nodes: tuple[TreeNode, ...]


@_reply("snapshot")
class Snapshot:
    """The stage at ``seq``: parents before children. Apply events with seq > ``seq`` after it."""

    seq: int
    scene: SceneSettings
    nodes: tuple[NodeState, ...]


@_reply("asset_data")
class AssetData:
    sha256: str
    data: bytes


@_reply("asset_stored")
class AssetStored:
    sha256: str
    size: int


@_reply("error")
class Error:
    """A request failed; nothing it asked for was changed."""

    code: ErrorCode
    message: str
    field: str | None = None


@_reply("event")
class Event:
    """An applied command, in sequence order, with who sent it."""

    seq: int
    command: Command
    session: str = ""
    request: str = ""


@_reply("events")
class Events:
    """Journaled events in order; ``last_seq`` is the newest the server has."""

    events: tuple[Event, ...]
    last_seq: int
