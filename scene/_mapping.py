"""One table per datablock kind: which message field lives in which Blender property.

The table drives all three uses of the mapping: applying a message's fields, reading them back
for a dump, and the undo step that restores every property a command may touch.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator
from typing import Any

import bpy

from ._objects import rounded_scalar
from ._undo import Undo, guard_props


def _same(value: Any) -> Any:
    return value


@dataclasses.dataclass(frozen=True, slots=True)
class Setting:
    """Message field ``field`` stored in the datablock property ``path`` ("lens", "dof.aperture_fstop")."""

    field: str
    path: str
    to_blender: Callable[[Any], Any] = _same
    from_blender: Callable[[Any], Any] = rounded_scalar


class Mapping:
    """The settings of one datablock kind."""

    def __init__(self, *settings: Setting) -> None:
        self.settings = settings
        self.fields = tuple(s.field for s in settings)

    def apply(self, datablock: bpy.types.ID, params: Any) -> None:
        """Set every field of ``params`` that is not None."""
        for setting in self.settings:
            value = getattr(params, setting.field)
            if value is not None:
                struct, attr = _owner(datablock, setting.path)
                setattr(struct, attr, setting.to_blender(value))

    def read(self, datablock: bpy.types.ID) -> dict[str, Any]:
        """Every field, as the message states it."""
        values = {}
        for setting in self.settings:
            struct, attr = _owner(datablock, setting.path)
            values[setting.field] = setting.from_blender(getattr(struct, attr))
        return values

    def guard(self, undo: Undo, get_datablock: Callable[[], bpy.types.ID], *extra: str) -> None:
        """Restore, on rollback, every property of the table and the ``extra`` paths (those first:
        a light's ``type`` must be back before the properties only its type has)."""
        for prefix, attrs in _grouped((*extra, *(s.path for s in self.settings))):
            guard_props(undo, _struct_getter(get_datablock, prefix), attrs)


def _owner(datablock: Any, path: str) -> tuple[Any, str]:
    """The struct that holds ``path`` and the property's name there."""
    prefix, _, attr = path.rpartition(".")
    return _walk(datablock, prefix), attr


def _walk(datablock: Any, prefix: str) -> Any:
    struct = datablock
    for name in prefix.split(".") if prefix else ():
        struct = getattr(struct, name)
    return struct


def _grouped(paths: tuple[str, ...]) -> Iterator[tuple[str, tuple[str, ...]]]:
    """Paths grouped by the struct that holds them, in first-seen order."""
    groups: dict[str, list[str]] = {}
    for path in paths:
        prefix, _, attr = path.rpartition(".")
        groups.setdefault(prefix, []).append(attr)
    for prefix, attrs in groups.items():
        yield prefix, tuple(attrs)


def _struct_getter(get_datablock: Callable[[], Any], prefix: str) -> Callable[[], Any]:
    return lambda: _walk(get_datablock(), prefix)
