"""Who may use the web stage: the Host and Origin a request must carry, and the token beyond loopback.

A page from another site must not drive the stage through a visitor's browser (cross-site
WebSocket), nor read it by pointing its own domain at this address (DNS rebinding). So every
request must name this server in ``Host`` (a loopback name, the listen address, or an allowed
origin's host), and a WebSocket upgrade whose ``Origin`` is not this server's own page, or one of
the ``origins`` given, is refused. Beyond loopback a token is also required: it is made at start,
printed in the page's address (``/?token=…``), and the page hands it to the WebSocket; it is never
served by the page itself.
"""

from __future__ import annotations

import dataclasses
import hmac
import ipaddress
import secrets
import urllib.parse

LOOPBACK_NAMES = ("127.0.0.1", "localhost", "[::1]")


def is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return host == "localhost"


@dataclasses.dataclass(frozen=True, slots=True)
class WebAccess:
    """The checks for one web stage listening on ``host:port``."""

    host: str
    port: int
    origins: frozenset[str] = frozenset()  # extra allowed page origins, e.g. "https://stage.example"
    token: str | None = None  # required of every WebSocket when set (always beyond loopback)

    @classmethod
    def for_listener(cls, host: str, port: int, origins: tuple[str, ...] = ()) -> WebAccess:
        token = None if is_loopback(host) else secrets.token_urlsafe(24)
        return cls(host, port, frozenset(o.rstrip("/") for o in origins), token)

    def page_address(self) -> str:
        """The address to open: it carries the token where one is required."""
        shown = f"[{self.host}]" if ":" in self.host else self.host
        suffix = f"?token={self.token}" if self.token else ""
        return f"http://{shown}:{self.port}/{suffix}"

    def refuse_host(self, host_header: str) -> str | None:
        """Why a request naming ``host_header`` is refused (DNS rebinding), or None."""
        if self.token is not None:
            return None  # beyond loopback the token guards the stage; the host names are not known
        if host_header in self._own_hosts():
            return None
        return f"Host {host_header[:80]!r} is not this stage's address"

    def refuse_websocket(self, host_header: str, origin: str | None, target: str) -> str | None:
        """Why a WebSocket upgrade is refused (wrong Origin, missing token), or None."""
        refused = self.refuse_host(host_header)
        if refused is not None:
            return refused
        if origin is not None and origin.rstrip("/") not in self._own_origins(host_header):
            return f"Origin {origin[:80]!r} may not use this stage (allow it with --web-origin)"
        if self.token is not None:
            query = urllib.parse.parse_qs(urllib.parse.urlsplit(target).query)
            given = query.get("token", [""])[0]
            if not hmac.compare_digest(given.encode(), self.token.encode()):
                return "this stage needs the token from its address (/?token=…)"
        return None

    def _own_hosts(self) -> set[str]:
        names = {*LOOPBACK_NAMES, self.host if ":" not in self.host else f"[{self.host}]"}
        hosts = {f"{name}:{self.port}" for name in names}
        hosts |= {urllib.parse.urlsplit(o).netloc for o in self.origins}
        return hosts

    def _own_origins(self, host_header: str) -> set[str]:
        own = {f"http://{host}" for host in self._own_hosts()} | set(self.origins)
        if self.token is not None:
            own.add(f"http://{host_header}")  # the page as the browser reached it, token-guarded
        return own
