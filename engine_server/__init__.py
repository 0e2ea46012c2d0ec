"""The stage server: one authoritative Blender scene behind ZeroMQ, journaled to disk."""

from scene import AssetStore

from ._journal import Journal, JournalCorrupt, JournalRecord
from ._process import ServerConfig, run_server
from ._server import Endpoints, StageServer
from ._snapshots import SnapshotStore

__all__ = [
    "AssetStore",
    "Endpoints",
    "Journal",
    "JournalCorrupt",
    "JournalRecord",
    "ServerConfig",
    "SnapshotStore",
    "StageServer",
    "run_server",
]
