"""One viewer: its WebSocket (signaling), its peer connection, its view and its viewport camera.

Everything a viewer sends is checked here; what is wrong goes back to this viewer only, as an
``error`` on the WebSocket or a failed reply on the ``stage`` channel.
"""

from __future__ import annotations

import itertools
import json
import logging
import math
from typing import Any, Protocol

import trio
import trio_websocket

from protocols import (
    AsyncStageClient,
    Conflict,
    GetNode,
    GetOptics,
    Internal,
    InvalidArgument,
    NotFound,
    ProtocolError,
    RenderView,
    UnknownCommand,
    ViewError,
    to_json,
)
from renderers import ViewFeed, WorkerPool

from . import _viewport
from ._aio_bridge import AsyncioBridge
from ._input import apply_input
from ._page_json import error_json, page_view, parse_json, stage_request
from ._rtc import PeerSession


class ViewerHost(Protocol):
    """What a viewer needs of the web stage that runs it (``WebStage`` is one)."""

    client: AsyncStageClient
    bridge: AsyncioBridge
    pool: WorkerPool

    async def welcome(self, viewer_id: str) -> dict[str, Any]: ...

    async def active_camera(self) -> str | None: ...


logger = logging.getLogger("stagecraft.web")

DEFAULT_VIEW = {"width": 640, "height": 360, "engine": "cycles", "samples": 64, "play": False}
INBOX_SIZE = 256
OUTBOX_SIZE = 256
STATS_EVERY_S = 1.0
_IDS = itertools.count(1)


class Viewer:
    """Runs while its WebSocket is open and its peer connection has not failed."""

    def __init__(self, stage: ViewerHost, socket: trio_websocket.WebSocketConnection) -> None:
        self.id = f"v{next(_IDS)}"
        self.stage = stage
        self.socket = socket
        self.peer: PeerSession | None = None
        self.feed: ViewFeed | None = None
        self.spec: RenderView | None = None
        self.viewport: _viewport.Viewport | None = None
        self._channel_send, self._channel_inbox = trio.open_memory_channel[tuple[str, str]](INBOX_SIZE)
        self._ws_send, self._ws_outbox = trio.open_memory_channel[str](OUTBOX_SIZE)
        self._gone = trio.Event()

    async def run(self) -> None:
        try:
            async with trio.open_nursery() as nursery:
                nursery.start_soon(self._write_ws)
                nursery.start_soon(self._read_ws)
                nursery.start_soon(self._read_channels)
                nursery.start_soon(self._push_stats)
                await self._gone.wait()
                nursery.cancel_scope.cancel()
        finally:
            self.stage.pool.drop_view(self.id)
            if self.peer is not None:
                with trio.CancelScope(shield=True), trio.move_on_after(5):
                    await self.stage.bridge.run(self.peer.close)
            logger.info("viewer %s left", self.id)

    # -- output -----------------------------------------------------------------------------

    def send_ws(self, message: dict[str, Any]) -> None:
        try:
            self._ws_send.send_nowait(json.dumps(message))
        except trio.WouldBlock:
            logger.warning("viewer %s is not reading its WebSocket; dropped a message", self.id)

    def send_error(self, exc: ProtocolError) -> None:
        self.send_ws({"type": "error", **error_json(exc)})

    def push(self, label: str, message: dict[str, Any]) -> None:
        """Send JSON on a data channel (dropped while it is not open)."""
        if self.peer is not None:
            self.stage.bridge.call_soon(self.peer.send, label, json.dumps(message))

    def on_view_error(self, error: ViewError) -> None:
        self.send_ws(
            {"type": "error", "code": error.code.value, "message": error.message, "field": error.field}
        )

    # -- tasks ------------------------------------------------------------------------------

    async def _write_ws(self) -> None:
        async for text in self._ws_outbox:
            await self.socket.send_message(text)

    async def _read_ws(self) -> None:
        try:
            while True:
                message = await self.socket.get_message()
                text = message if isinstance(message, str) else message.decode("utf-8", errors="replace")
                await self._guarded(self._signal, text)
        except trio_websocket.ConnectionClosed:
            self._gone.set()

    async def _read_channels(self) -> None:
        async for label, text in self._channel_inbox:
            if label == "stage":
                await self._stage_message(text)
            else:
                await self._guarded(self._input, text)

    async def _push_stats(self) -> None:
        while True:
            await trio.sleep(STATS_EVERY_S)
            if self.feed is not None:
                self.push("stage", {"stats": self.feed.stats()})

    async def _guarded(self, handler, text: str) -> None:
        """The per-viewer boundary: any error goes back to this viewer, never further."""
        try:
            await handler(text)
        except ProtocolError as exc:
            self.send_error(exc)
        except Exception as exc:
            logger.exception("viewer %s: request failed", self.id)
            self.send_error(Internal(f"the server failed on this request: {type(exc).__name__}: {exc}"))

    # -- signaling --------------------------------------------------------------------------

    async def _signal(self, text: str) -> None:
        message = parse_json(text if isinstance(text, str) else text.decode("utf-8", "replace"), "message")
        kind = message.get("type")
        if kind == "hello":
            self.send_ws(await self.stage.welcome(self.id))
        elif kind == "offer":
            await self._offer(message)
        elif kind == "view":
            fields = page_view({k: v for k, v in message.items() if k != "type"})
            await self._set_view(fields)
        else:
            raise UnknownCommand(f"unknown message type {kind!r}; one of hello, offer, view", field="type")

    async def _offer(self, message: dict[str, Any]) -> None:
        if self.peer is not None:
            raise Conflict("this viewer already streams; open a new WebSocket for another stream")
        sdp = message.get("sdp")
        if not isinstance(sdp, str) or not sdp.strip():
            raise InvalidArgument("offer.sdp must be the page's SDP offer", field="sdp")
        view = message.get("view", {})
        if not isinstance(view, dict):
            raise InvalidArgument("offer.view must be an object", field="view")
        spec = await self._build_spec(page_view(view))
        self.feed = ViewFeed(spec.width, spec.height)
        self.peer = await self.stage.bridge.run(self._open_peer, self.feed)
        try:
            answer = await self.stage.bridge.run(self.peer.answer, sdp)
        except ValueError as exc:  # aiortc: a malformed or unusable offer
            raise InvalidArgument(f"offer.sdp could not be used: {exc}", field="sdp") from None
        self._apply_spec(spec)
        self.send_ws({"type": "answer", "sdp": answer})

    async def _open_peer(self, feed: ViewFeed) -> PeerSession:
        bridge = self.stage.bridge
        return PeerSession(
            feed,
            on_message=lambda label, text: bridge.to_trio(self._deliver, label, text),
            on_closed=lambda: bridge.to_trio(self._gone.set),
        )

    def _deliver(self, label: str, text: str) -> None:
        try:
            self._channel_send.send_nowait((label, text))
        except trio.WouldBlock:
            self.send_error(InvalidArgument(f"too many {label} messages at once; one was dropped"))

    async def _set_view(self, fields: dict[str, Any]) -> None:
        self._apply_spec(await self._build_spec(fields))

    async def _build_spec(self, fields: dict[str, Any]) -> RenderView:
        settings = {
            **self._settings(),
            **{k: v for k, v in fields.items() if k not in ("camera", "viewport")},
        }
        if fields.get("viewport"):
            if "camera" in fields:
                raise InvalidArgument("a view is a stage camera or the viewport, not both", field="camera")
            self.viewport = self.viewport or await self._initial_viewport()
            return self._viewport_spec(settings)
        if "camera" in fields or self.spec is None or not self.spec.viewport:
            camera = fields.get("camera") if "camera" in fields or self.spec is None else self.spec.camera
            return RenderView(view=self.id, camera=camera, **settings)
        return self._viewport_spec(settings)

    def _viewport_spec(self, settings: dict[str, Any]) -> RenderView:
        vp = self.viewport
        assert vp is not None, "a viewport view has its viewport"
        return RenderView(view=self.id, location=vp.location, rotation=vp.rotation, lens=vp.lens, **settings)

    def _apply_spec(self, spec: RenderView) -> None:
        self.spec = spec
        if self.peer is None:
            return  # rendering starts with the offer
        if self.feed is None or self.feed.size != (spec.width, spec.height):
            self.feed = ViewFeed(spec.width, spec.height)
            self.peer.track.feed = self.feed
        self.stage.pool.set_view(self.id, spec, self.feed, self.on_view_error)

    def _settings(self) -> dict[str, Any]:
        """The current view's size, engine, samples and play flag (the defaults before the first view)."""
        if self.spec is None:
            return dict(DEFAULT_VIEW)
        names = ("width", "height", "engine", "samples", "play")
        return {name: getattr(self.spec, name) for name in names}

    async def _initial_viewport(self) -> _viewport.Viewport:
        """Start the viewport where the viewer's current camera is (or a default view)."""
        camera = self.spec.camera if self.spec is not None else None
        camera = camera or await self.stage.active_camera()
        if camera is None:
            return _viewport.Viewport()
        try:
            return await self._camera_viewport(camera)
        except NotFound:
            return _viewport.Viewport()

    async def _camera_viewport(self, camera: str) -> _viewport.Viewport:
        """The viewport seeing what stage camera ``camera`` sees: its pose, and its horizontal angle
        of view (the viewport's 36 mm-wide sensor gets the focal length that matches it)."""
        node = (await self.stage.client.request(GetNode(node=camera))).node
        if node.camera is None:
            raise InvalidArgument(f"{node.name!r} is not a camera", field="to_camera")
        optics = await self.stage.client.request(GetOptics(node=camera))
        lens = min(max(18.0 / math.tan(optics.fov_horizontal / 2), 1.0), 5000.0)
        return _viewport.from_pose(node.transform.location, node.transform.rotation, lens)

    # -- data channels ----------------------------------------------------------------------

    async def _stage_message(self, text: str) -> None:
        request_id = None
        try:
            message = parse_json(text, "stage message")
            request_id = message.get("id")
            if not isinstance(request_id, str | int) or isinstance(request_id, bool):
                raise InvalidArgument("a stage request needs an 'id' (string or integer)", field="id")
            reply = await self.stage.client.request(stage_request(message))
            self.push("stage", {"id": request_id, "ok": True, "result": to_json(reply)})
        except ProtocolError as exc:
            self.push("stage", {"id": request_id, "ok": False, "error": error_json(exc)})
        except Exception as exc:  # the per-viewer boundary
            logger.exception("viewer %s: stage request failed", self.id)
            error = Internal(f"the server failed on this request: {type(exc).__name__}: {exc}")
            self.push("stage", {"id": request_id, "ok": False, "error": error_json(error)})

    async def _input(self, text: str) -> None:
        """Viewport input; besides moves, ``{"to_camera": ref}`` (see as that camera sees) and
        ``{"reset": true}`` (the default view)."""
        message = parse_json(text, "input")
        match message:
            case {"to_camera": str(camera)} if len(message) == 1:
                self.viewport = await self._camera_viewport(camera)
            case {"reset": True} if len(message) == 1:
                self.viewport = _viewport.Viewport()
            case _:
                self.viewport = apply_input(self.viewport or await self._initial_viewport(), message)
        self._apply_spec(self._viewport_spec(self._settings()))
