"""Fixtures that start real stage servers as separate processes on 127.0.0.1, port 0."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from harness import StageProcess

# Torch's OpenMP threads must wait passively (agents/mocap/__init__.py says why); the test
# modules import torch before the mocap package can set it, and every process started inherits it.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")


@pytest.fixture
def stage_factory(tmp_path: Path) -> Iterator:
    """Make stage processes (``stage_factory(*serve_args)``); all are killed at teardown."""
    started: list[StageProcess] = []

    def make(*args: str, data_dir: Path | None = None) -> StageProcess:
        process = StageProcess(data_dir or tmp_path / "stage", *args)
        started.append(process)
        return process.start()

    yield make
    for process in started:
        if process.running:
            process.kill()


@pytest.fixture
def empty_stage(stage_factory) -> StageProcess:
    return stage_factory("--empty")
