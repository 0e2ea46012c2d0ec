"""A copy of the stage as plain data, kept exact by events' results (no Blender needed).

``StageMirror`` holds nodes and scene settings from a snapshot and applies each event's
``result``; ``StageFollower`` feeds it from a live stage: it subscribes, takes a snapshot,
applies events in order, fills gaps from the journal and takes a new snapshot when the events
it missed are compacted away.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from ._client import EventStream, StageClient
from ._errors import Compacted, StagecraftError
from ._replies import CLEARABLE, Event, NodeChange, Snapshot, TreeNode
from ._scene import AnimationCurve, NodeState, SceneSettings

_CHANGEABLE = tuple(
    f.name for f in dataclasses.fields(NodeChange) if f.name not in ("uuid", "cleared", "keyed")
)


class MirrorOutOfStep(StagecraftError):
    """An event does not follow the mirror's seq, or changes a node the mirror does not have."""


class StageMirror:
    """The stage's nodes and settings at ``seq``, as plain data."""

    def __init__(self, snapshot: Snapshot) -> None:
        self.seq = snapshot.seq
        self.scene: SceneSettings = snapshot.scene
        self.nodes: dict[str, NodeState] = {node.uuid: node for node in snapshot.nodes}

    def apply(self, event: Event) -> bool:
        """Apply the next event's result; False for an event already applied.

        Raises MirrorOutOfStep for an event past the next one (a gap) or one that does not fit.
        """
        if event.seq <= self.seq:
            return False
        if event.seq != self.seq + 1:
            raise MirrorOutOfStep(f"the mirror holds seq {self.seq}; event {event.seq} leaves a gap")
        result = event.result
        nodes = dict(self.nodes)  # an event applies whole or not at all
        for uuid in result.deleted:
            if nodes.pop(uuid, None) is None:
                raise MirrorOutOfStep(f"event {event.seq} deletes node {uuid}, which the mirror lacks")
        for node in result.created:
            nodes[node.uuid] = node
        for change in result.changed:
            before = nodes.get(change.uuid)
            if before is None:
                raise MirrorOutOfStep(f"event {event.seq} changes node {change.uuid}, which the mirror lacks")
            nodes[change.uuid] = changed(before, change)
        self.nodes = nodes
        if result.scene is not None:
            self.scene = result.scene
        self.seq = event.seq
        return True

    def tree(self) -> tuple[TreeNode, ...]:
        """Every node's identity and place, as ``get_tree`` answers them (by name)."""
        return tuple(
            TreeNode(
                uuid=n.uuid,
                name=n.name,
                kind=n.kind,
                parent=n.parent,
                parent_bone=n.parent_bone,
                source=n.source,
            )
            for n in sorted(self.nodes.values(), key=lambda n: n.name)
        )


def changed(node: NodeState, change: NodeChange) -> NodeState:
    """``node`` with ``change`` applied: given fields replaced, cleared ones removed."""
    values = {name: value for name in _CHANGEABLE if (value := getattr(change, name)) is not None}
    values.update(dict.fromkeys(set(change.cleared) & CLEARABLE))
    if change.keyed:
        values["animation"] = with_keys(values.get("animation", node.animation), change.keyed)
    return dataclasses.replace(node, **values)


def with_keys(
    curves: tuple[AnimationCurve, ...] | None, keys: tuple[AnimationCurve, ...]
) -> tuple[AnimationCurve, ...]:
    """``curves`` with ``keys`` set: a key on a frame a curve has replaces it, others are added."""
    merged = {(c.path, c.index): c for c in curves or ()}
    for key in keys:
        held = merged.get((key.path, key.index))
        if held is None:
            merged[key.path, key.index] = key
            continue
        frames = dict(zip(held.frames.tolist(), held.values.tolist(), strict=True))
        frames.update(zip(key.frames.tolist(), key.values.tolist(), strict=True))
        order = sorted(frames)
        merged[key.path, key.index] = AnimationCurve(
            path=key.path,
            index=key.index,
            frames=np.array(order),
            values=np.array([frames[f] for f in order]),
        )
    return tuple(merged[k] for k in sorted(merged))


class StageFollower:
    """A live StageMirror of one stage, fed by ``poll``."""

    def __init__(self, client: StageClient) -> None:
        self.client = client
        self.snapshots_taken = 0
        self._stream: EventStream = client.subscribe()  # before the snapshot: nothing is missed
        self.mirror = self._resync()

    def poll(self, timeout: float | None = None) -> Event | None:
        """Apply the next event (waiting at most ``timeout`` s); None if none came.

        Events the subscription missed come from the journal; if they are compacted away, or an
        event does not fit, the mirror is rebuilt from a new snapshot.
        """
        try:
            event = self._stream.next(timeout)
            if event is not None:
                self.mirror.apply(event)
        except (Compacted, MirrorOutOfStep):
            self.mirror = self._resync()
            return None
        return event

    def _resync(self) -> StageMirror:
        snapshot = self.client.snapshot()
        self._stream.start_after(snapshot.seq)
        self.snapshots_taken += 1
        return StageMirror(snapshot)

    def close(self) -> None:
        self._stream.close()
