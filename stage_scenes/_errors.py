"""The one error a bad stage file raises.

StagecraftError (protocols)
└── StageFileError     a stage file that cannot be read, or describes an impossible stage
"""

from __future__ import annotations

from pathlib import Path

from protocols import StagecraftError


class StageFileError(StagecraftError):
    """A stage file problem, naming the file, and where known the node and the key.

    ``node`` is the node's name (or its section, as ``[[prop]] #2``, when it has none);
    ``key`` is the key as written in the file (``material.roughness``, ``scene.active_camera``).
    """

    def __init__(self, path: Path, problem: str, *, node: str | None = None, key: str | None = None) -> None:
        where = [str(path)]
        if node is not None:
            where.append(f"node {node!r}")
        if key is not None:
            where.append(f"key {key!r}")
        super().__init__(f"{': '.join(where)}: {problem}")
        self.path = path
        self.node = node
        self.key = key
        self.problem = problem
