"""The scene library: the stage's Blender scene model, shared by everything that holds a copy.

Typed commands applied to the bpy scene (one module per datablock kind), dumps of it, stable
node ids, the undo log of a command, the content-addressed asset store, and ``open_replica``
(snapshot -> a local Stage -> follow events). The stage server, render processes, agents, the
add-on, the CLI and the tests all build their copy of the stage from here. Everything here runs
on the one thread that owns bpy; nothing here starts threads, sockets or event loops.
"""

from ._animation import keys_muted
from ._armature import KNOWN_RIGS
from ._asset_store import AssetStore
from ._camera import desqueezed_width, frame_fit
from ._fsync import fsync_directory
from ._ids import UUID_KEY
from ._objects import bake_parent_inverse
from ._optics import distance_along_view, focus_distance, focus_point, picture_lens_mm
from ._replica import Replica, ReplicaGap, SnapshotSource, open_replica
from ._stage import Stage

__all__ = [
    "KNOWN_RIGS",
    "UUID_KEY",
    "AssetStore",
    "Replica",
    "ReplicaGap",
    "SnapshotSource",
    "Stage",
    "bake_parent_inverse",
    "desqueezed_width",
    "distance_along_view",
    "focus_distance",
    "focus_point",
    "frame_fit",
    "fsync_directory",
    "keys_muted",
    "open_replica",
    "picture_lens_mm",
]
