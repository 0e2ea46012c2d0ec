"""The stage server: one authoritative Blender scene behind ZeroMQ, journaled to disk."""

from scene import AssetStore

from ._journal import Journal, JournalCorrupt, JournalRecord, event_from_payload, event_payload
from ._process import ServerConfig, check_listen_host, run_server
from ._server import Endpoints, StageServer
from ._snapshots import SnapshotStore
from ._web import web_companion

__all__ = [
    "AssetStore",
    "Endpoints",
    "Journal",
    "JournalCorrupt",
    "JournalRecord",
    "ServerConfig",
    "SnapshotStore",
    "StageServer",
    "check_listen_host",
    "event_from_payload",
    "event_payload",
    "run_server",
    "web_companion",
]
