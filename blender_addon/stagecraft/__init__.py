"""Stagecraft for Blender: this Blender and a Stagecraft stage, one live scene.

``register`` adds the sidebar panel, operators and preferences, the sync timer, the
file-load handler and the viewport overlay of the other artists' selections; ``unregister``
disconnects and removes all of them.
"""

from __future__ import annotations

import bpy

from . import _operators, _overlay, _panel, _session

CLASSES = (
    _panel.StagecraftPreferences,
    *_operators.OPERATORS,
    _panel.VIEW3D_PT_stagecraft,
)


def register() -> None:
    for cls in CLASSES:
        bpy.utils.register_class(cls)
    bpy.app.timers.register(_session.tick, first_interval=_session.TICK_IDLE_S, persistent=True)
    bpy.app.handlers.load_post.append(_session.on_load_post)
    _overlay.register()


def unregister() -> None:
    _overlay.unregister()
    _session.SESSION.disconnect()
    _session.SESSION.sync = None
    if _session.on_load_post in bpy.app.handlers.load_post:
        bpy.app.handlers.load_post.remove(_session.on_load_post)
    if bpy.app.timers.is_registered(_session.tick):
        bpy.app.timers.unregister(_session.tick)
    for cls in reversed(CLASSES):
        bpy.utils.unregister_class(cls)
