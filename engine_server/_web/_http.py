"""The page's HTTP server (h11 on trio): static files, ``/config.json``, ``/status.json``, and
WebSocket upgrades on ``/ws`` handed to trio-websocket. One request per connection."""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Awaitable, Callable
from pathlib import Path

import h11
import trio
import trio_websocket

from ._access import WebAccess

logger = logging.getLogger("stagecraft.web")

PAGE_ROOT = Path(__file__).resolve().parent.parent / "page"  # the page (HTML / JS / CSS)
WS_PATH = "/ws"
MAX_HEAD_BYTES = 16 << 10
MAX_WS_MESSAGE_BYTES = 1 << 20
CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".mjs": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".json": "application/json",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".ico": "image/x-icon",
}
_FILE_NAME = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9_.-]*")

JsonSource = Callable[[str], dict]  # called with the request's Host header
WebSocketHandler = Callable[[trio_websocket.WebSocketConnection], Awaitable[None]]


class _Replay(trio.abc.Stream):
    """A stream that first gives back bytes already read from it (for the WebSocket handshake)."""

    def __init__(self, stream: trio.SocketStream, head: bytes) -> None:
        self._stream, self._head = stream, head

    async def receive_some(self, max_bytes: int | None = None) -> bytes:
        if self._head:
            head, self._head = self._head, b""
            return head
        return await self._stream.receive_some(max_bytes)

    async def send_all(self, data) -> None:
        await self._stream.send_all(data)

    async def wait_send_all_might_not_block(self) -> None:
        await self._stream.wait_send_all_might_not_block()

    async def aclose(self) -> None:
        await self._stream.aclose()


class HttpServer:
    """Serves the files in ``engine_server/page/`` and the JSON documents in ``documents``."""

    def __init__(
        self, documents: dict[str, JsonSource], on_websocket: WebSocketHandler, access: WebAccess
    ) -> None:
        self.documents = documents
        self.on_websocket = on_websocket
        self.access = access

    async def handle(self, stream: trio.SocketStream) -> None:
        async with stream:
            head = await _read_head(stream)
            if head is None:
                return
            if _is_upgrade(head):
                await self._websocket(_Replay(stream, head), _head_fields(head))
                return
            connection = h11.Connection(h11.SERVER)
            connection.receive_data(head)
            try:
                request = connection.next_event()
            except h11.RemoteProtocolError as exc:
                await _respond(stream, connection, 400, "text/plain", f"bad request: {exc}\n".encode())
                return
            if not isinstance(request, h11.Request):
                return
            refused = self.access.refuse_host(_host(request))
            if refused is not None:
                await _respond(stream, connection, 403, "text/plain", f"{refused}\n".encode())
                return
            status, kind, body = self._route(request, _host(request))
            await _respond(stream, connection, status, kind, body if request.method != b"HEAD" else b"")

    def _route(self, request: h11.Request, host: str) -> tuple[int, str, bytes]:
        if request.method not in (b"GET", b"HEAD"):
            return 405, "text/plain", b"only GET and HEAD\n"
        path = request.target.decode("ascii", "replace").split("?", 1)[0]
        if path in self.documents:
            return 200, CONTENT_TYPES[".json"], json.dumps(self.documents[path](host)).encode()
        name = "index.html" if path == "/" else path.removeprefix("/")
        if path == WS_PATH:
            return 426, "text/plain", b"this path takes WebSocket upgrades only\n"
        if _FILE_NAME.fullmatch(name) and (PAGE_ROOT / name).is_file():
            return (
                200,
                CONTENT_TYPES.get(Path(name).suffix, "application/octet-stream"),
                (PAGE_ROOT / name).read_bytes(),
            )
        return 404, "text/plain", f"no such page: {path}\n".encode()

    async def _websocket(self, stream: _Replay, fields: dict[str, str]) -> None:
        async with trio.open_nursery() as nursery:
            request = await trio_websocket.wrap_server_stream(
                nursery, stream, max_message_size=MAX_WS_MESSAGE_BYTES
            )
            if request.path.split("?", 1)[0] != WS_PATH:
                await request.reject(404, body=b"WebSocket path is /ws\n")
                return
            refused = self.access.refuse_websocket(fields.get("host", ""), fields.get("origin"), request.path)
            if refused is not None:
                logger.warning("web stage refused a WebSocket: %s", refused)
                await request.reject(403, body=f"{refused}\n".encode())
                return
            socket = await request.accept()
            try:
                await self.on_websocket(socket)
            finally:
                with trio.CancelScope(shield=True), trio.move_on_after(2):
                    await socket.aclose()
                nursery.cancel_scope.cancel()


async def _read_head(stream: trio.SocketStream) -> bytes | None:
    head = b""
    while b"\r\n\r\n" not in head:
        if len(head) > MAX_HEAD_BYTES:
            return None
        chunk = await stream.receive_some(4096)
        if not chunk:
            return None
        head += chunk
    return head


def _host(request: h11.Request) -> str:
    for name, value in request.headers:
        if name == b"host":
            return value.decode("ascii", "replace")
    return "127.0.0.1"


def _head_fields(head: bytes) -> dict[str, str]:
    """The request head's header fields by lower-case name (the last of repeated ones)."""
    fields = {}
    for line in head.split(b"\r\n\r\n", 1)[0].split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        fields[name.strip().lower().decode("latin-1")] = value.strip().decode("latin-1")
    return fields


def _is_upgrade(head: bytes) -> bool:
    lines = head.split(b"\r\n\r\n", 1)[0].lower().split(b"\r\n")
    return any(line.startswith(b"upgrade:") and b"websocket" in line for line in lines[1:])


async def _respond(stream, connection: h11.Connection, status: int, kind: str, body: bytes) -> None:
    headers = [
        ("content-type", kind),
        ("content-length", str(len(body))),
        ("cache-control", "no-store"),
        ("connection", "close"),
    ]
    await stream.send_all(connection.send(h11.Response(status_code=status, headers=headers)))
    await stream.send_all(connection.send(h11.Data(data=body)))
    await stream.send_all(connection.send(h11.EndOfMessage()))
