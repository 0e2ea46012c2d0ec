"""Objects of the artist's file that the add-on's stage may hold a reference to."""

from __future__ import annotations

import bpy


def alive(obj: bpy.types.Object) -> bool:
    """False once Blender has freed the object (the artist deleted it)."""
    try:
        obj.name  # noqa: B018 - reading a freed object's field is the documented test
    except ReferenceError:
        return False
    return True
