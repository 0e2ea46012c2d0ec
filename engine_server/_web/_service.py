"""The web stage: a companion of the stage server that streams it to browsers over WebRTC.

It is a client of the stage like any other (commands through the command endpoint, so they are
journaled and broadcast), serves the page and its WebSocket, runs the render worker pool, and
forwards every stage event to every page. See docs/web-stage.md.
"""

from __future__ import annotations

import logging
from typing import Any

import trio
import trio_websocket
import zmq

from protocols import AsyncStageClient, GetSnapshot, open_stage_client, to_json
from renderers import WorkerPool

from ._access import WebAccess
from ._aio_bridge import AsyncioBridge, open_asyncio_bridge
from ._http import WS_PATH, HttpServer
from ._rtc import allow_loopback_candidates
from ._viewer import Viewer

logger = logging.getLogger("stagecraft.web")

CONFIG_VERSION = 1
DEFAULT_WORKERS = 1


class WebStage:
    """The running service: its stage client, asyncio bridge, worker pool and viewers."""

    def __init__(self, client: AsyncStageClient, bridge: AsyncioBridge, pool: WorkerPool) -> None:
        self.client = client
        self.bridge = bridge
        self.pool = pool
        self.viewers: dict[str, Viewer] = {}

    async def on_websocket(self, socket: trio_websocket.WebSocketConnection) -> None:
        viewer = Viewer(self, socket)
        self.viewers[viewer.id] = viewer
        logger.info("viewer %s connected", viewer.id)
        try:
            await viewer.run()
        finally:
            del self.viewers[viewer.id]

    async def welcome(self, viewer_id: str) -> dict[str, Any]:
        """The page's first message: the stage as a snapshot, which the page follows from."""
        snapshot = await self.client.request(GetSnapshot())
        return {
            "type": "welcome",
            "viewer": viewer_id,
            "seq": snapshot.seq,
            "snapshot": to_json(snapshot),
            "cameras": [{"uuid": n.uuid, "name": n.name} for n in snapshot.nodes if n.kind == "camera"],
            "active_camera": snapshot.scene.active_camera,
        }

    async def active_camera(self) -> str | None:
        snapshot = await self.client.request(GetSnapshot())
        return snapshot.scene.active_camera

    async def forward_events(self) -> None:
        async with self.client.events() as events:
            async for event in events:
                command, result = to_json(event.command), to_json(event.result)
                message = {"event": {"seq": event.seq, "command": command, "result": result}}
                for viewer in list(self.viewers.values()):
                    viewer.push("stage", message)

    def status(self) -> dict[str, Any]:
        return {
            "viewers": sorted(self.viewers),
            "views": sorted(self.pool.views),
            "workers": self.pool.status(),
        }


def web_companion(
    port: int = 8080, host: str = "127.0.0.1", workers: int = DEFAULT_WORKERS, origins: tuple[str, ...] = ()
):
    """A ``ServerConfig.companions`` entry serving the web stage on ``host:port`` (0: any port).

    ``origins`` are other page origins allowed to open its WebSocket; beyond loopback the page
    address it reports carries the token every WebSocket must show (see ``_access``).
    """

    async def web(endpoints, *, task_status=trio.TASK_STATUS_IGNORED) -> None:
        allow_loopback_candidates()
        async with open_stage_client(endpoints.commands) as client, open_asyncio_bridge() as bridge:
            pool = WorkerPool(endpoints.commands, workers, zmq.Context.instance())
            stage = WebStage(client, bridge, pool)
            async with trio.open_nursery() as nursery:
                await nursery.start(pool.run)
                listeners = await trio.open_tcp_listeners(port, host=host)
                access = WebAccess.for_listener(host, listeners[0].socket.getsockname()[1], origins)
                http = HttpServer(
                    {
                        "/config.json": lambda host_header: {
                            "ws": f"ws://{host_header}{WS_PATH}",
                            "version": CONFIG_VERSION,
                        },
                        "/status.json": lambda _: stage.status(),
                    },
                    stage.on_websocket,
                    access,
                )
                nursery.start_soon(trio.serve_listeners, http.handle, listeners)
                nursery.start_soon(stage.forward_events)
                logger.info("web stage on %s with %d render worker(s)", access.page_address(), workers)
                task_status.started({"web": access.page_address()})

    return web
