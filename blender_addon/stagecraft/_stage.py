"""The stage inside an artist's file: the server's Stage adapters, minus the file reset.

``Stage.reset`` (used by ``rebuild``) loads factory settings, which would wipe the artist's own
work. Here a reset removes only the objects the stage owns: those tagged with a stage UUID and
the mannequin bodies built for them.
"""

from __future__ import annotations

import bpy

from ._vendor.scene import BODY_KEY, UUID_KEY, Stage, remove_objects


def stage_objects() -> list[bpy.types.Object]:
    """Every object the stage owns in this file."""
    return [o for o in bpy.data.objects if UUID_KEY in o or BODY_KEY in o]


def alive(obj: bpy.types.Object) -> bool:
    """False once Blender has freed the object (the artist deleted it)."""
    try:
        obj.name  # noqa: B018 - reading a freed object's field is the documented test
    except ReferenceError:
        return False
    return True


class AddonStage(Stage):
    """A Stage that shares the file with the artist's own objects."""

    def reset(self) -> None:
        self.free_deleted()
        remove_objects(stage_objects())
        self.reindex()

    def apply(self, command, *, check: bool = True):
        """Apply, then free what a delete removed at once: the artist's file keeps no orphans."""
        result = super().apply(command, check=check)
        self.free_deleted()
        return result
