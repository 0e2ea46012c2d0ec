"""All ZeroMQ <-> trio glue: one trio task owns a socket and does all its I/O.

ZeroMQ's ``FD`` is edge-triggered: it becomes readable when the socket's ``EVENTS`` may have
changed, and only a read of ``EVENTS`` re-arms it. The owner task therefore drains the socket
(sends queued frames, receives what is there) and re-reads ``EVENTS`` before every wait, and it
is the only task that waits on the FD. Other tasks hand it outgoing messages with
``send_nowait``, which wakes it.
"""

from __future__ import annotations

import collections
import logging
from typing import Any

import trio
import zmq

logger = logging.getLogger("stagecraft.zmq")


class TrioSocket:
    """A ZeroMQ socket served by ``run()``; receive from ``inbox``, send with ``send_nowait``."""

    def __init__(self, socket: zmq.Socket, *, inbox_size: int = 1024, drop_when_full: bool = False) -> None:
        """``drop_when_full``: for a ROUTER with ``ROUTER_MANDATORY``, a message to a peer whose
        queue is full (it stopped reading) is dropped with a warning instead of holding up every
        other peer's messages."""
        self.socket = socket
        self.drop_when_full = drop_when_full
        self.dropped = 0
        self._outbox: collections.deque[list[Any]] = collections.deque()
        self._inbox_send, self.inbox = trio.open_memory_channel[list[bytes]](inbox_size)
        self._waiting: trio.CancelScope | None = None

    def send_nowait(self, parts: list[Any]) -> None:
        """Send a multipart message now if the socket takes it, else queue it for the owner.

        A send runs on the trio thread between checkpoints, so it never interleaves with the
        owner's own calls. It may consume the FD's edge, so the owner is woken whenever
        ``EVENTS`` then shows something to receive.
        """
        if not self._outbox:
            self._send(parts)
            if not self._outbox and not self._events() & zmq.POLLIN:
                return
        else:
            self._outbox.append(parts)
        if self._waiting is not None:
            self._waiting.cancel()

    async def run(self) -> None:
        """The owner loop; runs until cancelled. Closes the inbox when it ends."""
        async with self._inbox_send:
            while True:
                await trio.lowlevel.checkpoint()
                self._flush()
                while self._events() & zmq.POLLIN:
                    await self._inbox_send.send(self.socket.recv_multipart(zmq.NOBLOCK))
                    self._flush()
                events = self._events()
                if events & zmq.POLLIN or (self._outbox and events & zmq.POLLOUT):
                    continue
                with trio.CancelScope() as self._waiting:
                    await trio.lowlevel.wait_readable(self.socket.FD)
                self._waiting = None

    def _events(self) -> int:
        return int(self.socket.getsockopt(zmq.EVENTS))

    def _flush(self) -> None:
        while self._outbox:
            if not self._send(self._outbox.popleft()):
                return

    def _send(self, parts: list[Any]) -> bool:
        """Send without blocking; a message the socket cannot take now goes to the outbox front."""
        try:
            self.socket.send_multipart(parts, zmq.NOBLOCK, copy=False)
        except zmq.Again:
            if self.drop_when_full:
                self.dropped += 1
                if self.dropped & (self.dropped - 1) == 0:  # 1st, 2nd, 4th … : a log line, not a flood
                    logger.warning(
                        "dropped a message to a peer that is not reading (%d so far)", self.dropped
                    )
                return True
            self._outbox.appendleft(parts)
            return False
        except zmq.ZMQError as exc:
            if exc.errno != zmq.EHOSTUNREACH:
                raise
            logger.info("dropped a message to a peer that has gone away")
        return True
