"""The stage's content-addressed asset store, and the asset roots a path may come from.

Files are kept as ``<store>/<sha[:2]>/<sha>`` with no extension: an importer that needs one
links the blob under a named temporary path.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path

from protocols import Forbidden, InvalidArgument, NotFound, TooLarge

from ._fsync import fsync_directory

MAX_ASSET_BYTES = 256 << 20


class AssetStore:
    """Immutable blobs by SHA-256, written atomically and durably."""

    def __init__(self, directory: Path, roots: tuple[Path, ...] = ()) -> None:
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self.roots = tuple(Path(r).resolve() for r in roots)

    def put_bytes(self, data: bytes) -> str:
        """Store ``data``; returns its SHA-256 hex digest."""
        if len(data) > MAX_ASSET_BYTES:
            raise TooLarge(f"asset is {len(data)} bytes; the limit is {MAX_ASSET_BYTES}")
        digest = hashlib.sha256(data).hexdigest()
        target = self._blob(digest)
        if target.exists():
            return digest
        target.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=target.parent, delete=False) as tmp:
            tmp.write(data)
            tmp.flush()
            os.fsync(tmp.fileno())
        os.replace(tmp.name, target)
        fsync_directory(target.parent)
        return digest

    def put_path(self, path: str) -> str:
        """Store a file named by ``path``, which must lie inside one of the asset roots."""
        return self.put_bytes(self.resolve(path).read_bytes())

    def resolve(self, path: str) -> Path:
        """The real file for ``path`` (relative to a root, or absolute inside one)."""
        if not self.roots:
            raise Forbidden("this stage has no asset roots; upload the file with put_asset instead")
        if "\x00" in path:
            raise InvalidArgument("asset path contains a NUL byte", field="asset.path")
        candidates = [Path(path)] if Path(path).is_absolute() else [root / path for root in self.roots]
        for candidate in candidates:
            real = candidate.resolve()
            if not any(real.is_relative_to(root) for root in self.roots):
                continue
            if not real.is_file():
                raise NotFound(f"asset file {path!r} does not exist in the asset roots", field="asset.path")
            if real.stat().st_size > MAX_ASSET_BYTES:
                raise TooLarge(f"asset file {path!r} is over the {MAX_ASSET_BYTES}-byte limit")
            return real
        roots = ", ".join(str(r) for r in self.roots)
        raise Forbidden(
            f"asset path {path!r} is outside the stage's asset roots ({roots})", field="asset.path"
        )

    def path_of(self, sha256: str) -> Path:
        """The stored file for ``sha256``."""
        blob = self._blob(sha256)
        if not blob.is_file():
            raise NotFound(f"no asset {sha256} in the store", field="sha256")
        return blob

    def converted_path(self, sha256: str, fmt: str) -> Path:
        """Where the stage keeps its own .blend conversion of a stored asset (see ``_convert``)."""
        return self.directory / "converted" / f"{sha256}.{fmt}.blend"

    def read(self, sha256: str) -> bytes:
        return self.path_of(sha256).read_bytes()

    def __contains__(self, sha256: str) -> bool:
        return self._blob(sha256).is_file()

    def _blob(self, digest: str) -> Path:
        return self.directory / digest[:2] / digest
