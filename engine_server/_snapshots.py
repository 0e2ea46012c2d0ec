"""Stage snapshots: ``.blend`` files saved by the bpy thread, each holding every record up to a seq.

A snapshot for seq N is written to ``snapshot-<N, 20 digits>.partial.blend`` (``reserve``), then
synced and renamed to ``snapshot-<N, 20 digits>.blend`` (``commit``): a file with the final name is
always complete. Anything else named ``snapshot-*`` (a partial file, Blender's ``@`` save file) is
what a crash left behind and is removed when the store opens. The store keeps the two newest.

The directory belongs to the store. ``reserve`` (the bpy thread) may run while ``commit`` of an
earlier seq runs on another thread: pruning touches only complete snapshots, never partial files.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from protocols import StagecraftError

from ._fsync import fsync_directory

KEEP = 2
_COMPLETE = re.compile(r"snapshot-(\d{20})\.blend")
# Blender files start with "BLENDER"; compressed ones are zstd (Blender >= 3.0) or gzip.
_BLEND_MAGICS = (b"BLENDER", b"\x28\xb5\x2f\xfd", b"\x1f\x8b")


class SnapshotError(StagecraftError):
    """A snapshot cannot be committed: its file is missing or is not a .blend file."""


class SnapshotStore:
    """Durable, atomically published snapshots, newest two kept."""

    def __init__(self, directory: Path) -> None:
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        leftovers = [
            path
            for path in self.directory.glob("snapshot-*")
            if not _COMPLETE.fullmatch(path.name) and path.is_file()
        ]
        for path in leftovers:
            path.unlink()
        if leftovers:
            fsync_directory(self.directory)

    def latest(self) -> tuple[int, Path] | None:
        """The newest complete snapshot: (seq, path of its .blend), or None if there is none."""
        snapshots = self._complete()
        return snapshots[-1] if snapshots else None

    def reserve(self, seq: int) -> Path:
        """The temporary path where the bpy thread saves the .blend for ``seq``."""
        if not isinstance(seq, int) or seq < 0:
            raise ValueError(f"a snapshot seq is an int >= 0, not {seq!r}")
        latest = self.latest()
        if latest is not None and seq < latest[0]:
            raise ValueError(f"snapshot seq {seq} is older than the newest snapshot ({latest[0]})")
        path = self._partial(seq)
        path.unlink(missing_ok=True)
        return path

    def commit(self, seq: int) -> Path:
        """Sync the file written at ``reserve(seq)``, publish it as snapshot ``seq``, prune old ones."""
        partial = self._partial(seq)
        try:
            with open(partial, "rb") as file:
                head = file.read(max(len(m) for m in _BLEND_MAGICS))
                os.fsync(file.fileno())
        except FileNotFoundError:
            raise SnapshotError(f"no snapshot was saved at {partial} for seq {seq}") from None
        if not head.startswith(_BLEND_MAGICS):
            raise SnapshotError(f"{partial} is not a .blend file (it starts with {head!r})")
        final = self.directory / f"snapshot-{seq:020d}.blend"
        os.replace(partial, final)
        fsync_directory(self.directory)
        old = self._complete()[:-KEEP]
        for _, path in old:
            path.unlink()
        if old:
            fsync_directory(self.directory)
        return final

    def _complete(self) -> list[tuple[int, Path]]:
        found = []
        for path in self.directory.glob("snapshot-*.blend"):
            match = _COMPLETE.fullmatch(path.name)
            if match:
                found.append((int(match.group(1)), path))
        return sorted(found)

    def _partial(self, seq: int) -> Path:
        return self.directory / f"snapshot-{seq:020d}.partial.blend"
