"""The render worker pool: spawns ``renderers.worker`` processes, restarts any that die, routes views.

One ROUTER socket (owned by one TrioSocket task) talks to every worker. A view is placed on the
worker with the fewest views and stays there; when its worker restarts, the new process is sent
its views again once it says ``worker_ready``, and the stream resumes.
"""

from __future__ import annotations

import collections
import dataclasses
import logging
import subprocess
import sys
import time
from collections.abc import Callable

import trio
import zmq

from protocols import (
    DropView,
    Envelope,
    ProtocolError,
    RenderedFrame,
    RenderView,
    ViewError,
    WorkerReady,
    decode,
    encode,
)
from protocols._zmq_trio import TrioSocket

from ._feed import ViewFeed

logger = logging.getLogger("stagecraft.web")

STDERR_LINES = 30
QUICK_DEATH_S = 5.0  # a worker that dies sooner than this waits RESTART_BACKOFF_S before it restarts
RESTART_BACKOFF_S = 1.0


@dataclasses.dataclass(slots=True)
class _Worker:
    name: str
    process: trio.Process | None = None
    ready: bool = False
    restarts: int = 0
    views: set[str] = dataclasses.field(default_factory=set)
    stderr: collections.deque[str] = dataclasses.field(
        default_factory=lambda: collections.deque(maxlen=STDERR_LINES)
    )


@dataclasses.dataclass(slots=True)
class _View:
    spec: RenderView
    feed: ViewFeed
    on_error: Callable[[ViewError], None]
    worker: str


class WorkerPool:
    """``size`` render workers following the stage at ``stage_endpoint``; run with ``nursery.start``."""

    def __init__(self, stage_endpoint: str, size: int, context: zmq.Context) -> None:
        if size < 1:
            raise ValueError("a worker pool needs at least one worker")
        self.stage_endpoint = stage_endpoint
        self.workers = {f"w{i}": _Worker(f"w{i}") for i in range(size)}
        self.views: dict[str, _View] = {}
        self._context = context
        self._router: TrioSocket | None = None
        self.frames_endpoint = ""

    async def run(self, *, task_status=trio.TASK_STATUS_IGNORED) -> None:
        socket = self._context.socket(zmq.ROUTER)
        socket.setsockopt(zmq.LINGER, 0)
        socket.setsockopt(zmq.ROUTER_MANDATORY, 1)  # a view for a worker that is gone: dropped, logged
        socket.setsockopt(zmq.ROUTER_HANDOVER, 1)  # a restarted worker takes over its name
        port = socket.bind_to_random_port("tcp://127.0.0.1")
        self.frames_endpoint = f"tcp://127.0.0.1:{port}"
        self._router = TrioSocket(socket)
        try:
            async with trio.open_nursery() as nursery:
                nursery.start_soon(self._router.run)
                nursery.start_soon(self._receive)
                for worker in self.workers.values():
                    nursery.start_soon(self._supervise, worker)
                task_status.started()
        finally:
            socket.close(linger=0)

    # -- views ------------------------------------------------------------------------------

    def set_view(
        self, view_id: str, spec: RenderView, feed: ViewFeed, on_error: Callable[[ViewError], None]
    ) -> None:
        """Render ``view_id`` as ``spec`` says from now on, into ``feed``."""
        view = self.views.get(view_id)
        if view is None:
            worker = min(self.workers.values(), key=lambda w: (len(w.views), w.name))
            worker.views.add(view_id)
            view = self.views[view_id] = _View(spec, feed, on_error, worker.name)
        view.spec, view.feed = spec, feed
        self._send(self.workers[view.worker], spec)

    def drop_view(self, view_id: str) -> None:
        view = self.views.pop(view_id, None)
        if view is not None:
            worker = self.workers[view.worker]
            worker.views.discard(view_id)
            self._send(worker, DropView(view=view_id))

    def status(self) -> list[dict]:
        return [
            {
                "name": w.name,
                "pid": None if w.process is None else w.process.pid,
                "ready": w.ready,
                "restarts": w.restarts,
                "views": sorted(w.views),
            }
            for w in self.workers.values()
        ]

    def _send(self, worker: _Worker, body) -> None:
        if worker.ready and self._router is not None:
            self._router.send_nowait([worker.name.encode(), *encode(Envelope(body=body))])

    # -- workers ----------------------------------------------------------------------------

    async def _receive(self) -> None:
        async for parts in self._router.inbox:
            name = bytes(parts[0]).decode(errors="replace")
            worker = self.workers.get(name)
            if worker is None:
                logger.warning("frames endpoint: ignored a message from unknown peer %r", name)
                continue
            body = decode(parts[1:]).body
            if isinstance(body, WorkerReady):
                worker.ready = True
                logger.info("render worker %s ready at seq %d", name, body.seq)
                for view_id in sorted(worker.views):
                    self._send(worker, self.views[view_id].spec)
            elif isinstance(body, RenderedFrame | ViewError):
                view = self.views.get(body.view)
                if view is None or view.worker != name:
                    continue  # a view dropped while its frame was on the way
                if isinstance(body, RenderedFrame):
                    view.feed.put(body)
                else:
                    view.on_error(body)
            else:
                raise ProtocolError(f"render worker {name} sent {body.TYPE}, which workers do not send")

    async def _supervise(self, worker: _Worker) -> None:
        """Keep one worker process running; restart it when it dies."""
        while True:
            started = time.monotonic()
            command = [sys.executable, "-m", "renderers.worker", "--name", worker.name]
            command += ["--connect", self.stage_endpoint, "--frames", self.frames_endpoint]
            process = await trio.lowlevel.open_process(
                command, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
            )
            worker.process = process
            try:
                async with trio.open_nursery() as nursery:
                    nursery.start_soon(self._collect_stderr, worker, process)
                    await process.wait()
            finally:
                worker.ready = False
                if process.returncode is None:
                    process.kill()
                    with trio.CancelScope(shield=True):
                        await process.wait()
            worker.restarts += 1
            logger.warning(
                "render worker %s (pid %d) exited with status %s; restarting it. Its last output:\n%s",
                worker.name,
                process.pid,
                process.returncode,
                "\n".join(worker.stderr) or "(none)",
            )
            if time.monotonic() - started < QUICK_DEATH_S:
                await trio.sleep(RESTART_BACKOFF_S)  # not a synchronisation: a crash loop must not spin

    async def _collect_stderr(self, worker: _Worker, process: trio.Process) -> None:
        pending = b""
        async for chunk in process.stderr:
            *lines, pending = (pending + chunk).split(b"\n")
            worker.stderr.extend(line.decode(errors="replace") for line in lines)
