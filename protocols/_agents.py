"""Agents and jobs: agents register, take offered jobs, report progress and results.

An agent connects a DEALER to the command endpoint like any client. ``register_agent`` makes its
connection an agent; the server then sends it unsolicited ``job_offer`` and ``cancel_job``
messages (``parent`` nil). Clients submit, list, follow and cancel jobs; every change of a job
is published as a ``job_event`` under the topic ``b"job"`` on the event endpoint.
"""

from __future__ import annotations

import dataclasses
import math
import re
from typing import Any, Literal

import numpy as np

from ._checks import check_name, check_range
from ._codec import Message, wire
from ._errors import InvalidArgument
from ._render import RenderEngine

JOB_TOPIC = b"job"
JobState = Literal["queued", "running", "succeeded", "failed", "cancelled"]
FINAL_STATES = frozenset(("succeeded", "failed", "cancelled"))
Device = Literal["cpu", "cuda"]
MAX_PLAIN_DEPTH = 16
_TOKEN = re.compile(r"[a-z][a-z0-9_.-]{0,62}")
_JOB_ID = re.compile(r"[0-9a-f]{32}")


def check_token(field: str, value: str | None) -> None:
    """A job kind or error code: lowercase letters, digits, ``_ . -``, starting with a letter."""
    if value is not None and not _TOKEN.fullmatch(value):
        raise InvalidArgument(
            f"{field} {value[:40]!r} must be lowercase letters, digits, '_', '.' or '-' "
            "(starting with a letter, at most 63)",
            field=field,
        )


def check_job_id(field: str, value: str | None) -> None:
    if value is not None and not _JOB_ID.fullmatch(value):
        raise InvalidArgument(f"{field} must be a job id (32 lowercase hex digits)", field=field)


def check_plain(field: str, value: Any, depth: int = 0) -> None:
    """``value`` is plain data: nil, bool, int, finite float, string, list or string-keyed map."""
    if depth > MAX_PLAIN_DEPTH:
        raise InvalidArgument(f"{field} nests deeper than {MAX_PLAIN_DEPTH} levels", field=field)
    if value is None or isinstance(value, bool | int | str):
        return
    if isinstance(value, float):
        if not math.isfinite(value):
            raise InvalidArgument(f"{field} must be a finite number, not {value}", field=field)
        return
    if isinstance(value, list | tuple):
        for i, item in enumerate(value):
            check_plain(f"{field}[{i}]", item, depth + 1)
        return
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                raise InvalidArgument(f"{field} has a key that is not a string", field=field)
            check_plain(f"{field}.{key}", item, depth + 1)
        return
    raise InvalidArgument(f"{field} holds a {type(value).__name__}; only plain values travel", field=field)


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        return (
            isinstance(a, np.ndarray)
            and isinstance(b, np.ndarray)
            and a.dtype == b.dtype
            and (np.array_equal(a, b, equal_nan=a.dtype.kind == "f"))
        )
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    return a == b


def _fields_equal(self: Any, other: object) -> bool:
    """Equality for messages that hold arrays (compared by dtype and value)."""
    fields = dataclasses.fields(self)
    if type(other) is not type(self):
        return NotImplemented
    return all(_same(getattr(self, f.name), getattr(other, f.name)) for f in fields)


def _check_kinds(field: str, kinds: tuple[str, ...]) -> None:
    if not kinds:
        raise InvalidArgument(f"{field} must name at least one job kind", field=field)
    for i, kind in enumerate(kinds):
        check_token(f"{field}[{i}]", kind)


# -- agent -> server --------------------------------------------------------------------------


@wire("register_agent")
class RegisterAgent(Message):
    """Make this connection an agent for job ``kinds``; the reply is ``agent_registered``.

    A second registration under the same ``name`` replaces the first (a restarted agent).
    """

    name: str
    kinds: tuple[str, ...]
    device: Device = "cpu"
    gpu: str | None = None
    memory_mb: int | None = None
    max_jobs: int = 1

    def __post_init__(self) -> None:
        check_name("name", self.name)
        _check_kinds("kinds", self.kinds)
        if self.gpu is not None:
            check_name("gpu", self.gpu)
        check_range("memory_mb", self.memory_mb, 0)
        check_range("max_jobs", self.max_jobs, 1, 64)


@wire("heartbeat")
class Heartbeat(Message):
    """The agent is alive and holds ``jobs``; the reply is ``agent_ack``."""

    jobs: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        for i, job_id in enumerate(self.jobs):
            check_job_id(f"jobs[{i}]", job_id)


@wire("job_accept")
class JobAccept(Message):
    """The agent has started the offered job; the reply is ``agent_ack``."""

    job_id: str
    attempt: int

    def __post_init__(self) -> None:
        check_job_id("job_id", self.job_id)
        check_range("attempt", self.attempt, 1)


@wire("job_progress")
class JobProgress(Message):
    """How far the job is (``fraction`` in [0, 1]) and what it is doing; the reply is ``agent_ack``."""

    job_id: str
    fraction: float
    stage: str = ""

    def __post_init__(self) -> None:
        check_job_id("job_id", self.job_id)
        check_range("fraction", self.fraction, 0.0, 1.0)
        if len(self.stage) > 200:
            raise InvalidArgument("stage is longer than 200 characters", field="stage")


@wire("job_result")
class JobResult(Message):
    """The job succeeded: plain ``result`` values and bulk ``arrays`` (raw frames).

    A result for a job that is already finished is acknowledged and ignored.
    """

    __eq__ = _fields_equal

    job_id: str
    result: dict[str, Any] = dataclasses.field(default_factory=dict)
    arrays: dict[str, np.ndarray] = dataclasses.field(default_factory=dict)

    def __post_init__(self) -> None:
        check_job_id("job_id", self.job_id)
        check_plain("result", self.result)


@wire("job_failed")
class JobFailed(Message):
    """The job failed with a stable ``code`` and a ``message`` for people."""

    job_id: str
    code: str
    message: str

    def __post_init__(self) -> None:
        check_job_id("job_id", self.job_id)
        check_token("code", self.code)


@wire("job_cancelled")
class JobCancelled(Message):
    """The agent stopped working on a job it was told to cancel."""

    job_id: str

    def __post_init__(self) -> None:
        check_job_id("job_id", self.job_id)


# -- server -> agent --------------------------------------------------------------------------


@wire("job_offer")
class JobOffer(Message):
    """A job for the agent (unsolicited); it answers with ``job_accept`` and then reports."""

    job_id: str
    kind: str
    params: dict[str, Any]
    attempt: int

    def __post_init__(self) -> None:
        check_job_id("job_id", self.job_id)
        check_token("kind", self.kind)
        check_plain("params", self.params)
        check_range("attempt", self.attempt, 1)


@wire("agent_registered")
class AgentRegistered(Message):
    """The reply to ``register_agent``: send a heartbeat every ``heartbeat_interval`` seconds."""

    agent: str
    heartbeat_interval: float


@wire("agent_ack")
class AgentAck(Message):
    """The reply to an agent's heartbeat or job report."""

    job_id: str | None = None


# -- clients ----------------------------------------------------------------------------------


@wire("submit_job")
class SubmitJob(Message):
    """Queue a job of ``kind``; the reply is ``job_submitted``.

    ``deadline_s``: seconds from now by which the job must have finished; past it the job fails
    with code ``deadline`` (and its agent is told to cancel). None: no deadline.
    """

    kind: str
    params: dict[str, Any] = dataclasses.field(default_factory=dict)
    max_attempts: int = 3
    deadline_s: float | None = None

    def __post_init__(self) -> None:
        check_token("kind", self.kind)
        check_plain("params", self.params)
        check_range("max_attempts", self.max_attempts, 1, 100)
        check_range("deadline_s", self.deadline_s, 0.0, 30 * 86400.0, low_open=True, unit=" s")


@wire("job_submitted")
class JobSubmitted(Message):
    job_id: str


@wire("list_jobs")
class ListJobs(Message):
    """The newest jobs (optionally only those in ``state``); the reply is ``jobs``."""

    state: JobState | None = None
    limit: int = 100

    def __post_init__(self) -> None:
        check_range("limit", self.limit, 1, 10_000)


@wire("get_job")
class GetJob(Message):
    """One job with its result; the reply is ``job``."""

    job_id: str

    def __post_init__(self) -> None:
        check_job_id("job_id", self.job_id)


@wire("cancel_job")
class CancelJob(Message):
    """Cancel a job (a client's request; the reply is ``job``), or, sent by the server, tell the
    agent running it to stop."""

    job_id: str

    def __post_init__(self) -> None:
        check_job_id("job_id", self.job_id)


@wire("job")
class Job(Message):
    """A job's state. ``result`` and ``arrays`` are filled by ``get_job`` only."""

    __eq__ = _fields_equal

    job_id: str
    kind: str
    state: JobState
    params: dict[str, Any]
    attempt: int
    max_attempts: int
    created: float
    updated: float
    fraction: float = 0.0
    stage: str = ""
    agent: str | None = None
    error_code: str | None = None
    error_message: str | None = None
    deadline: float | None = None  # wall-clock time (Unix seconds) it must finish by
    result: dict[str, Any] | None = None
    arrays: dict[str, np.ndarray] = dataclasses.field(default_factory=dict)


@wire("jobs")
class Jobs(Message):
    jobs: tuple[Job, ...]


@wire("job_event")
class JobEvent(Message):
    """A job changed: published as ``[b"job", header]`` on the event endpoint.

    ``n`` counts the stage's job events since it started, so a follower can order them.
    """

    n: int
    job_id: str
    kind: str
    state: JobState
    attempt: int
    fraction: float = 0.0
    stage: str = ""
    agent: str | None = None
    error_code: str | None = None
    error_message: str | None = None


# -- frames for agents --------------------------------------------------------------------------


@wire("frame_request")
class FrameRequest(Message):
    """RGB and depth of ``camera`` at ``width`` × ``height``; the reply is ``frame_data``.

    The stage thread never renders: the agent SDK answers it in the agent's own process from
    a snapshot (``renderers.render_stage_frames``).
    """

    camera: str
    width: int = 320
    height: int = 180
    engine: RenderEngine = "workbench"
    samples: int = 1

    def __post_init__(self) -> None:
        check_name("camera", self.camera)
        check_range("width", self.width, 8, 8192)
        check_range("height", self.height, 8, 8192)
        check_range("samples", self.samples, 1, 4096)


@wire("frame_data")
class FrameData(Message):
    """``rgb`` uint8 H×W×3; ``depth`` float32 H×W metres along the view axis (inf: nothing)."""

    __eq__ = _fields_equal

    seq: int
    camera: str
    rgb: np.ndarray
    depth: np.ndarray

    def __post_init__(self) -> None:
        if self.rgb.ndim != 3 or self.rgb.shape[2] != 3 or self.rgb.dtype != np.uint8:
            raise InvalidArgument("rgb must be a uint8 H×W×3 array", field="rgb")
        if self.depth.shape != self.rgb.shape[:2]:
            raise InvalidArgument("depth must be H×W like rgb", field="depth")


AGENT_MESSAGES = (RegisterAgent, Heartbeat, JobAccept, JobProgress, JobResult, JobFailed, JobCancelled)
JOB_REQUESTS = (SubmitJob, ListJobs, GetJob, CancelJob)
