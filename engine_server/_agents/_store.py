"""The durable job queue: one SQLite table in the stage's data directory (WAL mode).

A committed change survives the stage being killed (WAL with ``synchronous=NORMAL`` is durable
against a process crash; only a power loss may lose the last transactions). Every write is a
small single-row transaction of well under a millisecond, so the store runs on the trio thread;
it never touches the bpy thread. On open, jobs left ``running`` by a previous stage go back to
the queue: their agents must take them again.
"""

from __future__ import annotations

import json
import sqlite3
import time
import uuid
from pathlib import Path
from typing import Any

import msgpack
import numpy as np

from protocols import ALLOWED_DTYPES, FINAL_STATES, Job, NotFound

_SCHEMA = """
CREATE TABLE IF NOT EXISTS jobs (
    n INTEGER PRIMARY KEY AUTOINCREMENT,
    job_id TEXT UNIQUE NOT NULL,
    kind TEXT NOT NULL,
    params TEXT NOT NULL,
    state TEXT NOT NULL,
    attempt INTEGER NOT NULL DEFAULT 0,
    max_attempts INTEGER NOT NULL,
    agent TEXT,
    fraction REAL NOT NULL DEFAULT 0,
    stage TEXT NOT NULL DEFAULT '',
    result TEXT,
    arrays BLOB,
    error_code TEXT,
    error_message TEXT,
    created REAL NOT NULL,
    updated REAL NOT NULL,
    deadline REAL
);
CREATE INDEX IF NOT EXISTS jobs_state ON jobs (state, n);
CREATE INDEX IF NOT EXISTS jobs_queue ON jobs (state, kind, n);
CREATE INDEX IF NOT EXISTS jobs_deadline ON jobs (deadline) WHERE deadline IS NOT NULL;
"""
_SUMMARY = (
    "job_id, kind, state, params, attempt, max_attempts, created, updated, fraction, stage, agent, "
    "error_code, error_message, deadline"
)


class JobStore:
    """Jobs by id; every method commits before it returns."""

    def __init__(self, path: Path) -> None:
        self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        columns = {row[1] for row in self._db.execute("PRAGMA table_info(jobs)")}
        if columns and "deadline" not in columns:  # a queue made before job deadlines
            self._db.execute("ALTER TABLE jobs ADD COLUMN deadline REAL")
        self._db.executescript(_SCHEMA)
        self.requeued_at_start = self._db.execute(
            "UPDATE jobs SET state = 'queued', agent = NULL, updated = ? WHERE state = 'running'",
            (time.time(),),
        ).rowcount

    def close(self) -> None:
        self._db.close()

    def submit(
        self, kind: str, params: dict[str, Any], max_attempts: int, deadline_s: float | None = None
    ) -> Job:
        now = time.time()
        job_id = uuid.uuid4().hex
        self._db.execute(
            "INSERT INTO jobs (job_id, kind, params, state, max_attempts, created, updated, deadline) "
            "VALUES (?, ?, ?, 'queued', ?, ?, ?, ?)",
            (
                job_id,
                kind,
                json.dumps(params),
                max_attempts,
                now,
                now,
                None if deadline_s is None else now + deadline_s,
            ),
        )
        return self.get(job_id)

    def overdue(self, now: float) -> list[Job]:
        """Unfinished jobs whose deadline has passed (an indexed look-up)."""
        rows = self._db.execute(
            f"SELECT {_SUMMARY} FROM jobs WHERE deadline IS NOT NULL AND deadline < ? "
            "AND state IN ('queued', 'running')",
            (now,),
        )
        return [_job(row, False) for row in rows]

    def get(self, job_id: str, *, full: bool = False) -> Job:
        columns = f"{_SUMMARY}, result, arrays" if full else _SUMMARY
        row = self._db.execute(f"SELECT {columns} FROM jobs WHERE job_id = ?", (job_id,)).fetchone()
        if row is None:
            raise NotFound(f"no job {job_id}", field="job_id")
        return _job(row, full)

    def list(self, state: str | None, limit: int) -> tuple[Job, ...]:
        where, args = ("WHERE state = ?", (state,)) if state else ("", ())
        rows = self._db.execute(
            f"SELECT {_SUMMARY} FROM jobs {where} ORDER BY n DESC LIMIT ?", (*args, limit)
        )
        return tuple(_job(row, False) for row in rows)

    def next_queued(self, kinds: set[str]) -> Job | None:
        """The oldest queued job of one of ``kinds`` (an indexed look-up, not a scan), or None."""
        if not kinds:
            return None
        marks = ", ".join("?" * len(kinds))
        row = self._db.execute(
            f"SELECT {_SUMMARY} FROM jobs WHERE state = 'queued' AND kind IN ({marks}) ORDER BY n LIMIT 1",
            tuple(kinds),
        ).fetchone()
        return None if row is None else _job(row, False)

    def start(self, job_id: str, agent: str) -> Job:
        """Give a queued job to ``agent``: running, one more attempt."""
        self._update(
            job_id, "state = 'running', agent = ?, attempt = attempt + 1, fraction = 0, stage = ''", agent
        )
        return self.get(job_id)

    def progress(self, job_id: str, fraction: float, stage: str) -> Job:
        self._update(job_id, "fraction = ?, stage = ?", fraction, stage)
        return self.get(job_id)

    def requeue(self, job_id: str, reason: str) -> Job:
        """Back to the queue, or failed with ``agent_lost`` when its attempts are used up."""
        job = self.get(job_id)
        if job.attempt >= job.max_attempts:
            return self.finish(
                job_id, "failed", error=("agent_lost", f"{reason}; gave up after {job.attempt} attempts")
            )
        self._update(job_id, "state = 'queued', agent = NULL, stage = ?", reason)
        return self.get(job_id)

    def finish(
        self,
        job_id: str,
        state: str,
        *,
        result: dict[str, Any] | None = None,
        arrays: dict[str, np.ndarray] | None = None,
        error: tuple[str, str] | None = None,
    ) -> Job:
        if state not in FINAL_STATES:
            raise ValueError(f"{state!r} is not a final state")
        code, message = error or (None, None)
        self._update(
            job_id,
            "state = ?, fraction = CASE WHEN ? = 'succeeded' THEN 1 ELSE fraction END, result = ?, "
            "arrays = ?, error_code = ?, error_message = ?",
            state,
            state,
            None if result is None else json.dumps(result),
            _pack_arrays(arrays) if arrays else None,
            code,
            message,
        )
        return self.get(job_id)

    def _update(self, job_id: str, assignments: str, *values: Any) -> None:
        self._db.execute(
            f"UPDATE jobs SET {assignments}, updated = ? WHERE job_id = ?", (*values, time.time(), job_id)
        )


def _job(row: tuple, full: bool) -> Job:
    (
        job_id,
        kind,
        state,
        params,
        attempt,
        max_attempts,
        created,
        updated,
        fraction,
        stage,
        agent,
        code,
        message,
        deadline,
    ) = row[:14]
    result = arrays = None
    if full:
        result = None if row[14] is None else json.loads(row[14])
        arrays = _unpack_arrays(row[15]) if row[15] else None
    return Job(
        job_id=job_id,
        kind=kind,
        state=state,
        params=json.loads(params),
        attempt=attempt,
        max_attempts=max_attempts,
        created=created,
        updated=updated,
        fraction=fraction,
        stage=stage,
        agent=agent,
        error_code=code,
        error_message=message,
        deadline=deadline,
        result=result,
        arrays=arrays or {},
    )


def _pack_arrays(arrays: dict[str, np.ndarray]) -> bytes:
    return msgpack.packb(
        {
            name: {"dtype": a.dtype.str, "shape": list(a.shape), "data": np.ascontiguousarray(a).tobytes()}
            for name, a in arrays.items()
        },
        use_bin_type=True,
    )


def _unpack_arrays(blob: bytes) -> dict[str, np.ndarray]:
    out = {}
    for name, entry in msgpack.unpackb(blob, raw=False).items():
        if entry["dtype"] not in ALLOWED_DTYPES:
            raise ValueError(f"stored array {name!r} has dtype {entry['dtype']!r}")
        out[name] = np.frombuffer(entry["data"], dtype=entry["dtype"]).reshape(entry["shape"])
    return out
