"""The viewport overlay: each other artist's name beside the objects they have selected."""

from __future__ import annotations

import bpy

from ._session import SESSION
from ._vendor.scene import UUID_KEY

_handle = None
TEXT_SIZE = 13
COLOURS = ((1.0, 0.55, 0.2, 1.0), (0.35, 0.8, 1.0, 1.0), (0.6, 1.0, 0.4, 1.0), (1.0, 0.45, 0.8, 1.0))


def labels() -> list[tuple[bpy.types.Object, str, int]]:
    """(object, artist name, colour index) for every stage object another artist has selected."""
    sync = SESSION.sync
    if sync is None:
        return []
    by_uuid = {obj.get(UUID_KEY): obj for obj in bpy.data.objects if UUID_KEY in obj}
    found = []
    for index, peer in enumerate(sync.status.peers):
        for uuid in peer.nodes:
            if uuid in by_uuid:
                found.append((by_uuid[uuid], peer.name, index % len(COLOURS)))
    return found


def _draw() -> None:
    import blf
    from bpy_extras.view3d_utils import location_3d_to_region_2d

    region, view = bpy.context.region, bpy.context.region_data
    if region is None or view is None:
        return
    stacked: dict[str, int] = {}
    for obj, name, colour in labels():
        where = location_3d_to_region_2d(region, view, obj.matrix_world.translation)
        if where is None:  # behind the view
            continue
        line = stacked.get(obj.name, 0)
        stacked[obj.name] = line + 1
        blf.size(0, TEXT_SIZE)
        blf.color(0, *COLOURS[colour])
        blf.position(0, where.x + 8, where.y + 8 + line * (TEXT_SIZE + 3), 0)
        blf.draw(0, f"● {name}")


def register() -> None:
    global _handle
    _handle = bpy.types.SpaceView3D.draw_handler_add(_draw, (), "WINDOW", "POST_PIXEL")


def unregister() -> None:
    global _handle
    if _handle is not None:
        bpy.types.SpaceView3D.draw_handler_remove(_handle, "WINDOW")
        _handle = None
