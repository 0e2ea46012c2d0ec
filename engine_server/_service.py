"""The stage's request handler: runs on the bpy thread, numbers every applied command.

It turns requests into outcomes (a reply, and for a change the event to journal and
publish); the trio core makes the event durable before the reply leaves.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Iterable
from typing import Any

from protocols import (
    COMMAND_TYPES,
    Applied,
    Command,
    Envelope,
    Event,
    EventResult,
    GetNode,
    GetOptics,
    GetOpticsTable,
    GetSnapshot,
    GetTree,
    InvalidArgument,
    NodeReply,
    ProtocolError,
    SetTransform,
    Snapshot,
    Tree,
    UnknownCommand,
    encode,
)
from scene import Stage

from ._journal import JournalError
from ._snapshots import SnapshotStore

logger = logging.getLogger("stagecraft.stage")


@dataclasses.dataclass(frozen=True, slots=True)
class Change:
    """An applied command's event: its seq and its encoded frames, to journal and publish."""

    seq: int
    event_parts: list[bytes]


@dataclasses.dataclass(frozen=True, slots=True)
class Outcome:
    """What handling one request produced: a reply, and for a command its change."""

    reply: Any
    change: Change | None = None
    snapshot_seq: int | None = None  # a snapshot was written at this seq, to commit after the change


class StageService:
    """Owns the Stage and the sequence counter; every method runs on the bpy thread."""

    def __init__(self, stage: Stage, snapshots: SnapshotStore, *, snapshot_every: int) -> None:
        self.stage = stage
        self.snapshots = snapshots
        self.snapshot_every = snapshot_every
        self.seq = 0
        self.snapshot_seq = 0
        self._retry_snapshot_at = 0

    def restore(self) -> int:
        """Load the newest usable snapshot (or an empty scene); returns the seq it holds.

        A snapshot that fails its checksum or does not load is passed over, with a log line, for
        the one before it: the journal is kept back to the oldest snapshot held.
        """
        for seq, path in self.snapshots.usable():
            try:
                self.stage.load(path)
            except RuntimeError as exc:  # Blender could not read it
                logger.error("snapshot %s does not load (%s); trying the one before it", path.name, exc)
                continue
            self.seq = self.snapshot_seq = seq
            return seq
        self.stage.reset()
        return self.seq

    def replay(self, records: Iterable[tuple[int, Command]]) -> int:
        """Re-apply journaled commands in order (at start-up), through the same code as the first apply.

        A run of ``set_transform`` commands is applied as one move per node (moves of different
        nodes commute, and a later move's fields replace an earlier one's), so a journal of
        drags replays fast. Every journaled command passed the storable check when it was first
        applied, so replay does not fail; if a record still does (a bug), it is logged and
        skipped so that the stage starts with everything else. Returns how many were replayed.
        """
        count = 0
        moves: dict[str, SetTransform] = {}
        for seq, command in records:
            if seq != self.seq + 1:
                raise JournalError(f"the journal jumps from seq {self.seq} to {seq}")
            if isinstance(command, SetTransform):
                moves[command.node] = _after(moves.get(command.node), command)
            else:
                self._replay_moves(moves)
                self._replay_one(seq, command)
            self.seq = seq
            count += 1
        self._replay_moves(moves)
        return count

    def _replay_moves(self, moves: dict[str, SetTransform]) -> None:
        for move in moves.values():
            self._replay_one(self.seq, move)
        moves.clear()

    def _replay_one(self, seq: int, command: Command) -> None:
        try:
            self.stage.apply(command, check=False)  # it passed the check when first applied
        except ProtocolError as exc:
            logger.error("journal record %d (%s) does not replay and is skipped: %s", seq, command.TYPE,
                         exc.message)  # fmt: skip

    QUERIES: tuple[type, ...] = (GetNode, GetOptics, GetOpticsTable, GetTree, GetSnapshot)
    HANDLES: tuple[type, ...] = (*COMMAND_TYPES, *QUERIES)  # what the server hands to this thread

    def handle(self, envelope: Envelope) -> Outcome:
        """Apply a command, or answer a query, from ``HANDLES``."""
        body = envelope.body
        if isinstance(body, COMMAND_TYPES):
            return self._apply(envelope)
        return Outcome(self._answer(body))

    def _answer(self, query: Any) -> Any:
        match query:
            case GetNode(node=node):
                return NodeReply(seq=self.seq, node=self.stage.node_state(node))
            case GetOptics(node=node):
                return self.stage.optics(node)
            case GetOpticsTable():
                return self.stage.optics_entries()
            case GetTree():
                return Tree(seq=self.seq, nodes=self.stage.tree())
            case GetSnapshot():
                return Snapshot(
                    seq=self.seq, scene=self.stage.scene_settings(), nodes=self.stage.snapshot_nodes()
                )
        raise UnknownCommand(f"{type(query).__name__} is not a query of the stage")

    def apply_local(self, command: Command, session: str) -> Change:
        """Apply a command that did not come over the wire (the stage file at first start)."""
        change = self._apply(Envelope(body=command, session=session)).change
        assert change is not None  # every applied command has one
        return change

    def _apply(self, envelope: Envelope) -> Outcome:
        seq = self.seq + 1

        def seal(resolved: Command, result: EventResult) -> list[Any]:
            """The event as it is journaled and published; a value that cannot travel rolls it back."""
            event = Event(
                seq=seq, command=resolved, result=result, session=envelope.session, request=envelope.msg_id
            )
            try:
                return encode(Envelope(body=event, session="stage"))
            except ProtocolError as exc:
                raise InvalidArgument(
                    f"the stage would hold a value it cannot describe: {exc.message}"
                ) from None

        _, touched, parts = self.stage.apply_and_seal(envelope.body, seal)
        self.seq = seq
        snapshot_seq = None
        if self.seq - self.snapshot_seq >= self.snapshot_every and self.seq >= self._retry_snapshot_at:
            snapshot_seq = self._try_snapshot()
        return Outcome(Applied(seq=self.seq, nodes=touched), Change(self.seq, parts), snapshot_seq)

    def _try_snapshot(self) -> int | None:
        """Save a snapshot; a failure is logged and retried later, never the command's failure."""
        try:
            return self.save_snapshot()
        except (OSError, RuntimeError) as exc:
            self._retry_snapshot_at = self.seq + max(1, self.snapshot_every // 10)
            logger.error(
                "snapshot at seq %d could not be written (%s); commands are still journaled, "
                "trying again at seq %d",
                self.seq,
                exc,
                self._retry_snapshot_at,
            )
            return None

    def save_snapshot(self) -> int:
        """Write the scene as a pending snapshot at the current seq; the core commits it."""
        self.stage.save(self.snapshots.reserve(self.seq))
        self.snapshot_seq = self.seq
        logger.info("snapshot written at seq %d", self.seq)
        return self.seq


def _after(earlier: SetTransform | None, later: SetTransform) -> SetTransform:
    """One move with the effect of ``earlier`` then ``later`` (of the same node)."""
    if earlier is None:
        return later
    return dataclasses.replace(
        later,
        location=later.location if later.location is not None else earlier.location,
        rotation=later.rotation if later.rotation is not None else earlier.rotation,
        scale=later.scale if later.scale is not None else earlier.scale,
    )
