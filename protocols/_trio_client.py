"""A trio client for the stage: concurrent requests over one DEALER, events over SUB.

async with open_stage_client("tcp://127.0.0.1:5555") as client:
    applied = await client.request(SetTransform(node="Crate", location=(0, 0, 1)))
    async with client.events() as events:
        async for event in events: ...
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator, Callable
from typing import Any

import trio
import zmq

from ._client import DEFAULT_ENDPOINT, EVENT_TOPIC, CurveKeys, open_subscriber
from ._envelope import Envelope, decode, encode, new_id
from ._errors import ProtocolError, StageTimeout, error_for_code
from ._queries import GetEvents, Hello
from ._replies import Error, Event, ServerInfo
from ._zmq_trio import TrioSocket

logger = logging.getLogger("stagecraft.client")


class AsyncStageClient:
    """Many tasks may ``request`` at once; each waits for its own reply.

    Messages that answer no request (an agent's job offers) go to ``on_message``.
    """

    def __init__(
        self,
        socket: TrioSocket,
        context: zmq.Context,
        session: str,
        nursery: trio.Nursery,
        on_message: Callable[[Envelope], None] | None = None,
        curve: CurveKeys | None = None,
    ) -> None:
        self._socket = socket
        self._context = context
        self.session = session
        self._nursery = nursery
        self._on_message = on_message
        self.curve = curve
        self._waiting: dict[str, trio.MemorySendChannel[Envelope]] = {}

    async def request(self, body: Any, timeout: float = 30.0) -> Any:
        """Send ``body`` and return its reply; an ``error`` reply raises its ProtocolError, no reply
        within ``timeout`` seconds StageTimeout."""
        envelope = Envelope(body=body, session=self.session)
        send, receive = trio.open_memory_channel[Envelope](1)
        self._waiting[envelope.msg_id] = send
        try:
            self._socket.send_nowait(encode(envelope))
            with trio.move_on_after(timeout) as waited:
                reply = await receive.receive()
        finally:
            del self._waiting[envelope.msg_id]
        if waited.cancelled_caught:
            raise StageTimeout(f"no reply to {body.TYPE} within {timeout:g} s")
        if isinstance(reply.body, Error):
            raise error_for_code(reply.body.code, reply.body.message, reply.body.field, reply.body.seq)
        return reply.body

    async def _dispatch(self) -> None:
        async for parts in self._socket.inbox:
            try:
                message = decode(parts)
            except ProtocolError as exc:
                logger.warning("dropped a message from the stage that could not be read: %s", exc)
                continue
            waiter = self._waiting.get(message.parent or "")
            if waiter is not None:
                waiter.send_nowait(message)
            elif self._on_message is not None:
                self._on_message(message)

    @contextlib.asynccontextmanager
    async def events(self, after: int | None = None) -> AsyncIterator[trio.MemoryReceiveChannel[Event]]:
        """Events in sequence order after ``after`` (default: from now); gaps filled from the journal."""
        info: ServerInfo = await self.request(Hello(client="trio"))
        socket = open_subscriber(self._context, info.event_endpoint, EVENT_TOPIC, self.curve)
        subscriber = TrioSocket(socket)
        send, receive = trio.open_memory_channel[Event](1024)
        last = info.seq if after is None else after
        try:
            async with trio.open_nursery() as nursery:
                nursery.start_soon(subscriber.run)
                nursery.start_soon(self._follow, subscriber, send, last)
                yield receive
                nursery.cancel_scope.cancel()
        finally:
            socket.close(linger=0)

    async def _follow(self, subscriber: TrioSocket, send: trio.MemorySendChannel[Event], last: int) -> None:
        async with send:
            async for parts in subscriber.inbox:
                event: Event = decode(parts[1:]).body
                if event.seq <= last:
                    continue
                while event.seq > last + 1:
                    missed = await self.request(
                        GetEvents(after=last, limit=min(10_000, event.seq - last - 1))
                    )
                    if not missed.events:
                        break
                    for old in missed.events:
                        if old.seq < event.seq:
                            await send.send(old)
                            last = old.seq
                await send.send(event)
                last = event.seq


@contextlib.asynccontextmanager
async def open_stage_client(
    endpoint: str = DEFAULT_ENDPOINT,
    *,
    session: str | None = None,
    context: zmq.Context | None = None,
    curve: CurveKeys | None = None,
    on_message: Callable[[Envelope], None] | None = None,
) -> AsyncIterator[AsyncStageClient]:
    """Connect to a stage's command endpoint for the duration of the block."""
    context = context or zmq.Context.instance()
    socket = context.socket(zmq.DEALER)
    socket.setsockopt(zmq.LINGER, 0)
    if curve is not None:
        curve.apply(socket)
    socket.connect(endpoint)
    dealer = TrioSocket(socket)
    try:
        async with trio.open_nursery() as nursery:
            client = AsyncStageClient(dealer, context, session or new_id(), nursery, on_message, curve)
            nursery.start_soon(dealer.run)
            nursery.start_soon(client._dispatch)
            yield client
            nursery.cancel_scope.cancel()
    finally:
        socket.close(linger=0)
