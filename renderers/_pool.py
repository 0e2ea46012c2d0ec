"""The render worker pool: spawns ``renderers.worker`` processes, restarts any that die, routes views
(the web stage runs one).

One ROUTER socket (owned by one TrioSocket task) talks to every worker. A render is placed on the
worker with the fewest renders and stays there; when its worker restarts, the new process is sent
its renders again once it says ``worker_ready``, and the stream resumes. Viewers who watch the
same stage camera at the same size and settings share one render; a free viewport is its
viewer's own.
"""

from __future__ import annotations

import collections
import dataclasses
import hashlib
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
    TrioSocket,
    ViewError,
    WorkerReady,
    decode,
    encode,
)

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
class _Render:
    """One view a worker renders, and the viewers watching it (viewer id -> feed, error sink)."""

    spec: RenderView
    worker: str
    viewers: dict[str, tuple[ViewFeed, Callable[[ViewError], None]]]
    last: RenderedFrame | None = None


def render_id(viewer: str, spec: RenderView) -> str:
    """Which render shows ``spec``: shared by every viewer of one stage camera at one setting."""
    if spec.viewport:
        return viewer
    key = f"{spec.camera or ''}|{spec.width}x{spec.height}|{spec.engine}|{spec.samples}|{spec.play}"
    return "shared-" + hashlib.sha1(key.encode()).hexdigest()[:16]


class WorkerPool:
    """``size`` render workers following the stage at ``stage_endpoint``; run with ``nursery.start``."""

    def __init__(self, stage_endpoint: str, size: int, context: zmq.Context) -> None:
        if size < 1:
            raise ValueError("a worker pool needs at least one worker")
        self.stage_endpoint = stage_endpoint
        self.workers = {f"w{i}": _Worker(f"w{i}") for i in range(size)}
        self.views: dict[str, _Render] = {}  # render id -> render
        self._watching: dict[str, str] = {}  # viewer id -> render id
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
        self, viewer: str, spec: RenderView, feed: ViewFeed, on_error: Callable[[ViewError], None]
    ) -> None:
        """Show ``viewer`` the view ``spec`` describes from now on, in ``feed``."""
        wanted = render_id(viewer, spec)
        if self._watching.get(viewer) not in (None, wanted):
            self.drop_view(viewer)
        render = self.views.get(wanted)
        spec = dataclasses.replace(spec, view=wanted)
        if render is None:
            worker = min(self.workers.values(), key=lambda w: (len(w.views), w.name))
            worker.views.add(wanted)
            render = self.views[wanted] = _Render(spec, worker.name, {})
            self._send(worker, spec)
        elif render.spec != spec:  # a viewport that moved
            render.spec = spec
            self._send(self.workers[render.worker], spec)
        elif render.last is not None and viewer not in render.viewers:
            feed.put(render.last)  # joining a shared render: its picture now, not at the next change
        render.viewers[viewer] = (feed, on_error)
        self._watching[viewer] = wanted

    def drop_view(self, viewer: str) -> None:
        """``viewer`` watches nothing any more; a render nobody watches stops."""
        render_key = self._watching.pop(viewer, None)
        render = None if render_key is None else self.views.get(render_key)
        if render_key is None or render is None:
            return
        render.viewers.pop(viewer, None)
        if not render.viewers:
            del self.views[render_key]
            worker = self.workers[render.worker]
            worker.views.discard(render_key)
            self._send(worker, DropView(view=render_key))

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
        assert self._router is not None, "the pool's router is bound before workers start"
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
                render = self.views.get(body.view)
                if render is None or render.worker != name:
                    continue  # a render dropped while its frame was on the way
                if isinstance(body, RenderedFrame):
                    render.last = body
                for feed, on_error in list(render.viewers.values()):
                    if isinstance(body, RenderedFrame):
                        feed.put(body)
                    else:
                        on_error(body)
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
        assert process.stderr is not None  # started with stderr=PIPE
        async for chunk in process.stderr:
            *lines, pending = (pending + chunk).split(b"\n")
            worker.stderr.extend(line.decode(errors="replace") for line in lines)
