"""A blocking Python client for the stage (pyzmq + msgpack only, so Blender can use it).

``StageClient`` sends requests to the command endpoint and returns typed replies, raising the
ProtocolError subclass an ``error`` reply names. ``EventStream`` follows the event endpoint in
sequence order and fills any gap from the journal, so a follower never silently misses a change.
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import zmq

from ._agents import FINAL_STATES, JOB_TOPIC, GetJob, Job, JobEvent
from ._commands import Command
from ._envelope import Envelope, decode, encode, new_id
from ._errors import BadMessage, StagecraftError, StageTimeout, error_for_code
from ._queries import GetAsset, GetEvents, GetNode, GetSnapshot, GetTree, Hello, PutAsset
from ._replies import (
    Applied,
    AssetStored,
    Error,
    Event,
    Events,
    NodeReply,
    ServerInfo,
    Snapshot,
    Tree,
)
from ._scene import NodeState

DEFAULT_ENDPOINT = "tcp://127.0.0.1:5555"
EVENT_TOPIC = b"event"


@dataclasses.dataclass(frozen=True, slots=True)
class CurveKeys:
    """ZeroMQ CURVE keys of a client (Z85 text): the server's public key and our own keypair."""

    server_public: bytes
    public: bytes
    secret: bytes

    @classmethod
    def from_dir(cls, directory: str | Path, name: str = "client") -> CurveKeys:
        """Keys written by ``stagecraft keys generate``: ``server.key`` and ``NAME.key_secret``."""
        import zmq.auth

        directory = Path(directory)
        for path in (directory / "server.key", directory / f"{name}.key_secret"):
            if not path.is_file():
                raise StagecraftError(f"no CURVE key file {path}; make one with `stagecraft keys generate`")
        server_public, _ = zmq.auth.load_certificate(directory / "server.key")
        public, secret = zmq.auth.load_certificate(directory / f"{name}.key_secret")
        if secret is None:
            raise StagecraftError(f"{directory / f'{name}.key_secret'} holds no secret key")
        return cls(server_public=server_public, public=public, secret=secret)

    def apply(self, socket: zmq.Socket) -> None:
        """Make ``socket`` a CURVE client; call before ``connect``."""
        socket.curve_serverkey = self.server_public
        socket.curve_publickey = self.public
        socket.curve_secretkey = self.secret


class StageClient:
    """Request / reply with one stage; not thread-safe (one client per thread)."""

    def __init__(
        self,
        endpoint: str = DEFAULT_ENDPOINT,
        *,
        session: str | None = None,
        timeout: float = 30.0,
        context: zmq.Context | None = None,
        curve: CurveKeys | None = None,
    ) -> None:
        self.endpoint = endpoint
        self.curve = curve
        self.session = session or new_id()
        self.timeout = timeout
        self._context = context or zmq.Context.instance()
        self._socket = self._context.socket(zmq.DEALER)
        self._socket.setsockopt(zmq.LINGER, 0)
        if curve is not None:
            curve.apply(self._socket)
        self._socket.connect(endpoint)
        self._early: dict[str, Envelope] = {}
        self._info: ServerInfo | None = None

    # -- plumbing ---------------------------------------------------------------------------

    def send(self, body: Any) -> str:
        """Send a request without waiting; returns its message id (for pipelining)."""
        envelope = Envelope(body=body, session=self.session)
        self._send_frames(encode(envelope))
        return envelope.msg_id

    def _send_frames(self, frames: list[Any]) -> None:
        # a DEALER with no live peer (a stage that is down, a CURVE handshake it refused) blocks
        # on send: wait at most ``timeout`` for it to take the message
        deadline = time.monotonic() + self.timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not self._socket.poll(remaining * 1000, zmq.POLLOUT):
                raise StageTimeout(
                    f"{self.endpoint} does not take messages (no stage there, or it refused our keys)"
                )
            try:
                self._socket.send_multipart(frames, zmq.NOBLOCK, copy=False)
                return
            except zmq.Again:  # the peer went away between poll and send (a refused handshake)
                time.sleep(min(0.01, max(remaining, 0.0)))  # back off: poll may say writable again at once

    def receive(self, msg_id: str, timeout: float | None = None) -> Any:
        """The reply body to request ``msg_id``; raises its error or StageTimeout."""
        envelope = self._early.pop(msg_id, None)
        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        while envelope is None:
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not self._socket.poll(remaining * 1000, zmq.POLLIN):
                raise StageTimeout(f"no reply from {self.endpoint} within {self.timeout:g} s")
            reply = decode(self._recv())
            if reply.parent == msg_id:
                envelope = reply
            elif reply.parent is not None:
                self._early[reply.parent] = reply
        if isinstance(envelope.body, Error):
            body = envelope.body
            raise error_for_code(body.code, body.message, body.field, body.seq)
        return envelope.body

    def request(self, body: Any, timeout: float | None = None) -> Any:
        """Send ``body`` and wait for its reply."""
        return self.receive(self.send(body), timeout)

    def send_raw(self, frames: list[bytes]) -> None:
        """Send frames as they are (for tests of the server's input checks)."""
        self._send_frames(frames)

    def receive_raw(self, timeout: float | None = None) -> Envelope:
        """The next reply, whatever it answers."""
        if not self._socket.poll((self.timeout if timeout is None else timeout) * 1000, zmq.POLLIN):
            raise StageTimeout(f"no reply from {self.endpoint} within {self.timeout:g} s")
        return decode(self._recv())

    def _recv(self) -> list[bytes]:
        parts = self._socket.recv_multipart()
        # a request whose first frame was empty looks REQ-style to the server: skip the delimiter
        return parts[1:] if len(parts) > 1 and parts[0] == b"" else parts

    # -- the stage --------------------------------------------------------------------------

    def hello(self, client: str = "python") -> ServerInfo:
        self._info = self.request(Hello(client=client))
        return self._info

    def apply(self, command: Command) -> Applied:
        """Apply one command (or a Batch); returns once it is durable."""
        return self.request(command)

    def node(self, ref: str) -> NodeState:
        """Node ``ref``'s state (``request(GetNode(...))`` also says the seq it holds at)."""
        reply: NodeReply = self.request(GetNode(node=ref))
        return reply.node

    def tree(self) -> Tree:
        return self.request(GetTree())

    def snapshot(self) -> Snapshot:
        return self.request(GetSnapshot())

    def events(self, after: int, limit: int = 1000) -> Events:
        return self.request(GetEvents(after=after, limit=limit))

    def put_asset(self, path: str | Path) -> str:
        """Upload a file to the stage's asset store; returns its SHA-256."""
        path = Path(path)
        stored: AssetStored = self.request(PutAsset(filename=path.name, data=path.read_bytes()))
        return stored.sha256

    def get_asset(self, sha256: str) -> bytes:
        return self.request(GetAsset(sha256=sha256)).data

    def subscribe(self) -> EventStream:
        """An event stream, connected before any snapshot you take next."""
        info = self._info or self.hello()
        return EventStream(self, info.event_endpoint)

    def follow_job(self, job_id: str, poll: float = 1.0) -> Iterator[Job | JobEvent]:
        """Yield a job's states (``Job`` first, then ``JobEvent``s) until it is final.

        Subscribes before it reads the job, so no change is missed; if no event comes for
        ``poll`` seconds it reads the job again (job events are not journaled).
        """
        info = self._info or self.hello()
        sub = open_subscriber(self._context, info.event_endpoint, JOB_TOPIC, self.curve)
        try:
            job: Job = self.request(GetJob(job_id=job_id))
            yield job
            state = job.state
            while state not in FINAL_STATES:
                if not sub.poll(math.ceil(poll * 1000), zmq.POLLIN):
                    job = self.request(GetJob(job_id=job_id))
                    if job.state != state or job.state in FINAL_STATES:
                        state = job.state
                        yield job
                    continue
                event = decode(sub.recv_multipart()[1:]).body
                if isinstance(event, JobEvent) and event.job_id == job_id:
                    state = event.state
                    yield event
        finally:
            sub.close(linger=0)

    def close(self) -> None:
        self._socket.close(linger=0)

    def __enter__(self) -> StageClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def open_subscriber(
    context: zmq.Context, endpoint: str, topic: bytes, curve: CurveKeys | None, *, unbounded: bool = False
) -> zmq.Socket:
    """A SUB socket on the stage's event endpoint for ``topic`` (``unbounded``: no receive limit)."""
    socket = context.socket(zmq.SUB)
    socket.setsockopt(zmq.LINGER, 0)
    if unbounded:
        socket.setsockopt(zmq.RCVHWM, 0)
    socket.setsockopt(zmq.SUBSCRIBE, topic)
    if curve is not None:
        curve.apply(socket)
    socket.connect(endpoint)
    return socket


class EventStream:
    """Events in sequence order from ``after`` on; gaps are filled from the journal."""

    def __init__(self, client: StageClient, endpoint: str) -> None:
        self.client = client
        self._socket = open_subscriber(client._context, endpoint, EVENT_TOPIC, client.curve, unbounded=True)
        self.last_seq: int | None = None
        self._pending: list[Event] = []

    def start_after(self, seq: int) -> None:
        """Deliver every event with seq > ``seq`` (a snapshot's), journaled ones first."""
        self.last_seq = seq
        self._pending.clear()
        after = seq
        while True:
            caught_up = self.client.events(after=after, limit=10_000)
            self._pending.extend(caught_up.events)
            if not caught_up.events or caught_up.events[-1].seq >= caught_up.last_seq:
                return
            after = caught_up.events[-1].seq

    def next(self, timeout: float | None = None) -> Event | None:
        """The next event in order, or None if none arrives within ``timeout`` seconds."""
        while self._pending:
            event = self._pending.pop(0)
            if self.last_seq is None or event.seq > self.last_seq:
                return self._take(event)
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            remaining = None if deadline is None else math.ceil(max(0.0, deadline - time.monotonic()) * 1000)
            if not self._socket.poll(remaining, zmq.POLLIN):
                return None
            parts = self._socket.recv_multipart()
            if parts[0] != EVENT_TOPIC:
                continue  # another topic on the same socket (a subscriber's wider subscription)
            event = decode(parts[1:]).body
            if not isinstance(event, Event):
                raise BadMessage(f"the event endpoint sent a {type(event).__name__}, not an event")
            if self.last_seq is None:
                self.last_seq = event.seq - 1
            if event.seq <= self.last_seq:
                continue
            if event.seq > self.last_seq + 1:
                self._fill_gap(event.seq)
                self._pending.append(event)
                return self._take(self._pending.pop(0))
            return self._take(event)

    def __iter__(self) -> Iterator[Event]:
        while True:
            event = self.next()
            if event is not None:
                yield event

    def _fill_gap(self, upto: int) -> None:
        """Fetch the events the subscription missed; NotFound if they are compacted away."""
        after = self.last_seq
        while after is not None and after + 1 < upto:
            missed = self.client.events(after=after, limit=min(10_000, upto - after - 1))
            if not missed.events:
                break
            self._pending.extend(e for e in missed.events if e.seq < upto)
            after = missed.events[-1].seq

    def _take(self, event: Event) -> Event:
        self.last_seq = event.seq
        return event

    def close(self) -> None:
        self._socket.close(linger=0)
