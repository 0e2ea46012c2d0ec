"""The bridge between the trio core and the one thread that owns ``bpy``.

The owner is the process's main thread (Blender's importers and exporters need it). Trio,
running on another thread, queues work with ``submit``; the owner runs it in order and hands
results back to trio in batches, so a burst of commands costs one wake-up each way.
"""

from __future__ import annotations

import logging
import queue
from collections.abc import Callable
from typing import Any

import trio

Job = Callable[[], Any]
Deliver = Callable[[list[tuple[Any, Any]]], None]

logger = logging.getLogger("stagecraft.stage")

_STOP = object()
MAX_BATCH = 256
QUIET_S = 1.0  # housekeeping starts after this long without a job


class StageThread:
    """Runs jobs on the thread that calls ``run_forever``; everything else only submits."""

    def __init__(self) -> None:
        self._jobs: queue.SimpleQueue[Any] = queue.SimpleQueue()

    def submit(self, job: Job, tag: Any, deliver: Deliver, token: trio.lowlevel.TrioToken) -> None:
        """Queue ``job``; ``deliver([(tag, result_or_exception), ...])`` runs later in trio."""
        self._jobs.put((job, tag, deliver, token))

    def stop(self) -> None:
        """Make ``run_forever`` return after the jobs already queued."""
        self._jobs.put(_STOP)

    def run_forever(self, idle: Callable[[], bool] = lambda: False) -> None:
        """Serve jobs until ``stop``; call on the thread that owns bpy.

        Housekeeping waits for a quiet moment: once no job has come for ``QUIET_S`` after the
        last one, it calls ``idle()`` until that returns False (nothing more to do) or a job
        arrives; a job that arrives meanwhile waits for the step in progress.
        """
        housekeeping = False
        while True:
            try:
                first = self._jobs.get(timeout=QUIET_S) if housekeeping else self._jobs.get()
            except queue.Empty:
                try:
                    housekeeping = idle()
                except Exception:  # housekeeping is never worth the stage: log it and stop it
                    logger.exception("stage housekeeping failed; it is skipped until the next command")
                    housekeeping = False
                continue
            batch = [first]
            while len(batch) < MAX_BATCH:
                try:
                    batch.append(self._jobs.get_nowait())
                except queue.Empty:
                    break
            stopping = _STOP in batch
            self._run_batch([item for item in batch if item is not _STOP])
            if stopping:
                return
            housekeeping = True

    def _run_batch(self, batch: list[tuple[Job, Any, Deliver, trio.lowlevel.TrioToken]]) -> None:
        grouped: dict[tuple[Deliver, trio.lowlevel.TrioToken], list[tuple[Any, Any]]] = {}
        for job, tag, deliver, token in batch:
            try:
                result: Any = job()
            except Exception as exc:  # handed to the submitter, which decides what it means
                result = exc
            grouped.setdefault((deliver, token), []).append((tag, result))
        for (deliver, token), results in grouped.items():
            try:
                token.run_sync_soon(deliver, results)
            except trio.RunFinishedError:
                pass  # the trio side has shut down; nobody is waiting for these results
