"""Who may use the web stage: Host and Origin checks against cross-site pages, a token beyond loopback."""

from __future__ import annotations

import base64
import re
import socket
import urllib.error
import urllib.parse
import urllib.request

import pytest
from harness import StageProcess

from engine_server._web._access import WebAccess


@pytest.fixture(scope="module")
def loopback_stage(tmp_path_factory):
    server = StageProcess(tmp_path_factory.mktemp("web-access"), "--empty", "--web-port", "0").start()
    yield server
    server.stop()


def _ws_url(web: str, query: str = "") -> str:
    parts = urllib.parse.urlsplit(web)
    return f"ws://127.0.0.1:{parts.port}/ws{query}"


def _upgrade_with_reason(url: str, headers: list[tuple[bytes, bytes]]) -> tuple[int, str]:
    """Send a browser's WebSocket handshake; the HTTP status it got (101: accepted) and the body."""
    parts = urllib.parse.urlsplit(url)
    target = parts.path + (f"?{parts.query}" if parts.query else "")
    lines = [
        f"GET {target} HTTP/1.1".encode(),
        f"Host: {parts.netloc}".encode(),
        b"Upgrade: websocket",
        b"Connection: Upgrade",
        b"Sec-WebSocket-Key: " + base64.b64encode(bytes(16)),
        b"Sec-WebSocket-Version: 13",
        *(name + b": " + value for name, value in headers),
    ]
    with socket.create_connection((parts.hostname, parts.port), timeout=10) as conn:
        conn.sendall(b"\r\n".join(lines) + b"\r\n\r\n")
        reply = b""
        while b"\r\n\r\n" not in reply or (not reply.startswith(b"HTTP/1.1 101") and not _complete(reply)):
            chunk = conn.recv(4096)
            if not chunk:
                break
            reply += chunk
    head, _, body = reply.partition(b"\r\n\r\n")
    return int(head.split()[1]), body.decode()


def _complete(reply: bytes) -> bool:
    head, _, body = reply.partition(b"\r\n\r\n")
    found = re.search(rb"(?i)content-length:\s*(\d+)", head)
    return found is not None and len(body) >= int(found.group(1))


def _upgrade(url: str, headers: list[tuple[bytes, bytes]]) -> int:
    return _upgrade_with_reason(url, headers)[0]


def test_a_page_from_another_site_cannot_open_the_stage_socket(loopback_stage):
    web = loopback_stage.web
    port = urllib.parse.urlsplit(web).port
    own = f"http://127.0.0.1:{port}".encode()
    assert _upgrade(_ws_url(web), [(b"Origin", own)]) == 101
    assert _upgrade(_ws_url(web), [(b"Origin", f"http://localhost:{port}".encode())]) == 101
    assert _upgrade(_ws_url(web), [(b"Origin", b"http://evil.example")]) == 403
    assert _upgrade(_ws_url(web), [(b"Origin", f"http://127.0.0.1:{port + 1}".encode())]) == 403
    status, reason = _upgrade_with_reason(_ws_url(web), [(b"Origin", b"http://evil.example")])
    assert status == 403 and "Origin 'http://evil.example' may not use this stage" in reason


def test_a_rebound_domain_gets_no_page(loopback_stage):
    """DNS rebinding: the browser sends the attacker's name as Host; the stage refuses it."""
    request = urllib.request.Request(loopback_stage.web + "config.json", headers={"Host": "evil.example:80"})
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request, timeout=10)
    refused.value.close()
    assert refused.value.code == 403
    with urllib.request.urlopen(loopback_stage.web + "config.json", timeout=10) as reply:
        assert reply.status == 200


def test_beyond_loopback_every_socket_needs_the_printed_token(tmp_path):
    server = StageProcess(
        tmp_path, "--empty", "--host", "0.0.0.0", "--allow-unauthenticated-remote", "--web-port", "0"
    ).start()
    try:
        match = re.fullmatch(r"http://0\.0\.0\.0:(\d+)/\?token=([A-Za-z0-9_-]{32})", server.web)
        assert match, server.web
        port, token = match.groups()
        url = f"ws://127.0.0.1:{port}/ws"
        assert _upgrade(url, []) == 403
        assert _upgrade(url + "?token=" + "x" * 32, []) == 403
        assert _upgrade(url + "?token=" + token, []) == 101
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/config.json", timeout=10) as reply:
            assert token.encode() not in reply.read()  # the page never hands the token out
    finally:
        server.stop()


def test_access_rules():
    loopback = WebAccess.for_listener("127.0.0.1", 8080, ("https://stage.example",))
    assert loopback.token is None and loopback.page_address() == "http://127.0.0.1:8080/"
    assert loopback.refuse_websocket("127.0.0.1:8080", "https://stage.example", "/ws") is None
    assert loopback.refuse_websocket("127.0.0.1:8080", None, "/ws") is None  # not a browser
    assert loopback.refuse_websocket("stage.example", "https://stage.example", "/ws") is None
    assert loopback.refuse_websocket("127.0.0.1:8081", None, "/ws") is not None
    remote = WebAccess.for_listener("10.1.2.3", 8080)
    assert remote.token and remote.page_address() == f"http://10.1.2.3:8080/?token={remote.token}"
    assert remote.refuse_websocket("10.1.2.3:8080", "http://10.1.2.3:8080", "/ws") is not None
    assert (
        remote.refuse_websocket("10.1.2.3:8080", "http://10.1.2.3:8080", f"/ws?token={remote.token}") is None
    )
    assert remote.refuse_websocket("10.1.2.3:8080", "http://evil.example", f"/ws?token={remote.token}")
