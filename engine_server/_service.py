"""The stage's request handler: runs on the bpy thread, numbers every applied command.

It turns requests into outcomes (a reply, and for a change the event to journal and
publish); the trio core makes the event durable before the reply leaves.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Iterable
from typing import Any

import msgpack

from protocols import (
    COMMAND_TYPES,
    Applied,
    Envelope,
    Event,
    GetNode,
    GetOptics,
    GetSnapshot,
    GetTree,
    Snapshot,
    Tree,
    UnknownCommand,
    decode,
    encode,
)

from ._blender import Stage
from ._snapshots import SnapshotStore

logger = logging.getLogger("stagecraft.stage")


@dataclasses.dataclass(frozen=True, slots=True)
class Outcome:
    """What handling one request produced."""

    reply: Any
    seq: int | None = None
    event_parts: list[bytes] | None = None
    snapshot_seq: int | None = None


def event_payload(parts: list[Any]) -> bytes:
    """An encoded event's frames as one journal payload."""
    return msgpack.packb([bytes(p) for p in parts], use_bin_type=True)


def event_from_payload(payload: bytes) -> tuple[Event, list[bytes]]:
    """A journal payload back into its event and frames."""
    parts = msgpack.unpackb(payload, raw=False)
    return decode(parts).body, parts


class StageService:
    """Owns the Stage and the sequence counter; every method runs on the bpy thread."""

    def __init__(self, stage: Stage, snapshots: SnapshotStore, *, snapshot_every: int) -> None:
        self.stage = stage
        self.snapshots = snapshots
        self.snapshot_every = snapshot_every
        self.seq = 0
        self.snapshot_seq = 0

    def restore(self) -> int:
        """Load the newest snapshot (or an empty scene); returns the seq it holds."""
        latest = self.snapshots.latest()
        if latest is None:
            self.stage.reset()
        else:
            self.seq, path = latest
            self.snapshot_seq = self.seq
            self.stage.load(path)
        return self.seq

    def replay(self, events: Iterable[Event]) -> int:
        """Re-apply journaled events in order (at start-up); returns how many."""
        count = 0
        for event in events:
            if event.seq != self.seq + 1:
                raise RuntimeError(f"journal jumps from seq {self.seq} to {event.seq}")
            self.stage.apply(event.command)
            self.seq = event.seq
            count += 1
        return count

    def handle(self, envelope: Envelope) -> Outcome:
        body = envelope.body
        if isinstance(body, COMMAND_TYPES):
            return self._apply(envelope)
        if isinstance(body, GetNode):
            return Outcome(self.stage.node_state(body.node))
        if isinstance(body, GetOptics):
            return Outcome(self.stage.optics(body.node))
        if isinstance(body, GetTree):
            return Outcome(Tree(seq=self.seq, nodes=self.stage.tree()))
        if isinstance(body, GetSnapshot):
            return Outcome(
                Snapshot(seq=self.seq, scene=self.stage.scene_settings(), nodes=self.stage.snapshot_nodes())
            )
        raise UnknownCommand(f"{envelope.type!r} is not a request this server takes")

    def apply_local(self, command: Any, session: str) -> Outcome:
        """Apply a command that did not come over the wire (the stage file at first start)."""
        return self._apply(Envelope(body=command, session=session))

    def _apply(self, envelope: Envelope) -> Outcome:
        resolved, touched = self.stage.apply(envelope.body)
        self.seq += 1
        event = Event(seq=self.seq, command=resolved, session=envelope.session, request=envelope.msg_id)
        parts = encode(Envelope(body=event, session="stage"))
        snapshot_seq = None
        if self.seq - self.snapshot_seq >= self.snapshot_every:
            snapshot_seq = self.save_snapshot()
        return Outcome(Applied(seq=self.seq, nodes=touched), self.seq, parts, snapshot_seq)

    def save_snapshot(self) -> int:
        """Write the scene as a pending snapshot at the current seq; the core commits it."""
        self.stage.save(self.snapshots.reserve(self.seq))
        self.snapshot_seq = self.seq
        logger.info("snapshot written at seq %d", self.seq)
        return self.seq
