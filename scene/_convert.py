"""Untrusted asset files are opened in a short-lived subprocess and converted to a clean .blend.

A damaged or hostile file can crash Blender's importers (a .blend with one flipped bit
segfaults ``open``); run in the stage process that would take the stage down. So the stage
never parses an asset itself: ``convert`` runs ``python -m scene._convert``,
which imports the file into an empty scene, refuses external references it may not follow,
and saves the objects to a .blend that the stage then appends (a file it wrote itself).
A crash, a time-out or a refusal becomes an InvalidArgument naming the file and the reason.

External references: a stored asset is one content-addressed blob with no siblings, so it must
carry its data inside (a .glb, data: URIs, a packed .blend). A reference to another file is
followed only when that file lies inside one of the stage's asset roots; any other is refused
before the importer opens anything (glTF buffer and image URIs, OBJ ``mtllib`` and texture
maps, USDA asset paths) or, where the format cannot be read without its importer (USDC, FBX,
.blend libraries), after the import and before anything reaches the stage.
"""

from __future__ import annotations

import json
import os
import re
import struct
import subprocess
import sys
import tempfile
from collections.abc import Iterable
from pathlib import Path

from protocols import InvalidArgument

TIMEOUT_S = 120.0
_REFUSED = 3  # exit code: the converter refused the file and printed why


class Refused(Exception):
    """The file refers to something outside the asset roots, or does not import."""


def convert(blob: Path, fmt: str, out: Path, roots: Iterable[Path]) -> Path:
    """Convert ``blob`` (a ``fmt`` file) to the .blend ``out`` in a subprocess; returns ``out``."""
    if out.is_file():
        return out
    out.parent.mkdir(parents=True, exist_ok=True)
    pending = out.with_name(f".{out.name}.{os.getpid()}.tmp.blend")
    command = [sys.executable, "-m", __name__, str(blob), fmt, str(pending), *map(str, roots)]
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=TIMEOUT_S, check=False)
    except subprocess.TimeoutExpired:
        pending.unlink(missing_ok=True)
        raise InvalidArgument(
            f"asset {blob.name} ({fmt}) took over {TIMEOUT_S:.0f} s to import", field="asset"
        ) from None
    if done.returncode != 0:
        pending.unlink(missing_ok=True)
        lines = [line for line in done.stdout.splitlines() if line.startswith("refused: ")]
        if done.returncode == _REFUSED and lines:
            reason = lines[-1].removeprefix("refused: ")
        elif done.returncode < 0:
            reason = f"the importer crashed (signal {-done.returncode}); the file is damaged or not {fmt}"
        else:
            reason = f"the importer failed (exit {done.returncode}): {done.stderr.strip()[-300:]}"
        raise InvalidArgument(f"asset {blob.name} could not be imported as {fmt}: {reason}", field="asset")
    os.replace(pending, out)
    return out


def check_references_before(path: Path, fmt: str, roots: tuple[Path, ...]) -> None:
    """Refuse a file whose text names other files outside the roots, before any importer reads it."""
    data = path.read_bytes()
    if fmt in ("gltf", "glb"):
        document = _gltf_json(data, fmt)
        for kind in ("buffers", "images"):
            for item in document.get(kind, []) if isinstance(document, dict) else []:
                uri = item.get("uri") if isinstance(item, dict) else None
                if isinstance(uri, str) and not uri.startswith("data:"):
                    _check_inside(uri, roots, f"glTF {kind[:-1]} URI")
    elif fmt == "obj":
        for line in data.decode("utf-8", "replace").splitlines():
            words = line.split()
            if words and (words[0] == "mtllib" or words[0].startswith("map_")) and len(words) > 1:
                _check_inside(words[-1], roots, f"OBJ {words[0]}")
    elif fmt == "usda":
        for reference in re.findall(r"@([^@\n]*)@", data.decode("utf-8", "replace")):
            _check_inside(reference, roots, "USD asset path")


def check_references_after(bpy, source: Path, roots: tuple[Path, ...]) -> None:
    """Refuse an import that linked libraries or files outside the roots (formats we cannot pre-read).

    The appended file itself stays behind as a library with nothing linked from it: it is dropped.
    """
    for library in list(bpy.data.libraries):
        if Path(bpy.path.abspath(library.filepath)) == source:
            bpy.data.libraries.remove(library)
            continue
        _check_inside(bpy.path.abspath(library.filepath), roots, ".blend library link")
    for image in bpy.data.images:
        if image.packed_file is None and image.source == "FILE" and image.filepath:
            _check_inside(bpy.path.abspath(image.filepath), roots, "image file")


def _gltf_json(data: bytes, fmt: str) -> object:
    try:
        if fmt == "glb":
            if len(data) < 20 or data[:4] != b"glTF":
                raise Refused("it is not a GLB file (no glTF header)")
            length, kind = struct.unpack_from("<I4s", data, 12)
            if kind != b"JSON":
                raise Refused("its first GLB chunk is not JSON")
            data = data[20 : 20 + length]
        return json.loads(data)
    except (ValueError, struct.error) as exc:
        raise Refused(f"it is not valid glTF JSON ({exc})") from None


def _check_inside(reference: str, roots: tuple[Path, ...], what: str) -> None:
    target = Path(reference)
    if not target.is_absolute() or not any(target.resolve().is_relative_to(r) for r in roots):
        raise Refused(
            f"its {what} {reference[:120]!r} points outside the stage's asset roots; "
            "embed the data (.glb, data: URIs, packed files) or keep the file inside an asset root"
        )


def _main(argv: list[str]) -> int:
    source, fmt, out, *roots = argv
    resolved_roots = tuple(Path(r).resolve() for r in roots)
    import bpy

    from ._assets import run_importer

    try:
        check_references_before(Path(source), fmt, resolved_roots)
        bpy.ops.wm.read_factory_settings(use_empty=True)
        with tempfile.TemporaryDirectory(prefix="stagecraft-convert-") as tmp:
            link = Path(tmp) / f"asset.{fmt}"
            link.symlink_to(Path(source).resolve())
            try:
                run_importer(link, fmt)
            except (RuntimeError, OSError) as exc:
                raise Refused(str(exc).strip()[:300]) from None
            check_references_after(bpy, link, resolved_roots)
        if not bpy.data.objects:
            raise Refused("it contains no objects")
    except Refused as exc:
        print(f"refused: {exc}", flush=True)
        return _REFUSED
    bpy.ops.wm.save_as_mainfile(filepath=out, copy=True, check_existing=False)
    return 0


if __name__ == "__main__":
    sys.exit(_main(sys.argv[1:]))
