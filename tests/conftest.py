"""Fixtures that start real stage servers as separate processes on 127.0.0.1, port 0."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import zmq

from protocols import StageClient

ROOT = Path(__file__).resolve().parent.parent
ENDPOINT = re.compile(r"^\s+(commands|events):\s+(\S+)$")


class StageProcess:
    """A `stagecraft serve` child process; ``start`` waits for its endpoints line."""

    def __init__(self, data_dir: Path, *args: str) -> None:
        self.data_dir = data_dir
        self.args = args
        self.process: subprocess.Popen[str] | None = None
        self.commands = self.events = ""
        self.log: list[str] = []

    def start(self) -> StageProcess:
        command = [sys.executable, "-m", "engine_server", "-v", "serve", "--port", "0", "--event-port", "0"]
        command += ["--data-dir", str(self.data_dir), *self.args]
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        self.process = subprocess.Popen(
            command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env
        )
        found: dict[str, str] = {}
        while len(found) < 2:
            line = self.process.stdout.readline()
            if not line:
                raise RuntimeError("stage server exited during start-up:\n" + "".join(self.log))
            self.log.append(line)
            match = ENDPOINT.match(line.rstrip("\n"))
            if match:
                found[match.group(1)] = match.group(2)
        self.commands, self.events = found["commands"], found["events"]
        return self

    def client(self, **kwargs) -> StageClient:
        return StageClient(self.commands, context=zmq.Context.instance(), **kwargs)

    def kill(self) -> None:
        """SIGKILL: no clean shutdown at all."""
        self.process.send_signal(signal.SIGKILL)
        self.process.wait()
        self.process.stdout.close()

    def stop(self) -> int:
        """SIGTERM and wait; returns the exit status."""
        self.process.send_signal(signal.SIGTERM)
        try:
            status = self.process.wait(timeout=60)
        finally:
            self.log.extend(self.process.stdout.readlines())
            self.process.stdout.close()
        return status


@pytest.fixture
def stage_factory(tmp_path: Path) -> Iterator:
    """Make stage processes (``stage_factory(*serve_args)``); all are killed at teardown."""
    started: list[StageProcess] = []

    def make(*args: str, data_dir: Path | None = None) -> StageProcess:
        process = StageProcess(data_dir or tmp_path / "stage", *args).start()
        started.append(process)
        return process

    yield make
    for process in started:
        if process.process.poll() is None:
            process.kill()


@pytest.fixture
def empty_stage(stage_factory) -> StageProcess:
    return stage_factory("--empty")
