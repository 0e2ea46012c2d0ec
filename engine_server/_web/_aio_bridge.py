"""All trio <-> asyncio glue (aiortc is asyncio): an asyncio loop on its own thread.

Trio awaits asyncio coroutines with ``await bridge.run(fn, *args)`` (cancelling the trio side
cancels the asyncio task); asyncio code hands work back with ``bridge.to_trio(fn, *args)``,
which runs a plain function soon on the trio thread. Nothing else crosses the two loops.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import AsyncIterator, Callable, Coroutine
from typing import Any, TypeVar

import trio

T = TypeVar("T")


class AsyncioBridge:
    """An asyncio loop running on a daemon thread, reachable from one trio run."""

    def __init__(self, token: trio.lowlevel.TrioToken) -> None:
        self._token = token
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._serve, name="stagecraft-asyncio", daemon=True)

    def _serve(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.loop.run_forever()

    async def run(self, fn: Callable[..., Coroutine[Any, Any, T]], *args: Any) -> T:
        """Run ``fn(*args)`` as a task on the asyncio loop and return (or raise) its result."""
        future = asyncio.run_coroutine_threadsafe(fn(*args), self.loop)
        done = trio.Event()
        future.add_done_callback(lambda _: self._call_trio(done.set))
        try:
            await done.wait()
        except trio.Cancelled:
            future.cancel()
            raise
        return future.result()

    def call_soon(self, fn: Callable[..., object], *args: Any) -> None:
        """Run the plain function ``fn(*args)`` soon on the asyncio thread (from the trio thread)."""
        self.loop.call_soon_threadsafe(fn, *args)

    def to_trio(self, fn: Callable[..., object], *args: Any) -> None:
        """Run the plain function ``fn(*args)`` soon on the trio thread (from the asyncio thread).

        ``fn`` must not raise: an exception there would end the trio run.
        """
        self._call_trio(fn, *args)

    def _call_trio(self, fn: Callable[..., object], *args: Any) -> None:
        try:
            self._token.run_sync_soon(fn, *args)
        except trio.RunFinishedError:
            pass  # trio has stopped; nobody is waiting any more

    def _stop(self) -> None:
        async def cancel_all() -> None:
            tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

        if self._thread.is_alive():
            asyncio.run_coroutine_threadsafe(cancel_all(), self.loop).result(timeout=5)
            self.loop.call_soon_threadsafe(self.loop.stop)
            self._thread.join(timeout=5)
        self.loop.close()


@contextlib.asynccontextmanager
async def open_asyncio_bridge() -> AsyncIterator[AsyncioBridge]:
    """An asyncio loop thread for the duration of the block; its leftover tasks are cancelled after."""
    bridge = AsyncioBridge(trio.lowlevel.current_trio_token())
    bridge._thread.start()
    try:
        yield bridge
    finally:
        bridge._stop()
