"""The test harness: stage servers and agents as child processes (tests and benchmarks).

A ``StageProcess`` returns once the server listens (its endpoints read from the serve banner);
an ``AgentProcess`` once the agent has registered.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
from pathlib import Path

import zmq

from protocols import StageClient, StagecraftError

ENDPOINT_LINE = re.compile(r"^\s+(commands|events|web):\s+(\S+)$")
ROOT = Path(__file__).resolve().parent.parent  # the repository


class StageProcess:
    """A ``stagecraft serve`` child on ephemeral ports; ``start`` returns once it listens."""

    def __init__(self, data_dir: Path, *args: str) -> None:
        self.data_dir = Path(data_dir)
        self.args = args
        self.process: subprocess.Popen[str] | None = None
        self.commands = self.events = ""
        self.web = ""  # the web stage's URL, when started with --web-port
        self.log: list[str] = []

    def start(self) -> StageProcess:
        command = [sys.executable, "-m", "stagecraft_cli", "-v", "serve", "--port", "0", "--event-port", "0"]
        command += ["--data-dir", str(self.data_dir), *self.args]
        self.process = subprocess.Popen(
            command,
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        found: dict[str, str] = {}
        wanted = {"commands", "events", *(["web"] if "--web-port" in self.args else [])}
        while not wanted <= set(found):
            line = self.process.stdout.readline()
            if not line:
                self.process.wait()
                self.process.stdout.close()
                raise StagecraftError("stage server exited during start-up:\n" + "".join(self.log))
            self.log.append(line)
            match = ENDPOINT_LINE.match(line.rstrip("\n"))
            if match:
                found[match.group(1)] = match.group(2)
        self.commands, self.events = found["commands"], found["events"]
        self.web = found.get("web", "")
        return self

    def client(self, **kwargs) -> StageClient:
        return StageClient(self.commands, context=zmq.Context.instance(), **kwargs)

    def kill(self) -> None:
        """SIGKILL: no clean shutdown at all."""
        self.process.send_signal(signal.SIGKILL)
        self.process.wait()
        self.log.extend(self.process.stdout.readlines())
        self.process.stdout.close()

    def stop(self, timeout: float = 60.0) -> int:
        """SIGTERM, wait, and return the exit status."""
        self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout=timeout)
        finally:
            self.log.extend(self.process.stdout.readlines())
            self.process.stdout.close()

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None


class AgentProcess:
    """``stagecraft agent KIND`` as a child; the constructor returns once it has registered."""

    def __init__(self, kind: str, name: str, endpoint: str, *args: str) -> None:
        command = [sys.executable, "-m", "stagecraft_cli", "agent", "--name", name, "--connect", endpoint]
        self.process = subprocess.Popen(
            [*command, *args, kind],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        self.log: list[str] = []
        while True:
            line = self.process.stdout.readline()
            if not line:
                self.process.wait()
                raise StagecraftError("agent exited during start-up:\n" + "".join(self.log))
            self.log.append(line)
            if f"takes {kind} jobs" in line:
                break
        # keep draining its output, so a chatty agent never blocks on a full pipe
        self._drain = threading.Thread(target=self._read_log, daemon=True)
        self._drain.start()

    def _read_log(self) -> None:
        for line in self.process.stdout:
            self.log.append(line)

    def kill(self) -> None:
        """SIGKILL, no goodbye."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
        self.process.wait()
        self._drain.join()
        self.process.stdout.close()
