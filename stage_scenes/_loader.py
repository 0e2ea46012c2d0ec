"""A stage file → the protocol commands a script would send to build the same stage."""

from __future__ import annotations

import dataclasses
import heapq
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from protocols import (
    Command,
    Frames,
    InvalidArgument,
    ProtocolError,
    SetActiveCamera,
    SetFrameRange,
    from_wire,
)

from ._errors import StageFileError
from ._format import SECTION_KEYS, NodeEntry, parse_node

_STAGE_KEYS = frozenset({"name", "asset_roots"})
# [scene] key -> SetFrameRange field
_FRAME_KEYS = {"frame_current": "current", "frame_start": "start", "frame_end": "end", "fps": "fps"}
_SCENE_KEYS = frozenset({"active_camera", *_FRAME_KEYS})


@dataclasses.dataclass(frozen=True)
class StageFile:
    """A loaded stage: ``commands`` build it on an empty stage, in order.

    The order is: every node's ``create_node`` (parents and focus targets before the nodes that
    need them), then character poses, then ``set_active_camera``, then ``set_frame_range``.
    """

    name: str
    asset_roots: tuple[Path, ...]
    commands: tuple[Command, ...]
    optics: Mapping[str, Any] = dataclasses.field(default_factory=dict)


def default_stage_path() -> Path:
    """The bundled default stage: a small bar set with a rigged Hero, two cameras, three lights."""
    return Path(__file__).with_name("default.toml")


def load_stage(path: str | Path) -> StageFile:
    """Read and check the stage file at ``path``; raises StageFileError naming the problem."""
    path = Path(path)
    try:
        with path.open("rb") as file:
            data = tomllib.load(file)
    except OSError as exc:
        raise StageFileError(path, f"cannot read the stage file: {exc.strerror}") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise StageFileError(path, f"not valid TOML: {exc}") from None
    unknown = sorted(set(data) - {"stage", "scene", "optics", *SECTION_KEYS})
    if unknown:
        raise StageFileError(
            path,
            f"unknown table(s) {', '.join(unknown)}; a stage file has [stage], [scene], [optics] and "
            f"[[{']], [['.join(SECTION_KEYS)}]]",
            key=unknown[0],
        )
    optics = _optics(path, data.get("optics", {}))
    stage = _table(path, data, "stage", _STAGE_KEYS)
    name = stage.get("name")
    if not isinstance(name, str) or not name.strip():
        raise StageFileError(path, "[stage] needs a name (a non-empty string)", key="stage.name")
    roots = _asset_roots(path, stage.get("asset_roots", []))
    nodes = _nodes(path, data)
    _check_references(path, nodes, roots)
    ordered = _in_dependency_order(path, nodes)
    commands: list[Command] = [entry.create for entry in ordered]
    commands += [entry.pose for entry in ordered if entry.pose is not None]
    commands += _scene_commands(path, _table(path, data, "scene", _SCENE_KEYS), nodes)
    return StageFile(name=name, asset_roots=roots, commands=tuple(commands), optics=optics)


def _optics(path: Path, table: Any) -> Mapping[str, Any]:
    """The stage's ``[optics]`` additions to the camera body / lens table, checked against it."""
    if not table:
        return {}
    if not isinstance(table, dict):
        raise StageFileError(path, "optics must be a table, written [optics]", key="optics")
    from optics import default_optics

    try:
        default_optics().with_overrides(table)
    except InvalidArgument as exc:
        raise StageFileError(path, exc.message, key=exc.field or "optics") from None
    return table


def _table(path: Path, data: dict[str, Any], name: str, keys: frozenset[str]) -> dict[str, Any]:
    table = data.get(name, {})
    if not isinstance(table, dict):
        raise StageFileError(path, f"{name} must be a table, written [{name}]", key=name)
    unknown = sorted(set(table) - keys)
    if unknown:
        raise StageFileError(
            path,
            f"unknown key(s) {', '.join(unknown)} in [{name}]; it takes {', '.join(sorted(keys))}",
            key=f"{name}.{unknown[0]}",
        )
    return table


def _asset_roots(path: Path, roots: Any) -> tuple[Path, ...]:
    """Asset roots as absolute directories, relative ones taken from the stage file's folder."""
    if not isinstance(roots, list) or not all(isinstance(r, str) for r in roots):
        raise StageFileError(path, "asset_roots must be a list of folder paths", key="stage.asset_roots")
    resolved = tuple((path.parent / root).resolve() for root in roots)
    for root, written in zip(resolved, roots, strict=True):
        if not root.is_dir():
            raise StageFileError(
                path, f"asset root {written!r} is not a folder ({root})", key="stage.asset_roots"
            )
    return resolved


def _nodes(path: Path, data: dict[str, Any]) -> dict[str, NodeEntry]:
    nodes: dict[str, NodeEntry] = {}
    for section in SECTION_KEYS:
        tables = data.get(section, [])
        if not isinstance(tables, list):
            raise StageFileError(path, f"{section} must be written as [[{section}]] tables", key=section)
        for number, table in enumerate(tables, start=1):
            entry = parse_node(path, section, number, table)
            if entry.name in nodes:
                raise StageFileError(
                    path,
                    f"duplicate name; a {nodes[entry.name].section} is already called {entry.name!r}",
                    node=entry.name,
                    key="name",
                )
            nodes[entry.name] = entry
    return nodes


def _check_references(path: Path, nodes: dict[str, NodeEntry], roots: tuple[Path, ...]) -> None:
    """Parents, parent bones and focus targets exist; imported files lie in the asset roots."""
    for entry in nodes.values():
        create = entry.create
        if create.parent is not None and create.parent not in nodes:
            raise StageFileError(path, f"unknown parent {create.parent!r}", node=entry.name, key="parent")
        if (
            create.parent is not None
            and create.parent_bone is not None
            and create.parent_bone not in nodes[create.parent].bones
        ):
            raise StageFileError(
                path,
                f"parent {create.parent!r} has no bone {create.parent_bone!r}",
                node=entry.name,
                key="parent_bone",
            )
        target = create.camera.focus_target if create.camera else None
        if target and target not in nodes:
            raise StageFileError(
                path, f"unknown focus target {target!r}", node=entry.name, key="focus_target"
            )
        if create.asset is not None and create.asset.path is not None:
            _check_asset(path, entry.name, create.asset.path, roots)


def _check_asset(path: Path, node: str, asset: str, roots: tuple[Path, ...]) -> None:
    if not roots:
        raise StageFileError(path, "an imported asset needs [stage] asset_roots", node=node, key="asset")
    for root in roots:
        real = (root / asset).resolve()
        if real.is_relative_to(root) and real.is_file():
            return
    raise StageFileError(
        path,
        f"no file {asset!r} inside the asset roots ({', '.join(map(str, roots))})",
        node=node,
        key="asset",
    )


def _in_dependency_order(path: Path, nodes: dict[str, NodeEntry]) -> list[NodeEntry]:
    """File order, except that a node's parent and focus target come before it."""
    names = list(nodes)
    position = {name: i for i, name in enumerate(names)}
    needs = {name: _dependencies(entry) for name, entry in nodes.items()}
    waiting = {name: len(deps) for name, deps in needs.items()}
    dependants: dict[str, list[str]] = {name: [] for name in names}
    for name, deps in needs.items():
        for dep in deps:
            dependants[dep].append(name)
    ready = [i for i, name in enumerate(names) if not waiting[name]]
    heapq.heapify(ready)
    ordered: list[NodeEntry] = []
    while ready:
        name = names[heapq.heappop(ready)]
        ordered.append(nodes[name])
        for dependant in dependants[name]:
            waiting[dependant] -= 1
            if not waiting[dependant]:
                heapq.heappush(ready, position[dependant])
    if len(ordered) < len(names):
        stuck = [name for name in names if waiting[name]]
        raise StageFileError(
            path,
            f"parent / focus target cycle among {', '.join(map(repr, stuck))}",
            node=stuck[0],
            key="parent",
        )
    return ordered


def _dependencies(entry: NodeEntry) -> set[str]:
    target = entry.create.camera.focus_target if entry.create.camera else None
    return {dep for dep in (entry.create.parent, target) if dep}


def _scene_commands(path: Path, scene: dict[str, Any], nodes: dict[str, NodeEntry]) -> list[Command]:
    commands: list[Command] = []
    camera = scene.get("active_camera")
    if camera is not None:
        if not isinstance(camera, str) or camera not in nodes or nodes[camera].section != "camera":
            raise StageFileError(
                path, f"active_camera {camera!r} is not a camera of this stage", key="scene.active_camera"
            )
        commands.append(SetActiveCamera(node=camera))
    frames = {field: scene[key] for key, field in _FRAME_KEYS.items() if key in scene}
    if frames:
        try:
            commands.append(from_wire(SetFrameRange, frames, Frames()))
        except ProtocolError as exc:
            key = next((k for k, f in _FRAME_KEYS.items() if f == exc.field), None)
            raise StageFileError(path, exc.message, key=key and f"scene.{key}") from None
    return commands
