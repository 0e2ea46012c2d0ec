"""The add-on's one sync session, the timer that ticks it and the file-load handler.

Blender calls add-ons through module-level functions, so the session lives here, created by
Connect and dropped by Disconnect / unregister.
"""

from __future__ import annotations

import os
from pathlib import Path

import bpy
from bpy.app.handlers import persistent

from ._sync import StageSync
from ._vendor.protocols import CurveKeys

TICK_CONNECTED_S = 0.02
TICK_IDLE_S = 0.25


class Session:
    """Holds the StageSync of this Blender, if any."""

    def __init__(self) -> None:
        self.sync: StageSync | None = None

    def connect(self, endpoint: str, curve: CurveKeys | None = None, name: str = "") -> StageSync:
        if self.sync is not None:
            self.sync.disconnect()
        self.sync = StageSync(endpoint, _asset_dir(), curve=curve, client_name=name or default_name())
        self.sync.connect()
        return self.sync

    def disconnect(self) -> None:
        if self.sync is not None:
            self.sync.disconnect()


SESSION = Session()


def tick() -> float:
    """Blender's timer: one sync round; returns the seconds until the next."""
    sync = SESSION.sync
    if sync is None or sync.status.state == "disconnected":
        return TICK_IDLE_S
    sync.tick()
    return TICK_CONNECTED_S


@persistent
def on_load_post(*_args) -> None:
    """A file was opened: its stage objects are not ours; rejoin into it."""
    if SESSION.sync is not None and SESSION.sync.status.state != "disconnected":
        SESSION.sync.connect()


def default_name() -> str:
    """An artist who gave no name: their login, as the others will see it."""
    return os.environ.get("USER") or os.environ.get("USERNAME") or "Blender"


def _asset_dir() -> Path:
    """Asset blobs downloaded from the stage, in the extension's user directory."""
    return Path(bpy.utils.extension_path_user(__package__, path="assets", create=True))
