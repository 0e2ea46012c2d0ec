"""An undo log for one stage command (or batch): steps to roll back, clean-ups on commit."""

from __future__ import annotations

from collections.abc import Callable

import bpy


class Undo:
    """Collects how to put the scene back; ``rollback`` runs the steps newest first."""

    def __init__(self) -> None:
        self._undo: list[Callable[[], None]] = []
        self._commit: list[Callable[[], None]] = []

    def on_undo(self, step: Callable[[], None]) -> None:
        self._undo.append(step)

    def on_commit(self, step: Callable[[], None]) -> None:
        self._commit.append(step)

    def rollback(self) -> None:
        steps, self._undo, self._commit = self._undo, [], []
        for step in reversed(steps):
            step()

    def commit(self) -> None:
        steps, self._undo, self._commit = self._commit, [], []
        for step in steps:
            step()


def guard_props(undo: Undo, get_struct: Callable[[], bpy.types.bpy_struct], attrs: tuple[str, ...]) -> None:
    """Restore ``attrs`` (those the struct has now) of ``get_struct()`` on rollback, in order."""
    struct = get_struct()
    saved = [(a, _copy(getattr(struct, a))) for a in attrs if hasattr(struct, a)]

    def restore() -> None:
        for attr, value in saved:
            setattr(get_struct(), attr, value)  # fetched anew: a light's type changes its RNA class

    undo.on_undo(restore)


def guard_material(undo: Undo, obj: bpy.types.Object) -> None:
    """Put back the node's first material slot (its values and which material it is)."""
    mesh = obj.data
    original = mesh.materials[0] if mesh.materials else None
    if original is None:
        slots = len(mesh.materials)

        def drop_new() -> None:
            created = mesh.materials[0] if mesh.materials else None
            while len(mesh.materials) > slots:
                mesh.materials.pop()
            if created is not None and created.users == 0:
                bpy.data.materials.remove(created)

        undo.on_undo(drop_new)
        return
    backup, name = original.copy(), original.name

    def restore() -> None:
        current = mesh.materials[0]
        if current == original:
            mesh.materials[0] = backup
            bpy.data.materials.remove(original)
            backup.name = name
        else:
            mesh.materials[0] = original
            bpy.data.materials.remove(current)
            bpy.data.materials.remove(backup)

    undo.on_undo(restore)
    undo.on_commit(lambda: bpy.data.materials.remove(backup))


def _copy(value):
    if hasattr(value, "copy") and not isinstance(value, bpy.types.ID):
        return value.copy()
    if hasattr(value, "__len__") and not isinstance(value, str):
        return tuple(value)
    return value
