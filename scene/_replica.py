"""A local copy of the stage in this process's bpy: rebuilt from a snapshot, kept current by events.

Render processes, agents, the CLI and tests all make their copy through ``open_replica``; how
events reach the copy (a subscription, a queue, a journal) is the caller's business, so this
module needs no transport.
"""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

from protocols import Event, Snapshot, StagecraftError

from ._asset_store import AssetStore
from ._stage import Stage


class SnapshotSource(Protocol):
    """What a replica is made from: a stage client (``protocols.StageClient`` is one)."""

    def snapshot(self) -> Snapshot: ...

    def get_asset(self, sha256: str) -> bytes: ...


class ReplicaGap(StagecraftError):
    """An event arrived that does not follow the replica's seq: take a new replica."""


class Replica:
    """The replica's Stage and the seq it holds; ``apply`` brings it forward one event at a time."""

    def __init__(self, stage: Stage, seq: int) -> None:
        self.stage = stage
        self.seq = seq

    def apply(self, event: Event) -> bool:
        """Apply ``event`` if it is the next one; False for one already held; ReplicaGap past a gap."""
        if event.seq <= self.seq:
            return False
        if event.seq != self.seq + 1:
            raise ReplicaGap(f"the replica holds seq {self.seq} but the next event is {event.seq}")
        self.stage.apply(event.command, check=False)  # the stage checked it before publishing
        self.seq = event.seq
        return True


def open_replica(source: SnapshotSource, scratch: Path) -> Replica:
    """Rebuild the stage from ``source``'s snapshot in this process's bpy (assets kept in ``scratch``).

    Subscribe to events before calling this and apply those after ``replica.seq``: no change
    falls between the snapshot and the first event.
    """
    snapshot = source.snapshot()
    stage = Stage(AssetStore(Path(scratch)))
    stage.rebuild(snapshot.scene, snapshot.nodes, source.get_asset)
    return Replica(stage, snapshot.seq)
