"""Stage snapshots: ``.blend`` files saved by the bpy thread, each holding every record up to a seq.

A snapshot for seq N is written to ``snapshot-<N, 20 digits>.partial.blend`` (``reserve``), then
``commit`` syncs it, writes its manifest ``snapshot-<N>.manifest`` (size and SHA-256 of the
.blend, synced, published by rename) and renames the .blend to ``snapshot-<N>.blend``. A snapshot
is trusted only when its .blend matches its manifest: ``usable()`` lists the good ones newest
first and says which it passed over, so start-up falls back to the previous snapshot when the
newest is damaged (the journal is kept back to the oldest snapshot held, see ``oldest_seq``).

Anything else named ``snapshot-*`` or ``.snapshot-*`` (a partial file, a save's temporary file,
Blender's ``@`` file, a manifest without its .blend) is what a crash left behind and is removed
when the store opens. The store keeps the two newest snapshots.

The directory belongs to the store. ``reserve`` (the bpy thread) may run while ``commit`` of an
earlier seq runs on another thread: pruning touches only complete snapshots, never partial files.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
from pathlib import Path

from protocols import StagecraftError
from scene import fsync_directory

KEEP = 2
_COMPLETE = re.compile(r"snapshot-(\d{20})\.blend")
_MANIFEST = re.compile(r"snapshot-(\d{20})\.manifest")
# Blender files start with "BLENDER"; compressed ones are zstd (Blender >= 3.0) or gzip.
_BLEND_MAGICS = (b"BLENDER", b"\x28\xb5\x2f\xfd", b"\x1f\x8b")
_CHUNK = 1 << 20

logger = logging.getLogger("stagecraft.snapshots")


class SnapshotError(StagecraftError):
    """A snapshot cannot be committed: its file is missing or is not a .blend file."""


class SnapshotStore:
    """Durable, checksummed, atomically published snapshots, newest two kept."""

    def __init__(self, directory: Path) -> None:
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        blends = {int(m.group(1)) for p in self.directory.iterdir() if (m := _COMPLETE.fullmatch(p.name))}
        leftovers = [
            path for path in self.directory.iterdir() if path.is_file() and _is_leftover(path.name, blends)
        ]
        for path in leftovers:
            path.unlink()
        if leftovers:
            logger.info("removed %d files a crash left in %s", len(leftovers), self.directory)
            fsync_directory(self.directory)

    def usable(self) -> list[tuple[int, Path]]:
        """Complete snapshots whose .blend matches its manifest, newest first; damaged ones logged."""
        good = []
        for seq, path in reversed(self._complete()):
            problem = self._damage(seq, path)
            if problem is None:
                good.append((seq, path))
            else:
                logger.error("snapshot %s is damaged (%s); passing over it", path.name, problem)
        return good

    def latest(self) -> tuple[int, Path] | None:
        """The newest usable snapshot: (seq, path of its .blend), or None if there is none."""
        usable = self.usable()
        return usable[0] if usable else None

    def oldest_seq(self) -> int:
        """The seq of the oldest snapshot kept (0 without one): the journal must hold what follows it."""
        complete = self._complete()
        return complete[0][0] if complete else 0

    def reserve(self, seq: int) -> Path:
        """The temporary path where the bpy thread saves the .blend for ``seq``."""
        if not isinstance(seq, int) or seq < 0:
            raise ValueError(f"a snapshot seq is an int >= 0, not {seq!r}")
        complete = self._complete()
        if complete and seq < complete[-1][0]:
            raise ValueError(f"snapshot seq {seq} is older than the newest snapshot ({complete[-1][0]})")
        path = self._partial(seq)
        path.unlink(missing_ok=True)
        return path

    def commit(self, seq: int) -> Path:
        """Sync the file written at ``reserve(seq)``, write its manifest, publish it, prune old ones."""
        partial = self._partial(seq)
        try:
            size, digest, head = _digest(partial, sync=True)
        except FileNotFoundError:
            raise SnapshotError(f"no snapshot was saved at {partial} for seq {seq}") from None
        if not head.startswith(_BLEND_MAGICS):
            raise SnapshotError(f"{partial} is not a .blend file (it starts with {head[:8]!r})")
        manifest = self._manifest(seq)
        pending = manifest.with_name(f".{manifest.name}.tmp")
        with open(pending, "w") as file:
            json.dump({"seq": seq, "size": size, "sha256": digest}, file)
            file.flush()
            os.fsync(file.fileno())
        os.replace(pending, manifest)
        final = self.directory / f"snapshot-{seq:020d}.blend"
        os.replace(partial, final)
        fsync_directory(self.directory)
        old = self._complete()[:-KEEP]
        for old_seq, path in old:
            self._manifest(old_seq).unlink(missing_ok=True)
            path.unlink()
        if old:
            fsync_directory(self.directory)
        return final

    def _damage(self, seq: int, path: Path) -> str | None:
        """Why the snapshot cannot be trusted, or None when it matches its manifest."""
        try:
            expected = json.loads(self._manifest(seq).read_text())
            size, digest, _ = _digest(path)
        except FileNotFoundError:
            return "it has no manifest"
        except (OSError, ValueError) as exc:
            return f"its manifest cannot be read: {exc}"
        if not isinstance(expected, dict) or expected.get("seq") != seq:
            return "its manifest belongs to another snapshot"
        if size != expected.get("size"):
            return f"it is {size} bytes; its manifest says {expected.get('size')}"
        if digest != expected.get("sha256"):
            return "its SHA-256 differs from its manifest's"
        return None

    def _complete(self) -> list[tuple[int, Path]]:
        found = []
        for path in self.directory.glob("snapshot-*.blend"):
            match = _COMPLETE.fullmatch(path.name)
            if match:
                found.append((int(match.group(1)), path))
        return sorted(found)

    def _partial(self, seq: int) -> Path:
        return self.directory / f"snapshot-{seq:020d}.partial.blend"

    def _manifest(self, seq: int) -> Path:
        return self.directory / f"snapshot-{seq:020d}.manifest"


def _is_leftover(name: str, blends: set[int]) -> bool:
    if name.startswith(".snapshot-"):
        return True
    if not name.startswith("snapshot-") or _COMPLETE.fullmatch(name):
        return False
    manifest = _MANIFEST.fullmatch(name)
    return manifest is None or int(manifest.group(1)) not in blends


def _digest(path: Path, *, sync: bool = False) -> tuple[int, str, bytes]:
    """(size, SHA-256 hex, first bytes) of a file, fsynced first when ``sync``."""
    sha = hashlib.sha256()
    size, head = 0, b""
    with open(path, "rb") as file:
        if sync:
            os.fsync(file.fileno())
        while chunk := file.read(_CHUNK):
            if not size:
                head = chunk[:16]
            sha.update(chunk)
            size += len(chunk)
    return size, sha.hexdigest(), head
