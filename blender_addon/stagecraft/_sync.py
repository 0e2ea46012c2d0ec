"""StageSync: the two-way sync between this Blender and a stage, one ``tick()`` at a time.

Blender's timer calls ``tick`` on the main thread (tests call it directly). A tick

1. joins (hello, subscribe, snapshot, rebuild the stage objects) when not joined yet,
2. sends the local edits: each stage object's state against its last known state, as the typed
   commands any client sends (a Batch when several),
3. collects replies (a refused edit is reported and the stage resynced),
4. applies the stage's events in order with ``Stage.apply``; a change that came from the stage
   becomes the last known state, so it is never sent back,
5. pings the stage now and then: the reply's seq gives the lag, silence means the connection
   dropped, and the sync rejoins from a fresh snapshot (UUIDs decide identity: no duplicates).

Conflicts resolve by the stage's order: an own event is skipped when the scene already shows it,
and applied when another session's edit landed on the same node in between; ``status.conflict``
says whose edit won.
"""

from __future__ import annotations

import collections
import dataclasses
import time
from pathlib import Path

import bpy
import zmq

from . import _diff
from ._stage import alive
from ._vendor.protocols import (
    MAX_BATCH,
    MAX_SELECTION,
    Applied,
    BadMessage,
    Batch,
    Compacted,
    CreateNode,
    CurveKeys,
    DeleteNode,
    Event,
    EventStream,
    Hello,
    NodeState,
    Peer,
    ProtocolError,
    ServerInfo,
    StageClient,
    StagecraftError,
    decode,
    new_id,
)
from ._vendor.protocols._client import EVENT_TOPIC
from ._vendor.scene import UUID_KEY, AssetStore, Stage, bake_parent_inverse

CONFLICT_WINDOW_S = 1.0  # a foreign edit this soon after our own to the same field overrode it
MAX_EVENTS_PER_TICK = 10_000


@dataclasses.dataclass(frozen=True)
class PeerView:
    """Another client on the stage as the panel shows it: its name and the names of what it selected."""

    session: str
    name: str
    selection: tuple[str, ...]
    nodes: tuple[str, ...]  # the selection's UUIDs (the viewport overlay finds the objects by them)


@dataclasses.dataclass
class SyncStatus:
    """What the panel shows."""

    state: str = "disconnected"  # disconnected | connecting | connected
    endpoint: str = ""
    stage: str = ""
    server_seq: int = 0
    applied_seq: int = 0
    sent: int = 0
    last_error: str = ""
    conflict: str = ""
    peers: tuple[PeerView, ...] = ()  # the others on the stage, as of the last ping

    @property
    def lag(self) -> int:
        """Events the stage has that this Blender has not applied yet."""
        return max(0, self.server_seq - self.applied_seq)


@dataclasses.dataclass
class _Sent:
    fields: dict[str, set[str]]  # node -> fields the command changed
    at: float
    diff: bool  # from the local diff: the scene already shows it


class StageSync:
    """Keeps this Blender's stage objects and the stage at ``endpoint`` the same."""

    def __init__(
        self,
        endpoint: str,
        asset_dir: Path,
        *,
        client_name: str = "stagecraft-blender",
        curve: CurveKeys | None = None,
        request_timeout: float = 5.0,
        ping_interval: float = 1.0,
        context: zmq.Context | None = None,
    ) -> None:
        self.status = SyncStatus(endpoint=endpoint)
        self.session = new_id()
        self.stage = Stage(AssetStore(asset_dir), shares_file=True)  # the artist's own objects stay
        self._client_name = client_name
        self._curve = curve
        self._timeout = request_timeout
        self._ping_interval = ping_interval
        self._context = context or zmq.Context.instance()
        self._client: StageClient | None = None
        self._events: EventStream | None = None
        self._hello: tuple[str, float] | None = None
        self._known: dict = {}  # uuid -> NodeState as the stage has it (with our edits in flight)
        self._pending: dict[str, float] = {}  # request id -> when it was sent, until its reply
        self._sent: dict[str, _Sent] = {}  # request id -> what it changed, until its event
        self._ping_id: str | None = None
        self._inflight: collections.Counter[str] = collections.Counter()
        self._clobbered: dict[str, tuple[int, str, set[str]]] = {}
        self._recent: dict[str, tuple[int, set[str], float]] = {}
        self._last_ping = 0.0
        self._behind = 0  # the stage's seq at the last ping reply
        self._applied_at_ping = 0  # our seq when the ping went out: the stage's answer is at least it
        self._object_count = -1  # of the file, at the last look for copies
        self._names: dict[str, str] = {}  # session -> the name it said hello with

    # -- lifecycle ----------------------------------------------------------------------------

    def connect(self) -> None:
        """Start joining the stage; ``tick`` finishes it without blocking Blender."""
        self._close()
        self._client = StageClient(
            self.status.endpoint,
            session=self.session,
            timeout=self._timeout,
            context=self._context,
            curve=self._curve,
        )
        self._hello = (self._client.send(Hello(client=self._client_name)), time.monotonic())
        self.status.state = "connecting"

    def disconnect(self) -> None:
        """Stop syncing; the stage objects stay in the file as they are."""
        self._close()
        self.status.state = "disconnected"

    @property
    def connected(self) -> bool:
        return self.status.state == "connected"

    def known_nodes(self) -> list:
        """The stage's nodes as last known (for the panel)."""
        return list(self._known.values())

    # -- the timer ----------------------------------------------------------------------------

    def tick(self, wait: float = 0.0) -> None:
        """One round of sync; ``wait`` seconds at most for the first event (tests; Blender passes 0)."""
        if self.status.state == "connecting":
            self._try_join()
        if not self.connected:
            return
        try:
            self._push_local()
            if self.connected:
                self._collect_replies()
            if self.connected:
                self._pull_events(wait)
            if self.connected:
                self._ping()
        except TimeoutError as exc:
            self._rejoin(f"lost the stage ({exc}); reconnecting")
        except zmq.ZMQError as exc:
            self._rejoin(f"connection error ({exc}); reconnecting")
        except ProtocolError as exc:  # a catch-up the stage could not serve
            self._rejoin(f"lost track of the stage ({exc}); resyncing")

    def send(self, command: object) -> None:
        """Send a command the artist asked for (a panel action); its event applies it here."""
        if not self.connected:
            raise StagecraftError("not connected to a stage")
        self._send(command, diff=False)

    def feed(self, frames: list[bytes]) -> None:
        """Handle one event message as published (topic, header, raw frames): the path a malformed
        or unexpected publication takes. Problems are reported in ``status.last_error``."""
        try:
            if not frames or frames[0] != EVENT_TOPIC:
                raise BadMessage(f"an event message starts with the topic {EVENT_TOPIC!r}")
            body = decode(list(frames[1:])).body
            if not isinstance(body, Event):
                raise BadMessage(f"expected an event on the event endpoint, got {type(body).__name__}")
        except ProtocolError as exc:
            self._report(f"ignored a malformed event: {exc}")
            return
        if body.seq != self.status.applied_seq + 1:
            self._report(f"ignored an event out of order: seq {body.seq} after {self.status.applied_seq}")
            return
        self._apply_event(body)

    # -- joining ------------------------------------------------------------------------------

    def _try_join(self) -> None:
        msg_id, sent_at = self._hello
        try:
            info: ServerInfo = self._client.receive(msg_id, timeout=0.001)
        except TimeoutError:
            if time.monotonic() - sent_at > self._timeout:
                keys = "" if self._curve is not None else " (a stage beyond loopback needs your key)"
                self._report(f"no answer from {self.status.endpoint} yet; retrying{keys}")
                self.connect()  # a fresh socket, a fresh hello: the stage may be back
            return
        except ProtocolError as exc:
            self._report(f"the stage refused hello: {exc}")
            self.disconnect()
            return
        self._hello = None
        try:
            self._events = EventStream(self._client, info.event_endpoint)  # before the snapshot
            snapshot = self._client.snapshot()
            self.stage.rebuild(snapshot.scene, snapshot.nodes, self._client.get_asset)
            self._events.start_after(snapshot.seq)
        except (TimeoutError, StagecraftError) as exc:
            self._report(f"could not load the stage: {exc}")
            self.connect()
            return
        self._known = {n.uuid: self.stage.node_state(n.uuid) for n in snapshot.nodes}
        self.status.stage = info.stage
        self.status.applied_seq = snapshot.seq
        self.status.server_seq = max(info.seq, snapshot.seq)
        self.status.state = "connected"
        self._last_ping = time.monotonic()
        self._behind = snapshot.seq

    def _revert(self, sent: _Sent, refusal: ProtocolError) -> None:
        """Take back an edit the stage refused: only the nodes it touched, to the stage's values."""
        assert self._client is not None
        for uuid in sent.fields:
            if self.stage.object(uuid) is None:
                continue
            try:
                truth = self._client.node(uuid)
            except ProtocolError:  # the stage no longer has it: the next event says so
                continue
            local = self.stage.node_state(uuid)
            for command in _diff.local_changes(local, truth):
                self.stage.apply(command, check=False)  # this Blender only: back to the stage's value
            self._known[uuid] = self.stage.node_state(uuid)
        self._report(f"the stage refused an edit and it was taken back: {refusal}")

    def _rejoin(self, why: str) -> None:
        self._report(why)
        self.connect()

    def _close(self) -> None:
        if self._events is not None:
            self._events.close()
        if self._client is not None:
            self._client.close()
        self._events = self._client = self._hello = self._ping_id = None
        self._pending.clear()
        self._sent.clear()
        self._inflight.clear()
        self._clobbered.clear()
        self._recent.clear()

    # -- local edits up -------------------------------------------------------------------------

    def _push_local(self) -> None:
        commands: list[object] = []
        if len(bpy.data.objects) != self._object_count:  # objects came or went: look for copies
            self._object_count = len(bpy.data.objects)
            commands.extend(self._adopt_copies())
        if any((o := self.stage.object(uuid)) is None or not alive(o) for uuid in self._known):
            # an undo or redo re-allocates every object: find the nodes again by their ids, so
            # that only an object that is really gone from the scene reads as a delete
            self.stage.reindex()
        for uuid, known in list(self._known.items()):
            obj = self.stage.object(uuid)
            if obj is None or not alive(obj) or not obj.users_scene:
                commands.append(DeleteNode(node=uuid))
                self.stage.forget(uuid)
                del self._known[uuid]
                continue
            _normalise(obj)
            try:
                now = self.stage.node_state(uuid)
                changes = _diff.local_changes(known, now)
            except ProtocolError as exc:  # a value the stage cannot take (light power 2e7 W)
                self.stage.restore_node(known)
                self._report(f"{obj.name}: {exc.message}; taken back to the stage's value")
                continue
            if changes:
                commands.extend(changes)
                self._known[uuid] = _diff.without_animated(known, now)
        for start in range(0, len(commands), MAX_BATCH):
            chunk = commands[start : start + MAX_BATCH]
            self._send(chunk[0] if len(chunk) == 1 else Batch(commands=tuple(chunk)), diff=True)

    def _adopt_copies(self) -> list[object]:
        """New stage nodes for objects an artist duplicated (Shift-D / Alt-D copy our ids).

        A copy gets a fresh uuid and is created on the stage as it is; a copy of an object an
        asset import made cannot be rebuilt elsewhere, so it stays in this Blender only.
        """
        copies = []
        for obj in bpy.data.objects:
            uuid = obj.get(UUID_KEY)
            if isinstance(uuid, str) and self.stage.object(uuid) not in (obj, None) and obj.users_scene:
                obj[UUID_KEY] = new_id()  # 32 hex digits, unique to this Blender's session
                copies.append(obj)
        if not copies:
            return []
        self.stage.reindex()  # once for all of them: it reads every object of the file
        creates: list[object] = []
        for obj in copies:
            fresh = obj[UUID_KEY]
            state = self.stage.node_state(fresh)
            if state.source is not None or state.kind == "asset":
                self.stage.forget(fresh)
                keys = obj.keys()
                for key in [k for k in keys if k.startswith("stagecraft_")]:
                    del obj[key]
                self._report(f"{obj.name} is a copy of an imported object: it stays in this Blender only")
                continue
            creates.append(_create_from(state))
            self._known[fresh] = state
        return creates

    def _send(self, command: object, *, diff: bool) -> None:
        msg_id = self._client.send(command)
        sent = _Sent(_diff.edited_fields(command), time.monotonic(), diff)
        self._pending[msg_id] = sent.at
        self._sent[msg_id] = sent
        if diff:
            self._inflight.update(sent.fields.keys())
        self.status.sent += 1

    def _collect_replies(self) -> None:
        now = time.monotonic()
        for msg_id, sent_at in list(self._pending.items()):
            try:
                reply = self._client.receive(msg_id, timeout=0.0001)
            except TimeoutError:
                if now - sent_at > self._timeout:
                    raise TimeoutError(f"no reply within {self._timeout:g} s") from None
                return  # replies come in order: the later ones are not in either
            except ProtocolError as exc:
                del self._pending[msg_id]
                sent = self._sent.pop(msg_id, None)
                if sent is not None and sent.diff:  # this Blender shows an edit the stage lacks
                    self._revert(sent, exc)
                    continue
                self._report(f"the stage refused: {exc}")
                continue
            del self._pending[msg_id]
            if msg_id == self._ping_id:
                self._ping_id = None
            if isinstance(reply, Applied):
                self.status.server_seq = max(self.status.server_seq, reply.seq)
            elif isinstance(reply, ServerInfo):
                # events may arrive while the ping is answered: only a seq older than one we held
                # before asking means the stage went back
                if reply.seq < self._applied_at_ping:
                    self._rejoin("the stage went back in time (restarted without its data?); resyncing")
                    return
                if self.status.applied_seq < self._behind:
                    # events that existed a ping ago never came (lost while the stage restarted)
                    self._events.start_after(self.status.applied_seq)
                self._behind = reply.seq
                self.status.server_seq = reply.seq
                self._see_peers(reply.peers)

    # -- stage events down ----------------------------------------------------------------------

    def _pull_events(self, wait: float) -> None:
        for _ in range(MAX_EVENTS_PER_TICK):
            if not self.connected:
                return
            try:
                event = self._events.next(timeout=wait)
            except Compacted as exc:  # a gap the journal no longer holds: start over
                self._rejoin(f"missed events the stage has compacted ({exc}); resyncing")
                return
            except ProtocolError as exc:
                self._report(f"ignored a malformed event: {exc}")
                continue
            if event is None:
                return
            wait = 0.0
            self._apply_event(event)

    def _apply_event(self, event: Event) -> None:
        command = event.command
        fields = _diff.edited_fields(command)
        own = self._sent.pop(event.request, None) if event.session == self.session else None
        try:
            if own is None:
                self._apply_foreign(event, fields)
            elif not own.diff or any(node in self._clobbered for node in fields):
                self._apply(command, event)
                self._settle_own(event, fields, own)
            else:
                self._settle_own(event, fields, own)  # the scene already shows it (or newer edits)
        except (ProtocolError, StagecraftError) as exc:
            self._rejoin(f"could not apply seq {event.seq} ({exc}); resyncing")
            return
        self.status.applied_seq = event.seq
        self.status.server_seq = max(self.status.server_seq, event.seq)

    def _apply_foreign(self, event: Event, fields: dict[str, set[str]]) -> None:
        now = time.monotonic()
        for node, changed in fields.items():
            if self._inflight[node] > 0 and changed & self._fields_in_flight(node):  # the same fields
                self._clobbered[node] = (event.seq, event.session, changed)
            recent = self._recent.get(node)
            if recent is not None and now - recent[2] < CONFLICT_WINDOW_S and recent[1] & changed:
                self.status.conflict = (
                    f"your edit to {self._describe(node, recent[1] & changed)} (seq {recent[0]}) was "
                    f"overridden by seq {event.seq} from {self._who(event.session)}"
                )
        self._apply(event.command, event)

    def _fields_in_flight(self, node: str) -> set[str]:
        """The fields of ``node`` our edits still on their way to the stage change."""
        return {f for sent in self._sent.values() if sent.diff for f in sent.fields.get(node, ())}

    def _settle_own(self, event: Event, fields: dict[str, set[str]], own: _Sent) -> None:
        now = time.monotonic()
        for node, changed in fields.items():
            if own.diff:
                self._inflight[node] -= 1
            self._recent[node] = (event.seq, changed, now)
            if self._inflight[node] <= 0 and node in self._clobbered:
                seq, session, theirs = self._clobbered.pop(node)
                self.status.conflict = (
                    f"your edit to {self._describe(node, changed)} (seq {event.seq}) won over "
                    f"seq {seq} from {self._who(session)} ({', '.join(sorted(theirs))})"
                )

    def _apply(self, command: object, event: Event) -> None:
        self._fetch_assets(command)
        _, touched = self.stage.apply(command)
        for uuid in touched:
            if self.stage.object(uuid) is None:
                self._known.pop(uuid, None)
            else:
                self._known[uuid] = self.stage.node_state(uuid)

    def _fetch_assets(self, command: object) -> None:
        """Download the asset blobs a create_node imports and the local store lacks."""
        commands = command.commands if isinstance(command, Batch) else (command,)
        for sub in commands:
            sha256 = sub.asset.sha256 if isinstance(sub, CreateNode) and sub.asset is not None else None
            if sha256 is not None and sha256 not in self.stage.assets:
                self.stage.assets.put_bytes(self._client.get_asset(sha256))

    def _ping(self) -> None:
        now = time.monotonic()
        if now - self._last_ping < self._ping_interval or self._ping_id is not None:
            return
        self._ping_id = self._client.send(Hello(client=self._client_name, selection=self._selection()))
        self._applied_at_ping = self.status.applied_seq
        self._pending[self._ping_id] = now
        self._last_ping = now

    def _selection(self) -> tuple[str, ...]:
        """The stage nodes this artist has selected (for the others' presence)."""
        picked = []
        for obj in bpy.context.selected_objects[:MAX_SELECTION]:
            uuid = obj.get(UUID_KEY)
            if isinstance(uuid, str) and uuid in self._known:
                picked.append(uuid)
        return tuple(picked)

    def _see_peers(self, peers: tuple[Peer, ...]) -> None:
        names = {}
        for peer in peers:
            names[peer.session] = peer.client or peer.session[:8]
        self._names.update(names)
        self.status.peers = tuple(
            PeerView(
                session=peer.session,
                name=names[peer.session],
                selection=tuple(self._known[u].name for u in peer.selection if u in self._known),
                nodes=tuple(u for u in peer.selection if u in self._known),
            )
            for peer in peers
        )

    def _who(self, session: str) -> str:
        """An artist's name for a session (its id if it never said hello to us)."""
        return self._names.get(session, session[:8]) if session else "the stage"

    # -- status ---------------------------------------------------------------------------------

    def _describe(self, node: str, fields: set[str]) -> str:
        known = self._known.get(node)
        name = known.name if known is not None else node
        return f"{name}.{'/'.join(sorted(fields))}"

    def _report(self, message: str) -> None:
        self.status.last_error = message


def _normalise(obj) -> None:
    """An identity parent inverse, as the stage keeps it (rotation modes stay the artist's)."""
    bake_parent_inverse(obj)


def _create_from(state: NodeState) -> CreateNode:
    """The create_node that makes ``state`` on the stage (a copy an artist made)."""
    return CreateNode(
        kind=state.kind, name=state.name, uuid=state.uuid, parent=state.parent, parent_bone=state.parent_bone,
        transform=state.transform, mesh=state.mesh, material=state.material, camera=state.camera,
        light=state.light, armature=state.armature,
    )  # fmt: skip
