"""Requests that read the stage or move asset bytes; they change no scene state."""

from __future__ import annotations

from ._checks import check_name, check_ref, check_sha256, check_uuid
from ._codec import Message, wire
from ._errors import InvalidArgument

MAX_SELECTION = 1000
MAX_CLIENT_BYTES = 256


@wire("hello")
class Hello(Message):
    """Introduce a client; the reply is ``server_info``.

    ``client`` names it for the others (an artist's name); ``selection`` is what it has selected
    now (node UUIDs), for presence. A client that says hello again keeps them current.
    """

    client: str = ""
    selection: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if len(self.client.encode()) > MAX_CLIENT_BYTES:
            raise InvalidArgument(f"hello client is longer than {MAX_CLIENT_BYTES} bytes", field="client")
        if len(self.selection) > MAX_SELECTION:
            raise InvalidArgument(f"hello selection holds more than {MAX_SELECTION} nodes", field="selection")
        for uuid in self.selection:
            check_uuid("selection", uuid)


@wire("get_node")
class GetNode(Message):
    """One node's full state; the reply is ``node``."""

    node: str

    def __post_init__(self) -> None:
        check_ref("node", self.node)


@wire("get_tree")
class GetTree(Message):
    """Every node's identity and place in the hierarchy; the reply is ``tree``."""


@wire("get_snapshot")
class GetSnapshot(Message):
    """The whole stage at a sequence number; the reply is ``snapshot``."""


@wire("get_events")
class GetEvents(Message):
    """Journaled events with ``seq > after`` (at most ``limit``); the reply is ``events``."""

    after: int
    limit: int = 1000

    def __post_init__(self) -> None:
        from ._checks import check_range

        check_range("after", self.after, 0)
        check_range("limit", self.limit, 1, 10_000)


@wire("get_asset")
class GetAsset(Message):
    """An asset file's bytes from the store; the reply is ``asset_data``."""

    sha256: str

    def __post_init__(self) -> None:
        check_sha256("sha256", self.sha256)


@wire("put_asset")
class PutAsset(Message):
    """Upload a file into the content-addressed store; the reply is ``asset_stored``."""

    filename: str
    data: bytes

    def __post_init__(self) -> None:
        check_name("filename", self.filename)
