"""The Stage: applies typed commands to the bpy scene and dumps it back. Main thread only."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import bpy

from optics import OpticsTable, default_optics
from protocols import (
    AssetRef,
    Batch,
    Command,
    CreateNode,
    DeleteNode,
    EventResult,
    InvalidArgument,
    NodeState,
    Optics,
    OpticsTableReply,
    ProtocolError,
    SceneSettings,
    SetParent,
    TreeNode,
)

from . import _optics, _settings, _state
from ._animation import is_animated, take_animated_values
from ._asset_store import AssetStore
from ._changes import animated_sections
from ._commands import HANDLERS, SECTIONS, Context
from ._convert import convert
from ._ids import Index, node_uuid
from ._objects import Family, Reaper, remove_objects, stage_objects
from ._storable import check_storable
from ._undo import Undo
from ._world import WorldMatrices

_STRUCTURAL = (CreateNode, DeleteNode, SetParent)  # commands that change who is whose child
_Sealed = TypeVar("_Sealed")


def _as_is(command: Command, result: EventResult) -> EventResult:
    return result


class Stage:
    """The one owner of the bpy scene; every method must run on the thread that imported bpy."""

    HANDLES: frozenset[type] = frozenset({*HANDLERS, Batch})  # the commands ``apply`` takes

    def __init__(
        self,
        assets: AssetStore,
        optics: OpticsTable | None = None,
        *,
        isolate_imports: bool = False,
        shares_file: bool = False,
    ) -> None:
        """``isolate_imports``: open asset files in a converter subprocess (the stage server, which
        takes files from anyone); a replica imports blobs the server has already converted safely.

        ``shares_file``: the .blend is an artist's, holding their own objects too (the add-on): a
        reset removes only the stage's objects, and a delete frees its objects at once, leaving no
        hidden orphans in the artist's file.
        """
        self.assets = assets
        self.isolate_imports = isolate_imports
        self.shares_file = shares_file
        self.optics_table = optics or default_optics()
        self._index = Index()
        self._reaper = Reaper()
        self._fetch: Callable[[str], bytes] | None = None  # a replica's: blobs from the stage
        self._family: Family | None = None  # children of every object, kept while no parent changes

    def reset(self) -> None:
        """An empty scene with the stage's render defaults (with ``shares_file``: the artist's
        file without the stage's objects)."""
        self._family = None
        if self.shares_file:
            self.free_deleted()
            remove_objects(stage_objects())
            self._index.rebuild()
            return
        self._reaper.forget()
        bpy.ops.wm.read_factory_settings(use_empty=True)
        _settings.render_defaults()
        self._index.rebuild()

    def apply(self, command: Command, *, check: bool = True) -> tuple[Command, tuple[str, ...]]:
        """Apply one command (or an atomic batch); returns (resolved command, touched UUIDs).

        On error the scene is rolled back to exactly how it was and the ProtocolError raised.
        ``check``: refuse a command whose result would not read back or replay (see
        ``_storable``); replay of the journal skips it, since every record passed it once.
        """
        resolved, touched, _ = self._apply(command, check=check, seal=None)
        return resolved, touched

    def apply_and_report(self, command: Command) -> tuple[Command, tuple[str, ...], EventResult]:
        """``apply``, and the stage's new state for everything the command changed."""
        return self.apply_and_seal(command, _as_is)

    def apply_and_seal(
        self, command: Command, seal: Callable[[Command, EventResult], _Sealed]
    ) -> tuple[Command, tuple[str, ...], _Sealed]:
        """``apply_and_report``, the result made by ``seal`` (from the resolved command and the
        result) into what is published: the encoded event.

        ``seal`` runs before the command commits: if it fails (a value that cannot be sent) the
        command is rolled back. The result it is given has read every changed node back, so the
        check that they read back is not made again.
        """
        resolved, touched, sealed = self._apply(command, check=True, seal=seal)
        return resolved, touched, sealed

    def _apply(
        self, command: Command, *, check: bool, seal: Callable[[Command, EventResult], Any] | None
    ) -> tuple[Command, tuple[str, ...], Any]:
        undo = Undo()
        ctx = Context(
            self._index, self.assets.put_path, self._import_path, undo, self.optics_table, self._reaper
        )
        structural = _is_structural(command)
        if structural:
            self._family = None
        try:
            if isinstance(command, Batch):
                resolved: list[Command] = []
                touched: dict[str, None] = {}
                for i, sub in enumerate(command.commands):
                    try:
                        done, nodes = self._apply_one(ctx, sub)
                    except ProtocolError as exc:  # the failing command's place, in message and field
                        exc.message = f"commands[{i}]: {exc.message}"
                        exc.args = (exc.message,)
                        exc.field = f"commands[{i}].{exc.field}" if exc.field else f"commands[{i}]"
                        raise
                    resolved.append(done)
                    touched.update(dict.fromkeys(nodes))
                applied: tuple[Command, tuple[str, ...]] = Batch(commands=tuple(resolved)), tuple(touched)
            else:
                applied = self._apply_one(ctx, command)
            self._take_animated_values(ctx)
            if check:
                check_storable(*applied, self._index, read_back=seal is None)
            sealed = None
            if seal is not None:
                sealed = seal(applied[0], ctx.changes.result(self._index.get, self._children))
        except BaseException:
            undo.rollback()
            raise
        finally:
            if structural:
                self._family = None
        undo.commit()
        if self.shares_file:
            self.free_deleted()
        return *applied, sealed

    def idle(self) -> bool:
        """Housekeeping for a quiet moment (freeing deleted objects); True while more is left."""
        return self._reaper.reap()

    def free_deleted(self) -> None:
        """Free every deleted object now (an artist's file, which has no quiet moments of ours)."""
        while self._reaper.reap():
            pass

    def object(self, uuid: str) -> bpy.types.Object | None:
        """The Blender object of node ``uuid``, if the stage has it."""
        return self._index.get(uuid)

    def forget(self, uuid: str) -> None:
        """Stop tracking node ``uuid`` (its object is gone: an artist deleted it in their file)."""
        self._index.discard(uuid)
        self._family = None

    def restore_node(self, state: NodeState) -> None:
        """Give node ``state.uuid`` exactly ``state`` (an artist's edit the stage would refuse)."""
        obj = self._index.get(state.uuid)
        if obj is not None:
            _state.restore(self._index, obj, state)

    def reindex(self) -> None:
        """Find the nodes again from the objects' ids (after objects were removed or loaded)."""
        self._index.rebuild()
        self._family = None

    def node_state(self, ref: str) -> NodeState:
        return _state.dump(self._index.resolve(ref))

    def optics(self, ref: str) -> Optics:
        """The live optics readout (depth of field, field of view) of camera ``ref``."""
        return _optics.readout(self._index, ref, self.optics_table)

    def optics_entries(self) -> OpticsTableReply:
        """Every camera body and lens of the stage's optics table."""
        return _optics.table_entries(self.optics_table)

    def tree(self) -> tuple[TreeNode, ...]:
        return tuple(_state.tree_node(o) for o in _state.ordered(self._index.objects()))

    def scene_settings(self) -> SceneSettings:
        return _settings.read_settings()

    def snapshot_nodes(self) -> tuple[NodeState, ...]:
        worlds = WorldMatrices()
        return tuple(_state.dump(o, worlds) for o in _state.ordered(self._index.objects()))

    def rebuild(
        self, settings: SceneSettings, nodes: tuple[NodeState, ...], fetch_asset: Callable[[str], bytes]
    ) -> None:
        """Reset, then recreate the stage from a snapshot; asset blobs it lacks, now and for
        imports it applies later, come from ``fetch_asset``."""
        self.reset()
        _settings.apply_frame_range(
            settings.frame_current, settings.frame_start, settings.frame_end, settings.fps
        )
        self._fetch = fetch_asset
        _state.recreate(self._index, self._import_path, nodes)
        if settings.active_camera is not None:
            camera = self._index.resolve(settings.active_camera, "active_camera")
            _settings.check_camera(camera)
            _settings.set_active_camera(camera)

    def save(self, path: Path) -> None:
        """Write a .blend snapshot atomically (a temporary file, then rename)."""
        path = Path(path)
        tmp = path.with_name(f".{path.stem}.tmp{os.getpid()}.blend")
        bpy.ops.wm.save_as_mainfile(filepath=str(tmp), copy=True, check_existing=False)
        os.replace(tmp, path)

    def load(self, path: Path) -> None:
        """Open a .blend snapshot written by ``save``; UUIDs come back from the objects."""
        self._reaper.forget()
        self._family = None
        bpy.ops.wm.open_mainfile(filepath=str(path), load_ui=False)
        self._index.rebuild()

    def _apply_one(self, ctx: Context, command: Command) -> tuple[Command, tuple[str, ...]]:
        handler = HANDLERS.get(type(command))
        if not isinstance(command, DeleteNode):
            ctx.changed()
        if handler is None:
            raise InvalidArgument(f"{type(command).__name__} is not a stage command", field="type")
        resolved, touched = handler(ctx, command)
        sections = SECTIONS.get(type(command), ())
        if sections:
            for uuid in touched:
                ctx.changes.change(uuid, *sections)
        return resolved, touched

    def _take_animated_values(self, ctx: Context) -> None:
        """Animation wins: every animated node the command touched takes its curves' values.

        Blender applies keyframes at its next evaluation of the scene, whenever that comes (a
        query's, another command's, a render's); the stage applies them before the command
        ends, so that its state never changes between commands and every copy holds the same.
        """
        animated = [
            obj
            for uuid in ctx.changes.changed
            if (obj := self._index.get(uuid)) is not None and is_animated(obj)
        ]
        take_animated_values(animated)
        for obj in animated:
            ctx.changes.change(node_uuid(obj), *animated_sections(obj))

    def _children(self) -> Family:
        """Who is whose child, read once and kept until a command (or a load) changes it."""
        if self._family is None:
            self._family = Family(bpy.data.objects)
        return self._family

    def _import_path(self, ref: AssetRef) -> tuple[Path, str]:
        """The file an import of asset ``ref`` reads, and its format: with ``isolate_imports`` the
        stage's own .blend conversion (made once, in a subprocess), else the blob itself."""
        sha256, fmt = ref.sha256, ref.format
        if sha256 is None or fmt is None:
            raise InvalidArgument("an asset to import needs its sha256 and format", field="asset.sha256")
        if sha256 not in self.assets and self._fetch is not None:
            stored = self.assets.put_bytes(self._fetch(sha256))
            if stored != sha256:
                raise InvalidArgument(f"fetched asset does not hash to {sha256}", field="asset.sha256")
        blob = self.assets.path_of(sha256)
        if not self.isolate_imports:
            return blob, fmt
        converted = self.assets.converted_path(sha256, fmt)
        return convert(blob, fmt, converted, self.assets.roots), "blend"


def _is_structural(command: Command) -> bool:
    if isinstance(command, Batch):
        return any(isinstance(sub, _STRUCTURAL) for sub in command.commands)
    return isinstance(command, _STRUCTURAL)
