"""Public faces: every public name exported once, no package reaching into another's private modules."""

from __future__ import annotations

import ast
from pathlib import Path

import scene

ROOT = Path(__file__).resolve().parent.parent
SOURCE_PACKAGES = ("protocols", "optics", "scene", "engine_server", "renderers", "agents", "stage_scenes")
SOURCE_PACKAGES += ("stagecraft_cli", "blender_addon")
PACKAGES = SOURCE_PACKAGES


def test_scene_exports_each_public_name_once_and_only_public_names():
    assert len(scene.__all__) == len(set(scene.__all__))
    assert sorted(scene.__all__) == sorted(name for name in scene.__all__ if not name.startswith("_"))
    for name in scene.__all__:
        value = getattr(scene, name)
        if callable(value):  # classes and functions come from the library's own modules
            assert value.__module__.startswith("scene."), name
    public = {name for name in vars(scene) if not name.startswith("_")}
    assert public - set(scene.__all__) == set(), "a public name that is not in __all__"


def test_no_package_imports_another_packages_private_modules():
    """Each top-level package is used through its facade (``scene.Stage``, not ``scene._stage``)."""
    offenders = []
    for package in SOURCE_PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            if "node_modules" in path.parts or "_vendor" in path.parts:
                continue
            for node in ast.walk(ast.parse(path.read_text(), str(path))):
                names = []
                if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                    names = [node.module, *(f"{node.module}.{a.name}" for a in node.names)]
                elif isinstance(node, ast.Import):
                    names = [a.name for a in node.names]
                for name in names:
                    top, _, rest = name.partition(".")
                    if top in PACKAGES and top != package and rest.startswith("_"):
                        offenders.append(f"{path.relative_to(ROOT)}:{node.lineno} imports {name}")
    assert offenders == []


def test_every_command_is_registered_handled_documented_and_exemplified():
    """One list of commands (protocols.Command): the codec, the scene library, the doc and the tests agree."""
    import protocols
    from protocols._codec import _is_tagged  # the codec's own marker of a command

    tagged = {cls for cls in protocols.registered_types().values() if _is_tagged(cls)}
    assert tagged == set(protocols.COMMAND_TYPES)
    assert set(protocols.COMMAND_TYPES) == scene.Stage.HANDLES
    doc = (ROOT / "docs" / "protocol.md").read_text()
    for cls in protocols.COMMAND_TYPES:
        assert f"### `{cls.TYPE}`" in doc, cls.TYPE
