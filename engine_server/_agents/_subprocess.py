"""Start ``stagecraft agent`` as a child process and wait until it has registered (tests, benches)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading

from protocols import StagecraftError

from .._subprocess import ROOT


class AgentProcess:
    """``stagecraft agent KIND`` as a child; the constructor returns once it has registered."""

    def __init__(self, kind: str, name: str, endpoint: str, *args: str) -> None:
        command = [sys.executable, "-m", "engine_server", "agent", "--name", name, "--connect", endpoint]
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
