"""The versioned envelope around every message, and its multipart encoding.

A message travels as ZeroMQ frames ``[header, *raw_frames]``. ``header`` is a msgpack map::

    {"v": 1, "id": "<msg id>", "type": "<message type>", "session": "<client id>",
     "parent": "<id of the request this answers>" | nil, "body": {...}}

Bulk data (arrays, asset bytes) is referenced from the body as ``{"$frame": i, ...}`` and sent
as raw frame ``i`` after the header, never pickled.
"""

from __future__ import annotations

import dataclasses
import itertools
import uuid
from typing import Any

import msgpack

from ._codec import Frames, from_wire, message_class, to_wire
from ._errors import BadMessage, ProtocolError, TooLarge, UnknownCommand

PROTOCOL_VERSION = 2
MAX_HEADER_BYTES = 1 << 20  # 1 MiB of msgpack per header
MAX_MESSAGE_BYTES = 256 << 20  # headers + raw frames (asset uploads)
MAX_ID_CHARS = 128  # msg id, session and parent: ids, not payloads (they are journaled with every event)
MAX_FRAMES = 65_536  # a snapshot carries two per animation curve (a baked character: hundreds)


_ID_PREFIX = uuid.uuid4().hex[:16]
_ID_COUNTER = itertools.count()


def new_id() -> str:
    """A fresh message or session id: unique per process (random prefix) and cheap (a counter)."""
    return f"{_ID_PREFIX}{next(_ID_COUNTER):016x}"


@dataclasses.dataclass(frozen=True, slots=True)
class Envelope:
    """One message with its routing metadata."""

    body: Any
    msg_id: str = dataclasses.field(default_factory=new_id)
    session: str = ""
    parent: str | None = None
    version: int = PROTOCOL_VERSION

    @property
    def type(self) -> str:
        return self.body.TYPE


def encode(envelope: Envelope) -> list[Any]:
    """The envelope as ZeroMQ frames: msgpack header first, then raw frames."""
    frames = Frames()
    header = {
        "v": envelope.version,
        "id": envelope.msg_id,
        "type": envelope.type,
        "session": envelope.session,
        "parent": envelope.parent,
        "body": to_wire(envelope.body, frames),
    }
    parts = [msgpack.packb(header, use_bin_type=True), *frames.items]
    total = sum(memoryview(p).nbytes for p in parts)
    if total > MAX_MESSAGE_BYTES:  # a stage would drop the connection: say so before sending
        raise TooLarge(
            f"{envelope.type} message is {total} bytes; the limit is {MAX_MESSAGE_BYTES} "
            "(store big files in the asset store, big results as assets)"
        )
    return parts


def _no_ext(code: int, data: bytes) -> Any:
    raise BadMessage(f"msgpack extension type {code} is not allowed")


def unpack_header(raw: bytes | memoryview) -> dict[str, Any]:
    """The header map, checked for size and shape but not yet typed."""
    if len(raw) > MAX_HEADER_BYTES:
        raise TooLarge(f"message header is {len(raw)} bytes; the limit is {MAX_HEADER_BYTES}")
    try:
        header = msgpack.unpackb(raw, raw=False, strict_map_key=True, ext_hook=_no_ext)
    except ProtocolError:
        raise
    except Exception as exc:
        raise BadMessage(f"header is not valid msgpack ({type(exc).__name__}: {exc})") from None
    if not isinstance(header, dict):
        raise BadMessage("header must be a msgpack map with keys v, id, type, session, body")
    for key, kind in (("v", int), ("id", str), ("type", str)):
        if not isinstance(header.get(key), kind) or isinstance(header.get(key), bool):
            raise BadMessage(f"header field {key!r} is missing or not a {kind.__name__}")
    if header["v"] != PROTOCOL_VERSION:
        raise BadMessage(
            f"protocol version {header['v']} is not supported: this server speaks version "
            f"{PROTOCOL_VERSION} (docs/protocol.md, section Changes, says what is new)"
        )
    if not isinstance(header.get("session", ""), str):
        raise BadMessage("header field 'session' must be a string")
    if header.get("parent") is not None and not isinstance(header["parent"], str):
        raise BadMessage("header field 'parent' must be a string or nil")
    for key in ("id", "session", "parent"):
        text = header.get(key) or ""
        if len(text) > MAX_ID_CHARS or not text.isprintable():
            raise BadMessage(
                f"header field {key!r} must be at most {MAX_ID_CHARS} printable characters (got {len(text)})",
                field=key,
            )
    if not isinstance(header.get("body", {}), dict):
        raise BadMessage("header field 'body' must be a map")
    return header


def decode(parts: list[Any]) -> Envelope:
    """Frames -> a typed Envelope; raises ProtocolError naming what is wrong."""
    if not parts:
        raise BadMessage("empty message")
    if len(parts) > MAX_FRAMES + 1:
        raise TooLarge(f"message has {len(parts) - 1} raw frames; the limit is {MAX_FRAMES}")
    total = sum(len(p) for p in parts)
    if total > MAX_MESSAGE_BYTES:
        raise TooLarge(f"message is {total} bytes; the limit is {MAX_MESSAGE_BYTES}")
    header = unpack_header(parts[0])
    try:
        cls = message_class(header["type"])
    except KeyError:
        raise UnknownCommand(f"unknown message type {header['type']!r}") from None
    frames = Frames(parts[1:])
    body = from_wire(cls, header.get("body", {}), frames)
    if len(frames.used) != len(frames.items):
        raise BadMessage(
            f"message carries {len(frames.items)} raw frames but its body refers to {len(frames.used)}"
        )
    return Envelope(
        body=body,
        msg_id=header["id"],
        session=header.get("session", ""),
        parent=header.get("parent"),
        version=header["v"],
    )
