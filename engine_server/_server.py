"""The trio core: the command endpoint (ROUTER), the event endpoint (PUB), group commit.

Request path: the ROUTER task decodes a request, queues it to the bpy thread and takes the
next one without waiting. Outcomes come back in order; the commit task appends their events
to the journal, makes the batch durable with one fdatasync, and only then sends the replies
and publishes the events. Requests that need no bpy (hello, events, assets) are answered here;
side services (the job queue) take their own request types through ``route``.

The fdatasync runs on the trio thread itself: it takes ~0.2 ms here, releases the GIL so the
bpy thread keeps applying, and a hand-off to a worker thread cost more than it saved.
"""

from __future__ import annotations

import dataclasses
import functools
import logging
import math
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

import trio
import zmq

from protocols import (
    MAX_MESSAGE_BYTES,
    PRESENCE_S,
    PROTOCOL_VERSION,
    AssetData,
    AssetStored,
    Compacted,
    Envelope,
    Error,
    ErrorCode,
    Events,
    GetAsset,
    GetEvents,
    Hello,
    Internal,
    Peer,
    ProtocolError,
    PutAsset,
    ServerInfo,
    StagecraftError,
    TrioSocket,
    UnknownCommand,
    decode,
    encode,
    unpack_header,
)
from scene import AssetStore

from ._journal import Journal, event_from_payload, event_payload
from ._service import Outcome, StageService
from ._snapshots import SnapshotStore
from ._stage_thread import StageThread

logger = logging.getLogger("stagecraft.server")

SERVER_VERSION = "0.1.0"
MAX_IN_FLIGHT = 4096
# replies a client may leave unread before the stage drops more (it must not grow without end);
# above MAX_IN_FLIGHT, so a client that pipelines and reads as it goes never reaches it
MAX_UNREAD_REPLIES = 2 * MAX_IN_FLIGHT
EVENT_TOPIC = b"event"
# libzmq drops a peer that sends one frame over its limit, with no reply: frames up to twice the
# message limit still arrive, so a message just over it is answered `too_large` like any other
MAX_FRAME_BYTES = 2 * MAX_MESSAGE_BYTES


@dataclasses.dataclass(frozen=True, slots=True)
class Endpoints:
    """Where the stage listens."""

    commands: str
    events: str
    extra: dict[str, str] = dataclasses.field(default_factory=dict)  # companions' addresses


@dataclasses.dataclass(frozen=True, slots=True)
class Request:
    identity: bytes
    delimiter: bool
    envelope: Envelope


class SideService(Protocol):
    """A service in the server's trio loop that takes some request types (the job queue).

    ``run`` calls ``server.route`` for its types, then ``task_status.started()``.
    """

    async def run(self, server: StageServer, *, task_status: Any) -> None: ...


class StageServer:
    """Serves one stage; the bpy side is reached only through ``stage_thread``."""

    def __init__(
        self,
        *,
        name: str,
        service: StageService,
        stage_thread: StageThread,
        journal: Journal,
        snapshots: SnapshotStore,
        assets: AssetStore,
        context: zmq.Context,
        services: tuple[SideService, ...] = (),
        curve: tuple[bytes, bytes] | None = None,
        history_from: int = 0,
    ) -> None:
        """``history_from``: events up to this seq are not served (protocol-1 records, before
        the snapshot that upgraded them)."""
        self.name = name
        self.history_from = history_from
        self.services = services
        self.curve = curve  # (public, secret): CURVE server keys for both endpoints
        self.service = service
        self.stage_thread = stage_thread
        self.journal = journal
        self.snapshots = snapshots
        self.assets = assets
        self.context = context
        self._in_flight = trio.Semaphore(MAX_IN_FLIGHT)
        self._presence: dict[str, tuple[str, tuple[str, ...], float]] = {}  # session -> name, selection, when
        self._outcomes_send, self._outcomes = trio.open_memory_channel[list[tuple[Request, Any]]](math.inf)
        # the one dispatch table: every request type -> where it is answered
        self._routes: dict[type, Callable[[Request], Awaitable[None]]] = {
            Hello: self._answer_here(self._hello),
            GetEvents: self._answer_here(self._get_events),
            GetAsset: self._answer_here(self._get_asset),
            PutAsset: self._answer_here(self._put_asset),
            **dict.fromkeys(StageService.HANDLES, self._on_stage_thread),
        }

    async def serve(
        self, host: str, command_port: int, event_port: int, *, task_status=trio.TASK_STATUS_IGNORED
    ) -> None:
        router = self.context.socket(zmq.ROUTER)
        publisher = self.context.socket(zmq.PUB)
        try:
            router.setsockopt(zmq.ROUTER_MANDATORY, 1)
            router.setsockopt(zmq.SNDHWM, MAX_UNREAD_REPLIES)
            router.setsockopt(zmq.MAXMSGSIZE, MAX_FRAME_BYTES)
            router.setsockopt(zmq.LINGER, 0)
            publisher.setsockopt(zmq.SNDHWM, 100_000)
            publisher.setsockopt(zmq.LINGER, 0)
            if self.curve is not None:
                for socket in (router, publisher):
                    socket.curve_server = True
                    socket.curve_publickey, socket.curve_secretkey = self.curve
            endpoints = Endpoints(
                commands=_bind(router, host, command_port), events=_bind(publisher, host, event_port)
            )
            self.endpoints = endpoints
            commands = TrioSocket(router, drop_when_full=True)
            self._commands, self._publisher = commands, publisher
            async with trio.open_nursery() as nursery:
                self._nursery = nursery
                for service in self.services:
                    await nursery.start(service.run, self)
                nursery.start_soon(commands.run)
                nursery.start_soon(self._commit_loop, commands, publisher)
                self._token = trio.lowlevel.current_trio_token()
                nursery.start_soon(self._request_loop, commands)
                task_status.started(endpoints)
        finally:
            router.close(linger=0)
            publisher.close(linger=0)

    async def _request_loop(self, commands: TrioSocket) -> None:
        async for parts in commands.inbox:
            identity, delimiter, frames = _split_route(parts)
            try:
                envelope = decode(frames)
            except ProtocolError as exc:
                commands.send_nowait(_route(identity, delimiter, _error_reply(exc, frames)))
                continue
            except Exception as exc:  # a decoder bug: answer `internal`, log it, keep serving
                logger.exception("internal error decoding a request", exc_info=exc)
                internal = Internal(f"the server could not read this message ({type(exc).__name__}: {exc})")
                commands.send_nowait(_route(identity, delimiter, _error_reply(internal, frames)))
                continue
            request = Request(identity, delimiter, envelope)
            route = self._routes.get(type(envelope.body))
            if route is None:
                self.reply_error(
                    request, UnknownCommand(f"{envelope.type!r} is not a request this server takes")
                )
                continue
            await route(request)

    def route(self, types: tuple[type, ...], handler: Callable[[Request], None]) -> None:
        """Hand requests of ``types`` to ``handler`` on the trio thread (a side service's own)."""

        async def on_trio_thread(request: Request) -> None:
            try:
                handler(request)
            except Exception as exc:  # a side service's bug: `internal`, logged; keep serving
                self.reply_error(request, exc)

        for kind in types:
            if kind in self._routes:
                raise ValueError(f"{kind.__name__} requests are routed already")
            self._routes[kind] = on_trio_thread

    async def _on_stage_thread(self, request: Request) -> None:
        """Queue ``request`` to the bpy thread; its outcome comes back to the commit loop, in order."""
        await self._in_flight.acquire()
        self.stage_thread.submit(
            functools.partial(self.service.handle, request.envelope), request, self._deliver, self._token
        )

    def _answer_here(
        self, answer: Callable[[Any, Envelope], Awaitable[Any]]
    ) -> Callable[[Request], Awaitable[None]]:
        """A route for a request that needs no bpy: ``answer`` runs as a task on the trio side."""

        async def route(request: Request) -> None:
            await self._in_flight.acquire()
            self._nursery.start_soon(self._answer, answer, request)

        return route

    async def _answer(self, answer: Callable[[Any, Envelope], Awaitable[Any]], request: Request) -> None:
        try:
            reply = await answer(request.envelope.body, request.envelope)
        except Exception as exc:  # becomes an error reply; the server carries on
            reply = _error_body(exc, request.envelope)
        finally:
            self._in_flight.release()
        self.reply(request, reply)

    def reply(self, request: Request, body: Any) -> None:
        self.send_to(request.identity, request.delimiter, _reply(body, request.envelope))

    def reply_error(self, request: Request, exc: BaseException) -> None:
        self.reply(request, _error_body(exc, request.envelope))

    def send_to(self, identity: bytes, delimiter: bool, frames: list[Any]) -> None:
        """Send a message to one peer of the command endpoint (a reply, or unsolicited)."""
        self._commands.send_nowait(_route(identity, delimiter, frames))

    def publish(self, topic: bytes, frames: list[Any]) -> None:
        """Publish ``[topic, *frames]`` on the event endpoint (called on the trio thread)."""
        self._publisher.send_multipart([topic, *frames], zmq.NOBLOCK, copy=False)

    def _deliver(self, results: list[tuple[Request, Any]]) -> None:
        self._outcomes_send.send_nowait(results)

    async def _commit_loop(self, commands: TrioSocket, publisher: zmq.Socket) -> None:
        while True:
            results = await self._outcomes.receive()
            while True:
                try:
                    results.extend(self._outcomes.receive_nowait())
                except trio.WouldBlock:
                    break
            snapshot_seq = None
            changes = 0
            for _request, outcome in results:
                if isinstance(outcome, Outcome) and outcome.change is not None:
                    self.journal.append(outcome.change.seq, event_payload(outcome.change.event_parts))
                    snapshot_seq = outcome.snapshot_seq or snapshot_seq
                    changes += 1
            if changes:
                self.journal.commit()  # fdatasync releases the GIL: the bpy thread works on
            for request, outcome in results:
                if isinstance(outcome, Outcome):
                    reply = outcome.reply
                    if outcome.change is not None:
                        publisher.send_multipart(
                            [EVENT_TOPIC, *outcome.change.event_parts], zmq.NOBLOCK, copy=False
                        )
                else:
                    reply = _error_body(outcome, request.envelope)
                commands.send_nowait(
                    _route(request.identity, request.delimiter, _reply(reply, request.envelope))
                )
                self._in_flight.release()
            if snapshot_seq is not None:
                await trio.to_thread.run_sync(self._commit_snapshot, snapshot_seq)

    def _commit_snapshot(self, seq: int) -> None:
        """Publish the snapshot written at ``seq``; keep the journal back to the oldest one held."""
        try:
            self.snapshots.commit(seq)
        except (OSError, StagecraftError) as exc:
            logger.error(
                "snapshot at seq %d could not be committed (%s); the journal keeps everything", seq, exc
            )
            return
        self.journal.rotate(self.snapshots.oldest_seq())
        logger.info("snapshot committed at seq %d", seq)

    # -- requests answered on the trio side, off the stage thread -----------------------------

    async def _hello(self, body: Hello, envelope: Envelope) -> ServerInfo:
        now = trio.current_time()
        if envelope.session:
            self._presence[envelope.session] = (body.client, body.selection, now)
        for session, (_, _, seen) in list(self._presence.items()):
            if now - seen > PRESENCE_S:
                del self._presence[session]
        peers = tuple(
            Peer(session=session, client=client, selection=selection, idle_s=round(now - seen, 3))
            for session, (client, selection, seen) in self._presence.items()
            if session != envelope.session
        )
        return ServerInfo(
            protocol_version=PROTOCOL_VERSION,
            server_version=SERVER_VERSION,
            stage=self.name,
            seq=self.journal.last_seq,
            session=envelope.session,
            event_endpoint=self.endpoints.events,
            peers=peers,
        )

    async def _get_events(self, body: GetEvents, envelope: Envelope) -> Events:
        committed = self.journal.last_seq  # read before: commits may land during the read
        oldest = max(self.history_from, self.journal.first_seq() - 1)
        records = await trio.to_thread.run_sync(self.journal.read, body.after, body.limit)
        if body.after < min(oldest, committed) or (records and records[0].seq != body.after + 1):
            oldest = max(oldest, records[0].seq - 1 if records else 0)  # a rotation ran meanwhile
            raise Compacted(
                f"events after seq {body.after} are compacted into a snapshot; the journal holds "
                f"events after seq {oldest}: take a snapshot (get_snapshot) and follow from its seq",
                seq=oldest,
                field="after",
            )
        return Events(
            events=tuple(event_from_payload(r.payload) for r in records), last_seq=self.journal.last_seq
        )

    async def _get_asset(self, body: GetAsset, envelope: Envelope) -> AssetData:
        data = await trio.to_thread.run_sync(self.assets.read, body.sha256)
        return AssetData(sha256=body.sha256, data=data)

    async def _put_asset(self, body: PutAsset, envelope: Envelope) -> AssetStored:
        digest = await trio.to_thread.run_sync(self.assets.put_bytes, body.data)
        return AssetStored(sha256=digest, size=len(body.data))


def _bind(socket: zmq.Socket, host: str, port: int) -> str:
    socket.bind(f"tcp://{host}:{port or '*'}")
    return socket.getsockopt_string(zmq.LAST_ENDPOINT)


def _split_route(parts: list[bytes]) -> tuple[bytes, bool, list[bytes]]:
    """ROUTER frames -> (peer identity, REQ-style delimiter present, message frames)."""
    identity, rest = parts[0], parts[1:]
    if rest and rest[0] == b"":
        return identity, True, rest[1:]
    return identity, False, rest


def _route(identity: bytes, delimiter: bool, frames: list[Any]) -> list[Any]:
    return [identity, b"", *frames] if delimiter else [identity, *frames]


def _reply(body: Any, request: Envelope) -> list[Any]:
    try:
        return encode(Envelope(body=body, session=request.session, parent=request.msg_id))
    except ProtocolError as exc:  # a reply too large to send: the error goes instead
        error = Error(code=exc.code, message=f"the reply cannot be sent: {exc.message}")
        return encode(Envelope(body=error, session=request.session, parent=request.msg_id))


def _error_body(exc: BaseException, request: Envelope) -> Error:
    if isinstance(exc, ProtocolError):
        seq = exc.seq if isinstance(exc, Compacted) else None
        return Error(code=exc.code, message=exc.message, field=exc.field, seq=seq)
    logger.exception("internal error handling %s", request.type, exc_info=exc)
    return Error(
        code=ErrorCode.INTERNAL,
        message=f"internal error while handling {request.type}: {type(exc).__name__}: {exc}",
    )


def _error_reply(exc: ProtocolError, frames: list[bytes]) -> list[Any]:
    """An error reply to a request that could not be decoded (parent id if we can read it)."""
    parent = session = None
    try:
        header = unpack_header(frames[0]) if frames else {}
        parent, session = header.get("id"), header.get("session")
    except ProtocolError:
        pass
    body = Error(code=exc.code, message=exc.message, field=exc.field)
    return encode(Envelope(body=body, session=session if isinstance(session, str) else "", parent=parent))
