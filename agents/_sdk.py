"""The agent SDK: connect to a stage, take its jobs, run a handler on each, report back.

    def handler(job: JobContext, progress: Callable[[float, str], None]) -> dict:
        progress(0.5, "halfway")
        return {"answer": 42, "poses": np.zeros((10, 3))}  # arrays travel as raw frames

    Agent("echo-1", ("echo",), handler, endpoint="tcp://127.0.0.1:5555").run()

The agent's trio loop owns its DEALER socket: it registers, heartbeats, takes offers and sends
reports. Each job's handler runs on the agent's main thread, one job at a time (bpy works only
there); ``progress`` raises ``JobCancelledError`` once the stage has cancelled the job. A handler
fails its job with ``JobError(code, message)``; any other exception fails it with the code
``agent_error``. If the stage restarts, the agent
registers again and resends what it had not yet had acknowledged.
"""

from __future__ import annotations

import functools
import logging
import queue
import threading
from collections.abc import Callable
from typing import Any

import numpy as np
import outcome
import trio
import zmq

from protocols import (
    AgentRegistered,
    CancelJob,
    CurveKeys,
    Device,
    Envelope,
    ErrorCode,
    FrameData,
    FrameRequest,
    Heartbeat,
    JobAccept,
    JobCancelled,
    JobFailed,
    JobOffer,
    JobProgress,
    JobResult,
    ProtocolError,
    RegisterAgent,
    StageClient,
    StagecraftError,
    StageTimeout,
    open_stage_client,
)

logger = logging.getLogger("stagecraft.agent")

REPLY_TIMEOUT = 10.0


class JobError(StagecraftError):
    """Raised by a handler: its job fails with ``code`` (e.g. ``bad_input``) and ``message``."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class JobCancelledError(StagecraftError):
    """Raised by ``progress`` when the stage has cancelled the job."""


class JobContext:
    """One job for a handler: its id, kind, params, attempt, and the stage as this agent."""

    def __init__(self, offer: JobOffer, agent: Agent) -> None:
        self.job_id = offer.job_id
        self.kind = offer.kind
        self.params = offer.params
        self.attempt = offer.attempt
        self.cancelled = threading.Event()
        self._agent = agent
        self._stage: StageClient | None = None

    @property
    def stage(self) -> StageClient:
        """A client whose commands are attributed to the agent (its session is the agent's name).

        Use it only from the handler's thread; it is closed when the handler returns.
        """
        if self._stage is None:
            self._stage = StageClient(
                self._agent.endpoint,
                session=self._agent.name,
                curve=self._agent.curve,
                context=self._agent.context,
            )
        return self._stage

    def frames(self, request: FrameRequest) -> FrameData:
        """RGB + depth of a camera, rendered in this process (``renderers.render_stage_frames``)."""
        from renderers import render_stage_frames

        return render_stage_frames(self.stage, request)

    def close(self) -> None:
        if self._stage is not None:
            self._stage.close()


Handler = Callable[[JobContext, Callable[[float, str], None]], dict[str, Any]]


class Agent:
    """An agent process's connection to one stage."""

    def __init__(
        self,
        name: str,
        kinds: tuple[str, ...],
        handler: Handler,
        *,
        endpoint: str,
        curve: CurveKeys | None = None,
        device: Device = "cpu",
        gpu: str | None = None,
        memory_mb: int | None = None,
        max_jobs: int = 1,
        context: zmq.Context | None = None,
    ) -> None:
        self.registration = RegisterAgent(
            name=name, kinds=tuple(kinds), device=device, gpu=gpu, memory_mb=memory_mb, max_jobs=max_jobs
        )
        self.name = name
        self.handler = handler
        self.endpoint = endpoint
        self.curve = curve
        self.context = context or zmq.Context.instance()
        self.heartbeat_interval = 1.0
        self._jobs: dict[str, JobContext] = {}
        self._registered = trio.Event()
        self._main: _MainThread | None = None

    def run(self, on_registered: Callable[[AgentRegistered], None] | None = None) -> None:
        """Serve until interrupted. Handlers run on this (the calling, main) thread, one at a time,
        because bpy — renders, importers, exporters — works only there; the connection, heartbeats
        and progress reports run on a thread of their own, so a long job never silences the agent."""
        main = self._main = _MainThread()
        failure: list[BaseException] = []

        def connection() -> None:
            try:
                trio.run(self.serve, on_registered)
            except BaseException as exc:  # re-raised on the main thread below
                failure.append(exc)
            finally:
                main.stop()

        thread = threading.Thread(target=connection, name="stagecraft-agent-io", daemon=True)
        thread.start()
        main.serve()
        thread.join()
        if failure:
            raise failure[0]

    async def serve(self, on_registered: Callable[[AgentRegistered], None] | None = None) -> None:
        client = open_stage_client(
            self.endpoint,
            session=self.name,
            context=self.context,
            curve=self.curve,
            on_message=self._unsolicited,
        )
        async with client as self._client, trio.open_nursery() as nursery:
            self._nursery = nursery
            registered = await self._register()
            if on_registered is not None:
                on_registered(registered)
            nursery.start_soon(self._heartbeats)

    # -- requests -----------------------------------------------------------------------------

    async def _request(self, body: Any, timeout: float = REPLY_TIMEOUT) -> Any:
        return await self._client.request(body, timeout)

    async def _register(self) -> AgentRegistered:
        """Register, retrying until the stage answers (it may be restarting)."""
        self._registered = trio.Event()
        while True:
            try:
                registered: AgentRegistered = await self._request(self.registration)
            except StageTimeout:
                logger.info("no answer from %s yet; registering again", self.endpoint)
                continue
            except ProtocolError as exc:
                if exc.code != ErrorCode.CONFLICT:
                    raise
                # our previous connection (before a restart) still holds the name until it falls silent
                logger.info("%s; registering again in %g s", exc.message, self.heartbeat_interval)
                await trio.sleep(self.heartbeat_interval)
                continue
            self.heartbeat_interval = registered.heartbeat_interval
            self._registered.set()
            logger.info("registered as %s", registered.agent)
            return registered

    async def _report(self, body: Any) -> Any:
        """Send a report until the stage answers; register again if it forgot us (a restart).

        Returns the reply, or the ProtocolError the stage answered with.
        """
        while True:
            await self._registered.wait()
            try:
                return await self._request(body)
            except StageTimeout:
                continue
            except ProtocolError as exc:
                if exc.code != ErrorCode.NOT_FOUND or "register_agent" not in exc.message:
                    logger.info("the stage refused %s: %s", body.TYPE, exc)
                    return exc
                if self._registered.is_set():
                    await self._register()

    async def _heartbeats(self) -> None:
        while True:
            await trio.sleep(self.heartbeat_interval)
            self._nursery.start_soon(self._report, Heartbeat(jobs=tuple(sorted(self._jobs))))

    # -- offers and jobs ------------------------------------------------------------------------

    def _unsolicited(self, envelope: Envelope) -> None:
        """A message that answers no request: a job offer, or a cancellation."""
        if isinstance(envelope.body, JobOffer):
            self._offered(envelope.body)
        elif isinstance(envelope.body, CancelJob):
            job = self._jobs.get(envelope.body.job_id)
            if job is not None:
                job.cancelled.set()

    def _offered(self, offer: JobOffer) -> None:
        if offer.job_id in self._jobs:  # offered again after a stage restart: still working on it
            self._nursery.start_soon(self._accept, offer, None)
            return
        job = JobContext(offer, self)
        self._jobs[offer.job_id] = job
        self._nursery.start_soon(self._accept, offer, job)

    async def _accept(self, offer: JobOffer, job: JobContext | None) -> None:
        reply = await self._report(JobAccept(job_id=offer.job_id, attempt=offer.attempt))
        if isinstance(reply, ProtocolError):  # cancelled or given to another agent meanwhile
            if job is not None:
                del self._jobs[offer.job_id]
            return
        if job is not None:
            await self._work(job)

    async def _work(self, job: JobContext) -> None:
        token = trio.lowlevel.current_trio_token()

        def progress(fraction: float, stage: str = "") -> None:
            if job.cancelled.is_set():
                raise JobCancelledError(f"job {job.job_id} was cancelled")
            report = JobProgress(job_id=job.job_id, fraction=min(1.0, max(0.0, float(fraction))), stage=stage)
            trio.from_thread.run_sync(self._nursery.start_soon, self._report, report, trio_token=token)

        try:
            report = await self._on_main_thread(_run_handler, self.handler, job, progress)
            await self._report(report)
        finally:
            del self._jobs[job.job_id]

    async def _on_main_thread(self, function: Callable[..., Any], *args: Any) -> Any:
        """Run ``function`` on the main thread (a worker thread when ``serve`` runs on its own)."""
        if self._main is None:
            return await trio.to_thread.run_sync(function, *args)
        finished = trio.Event()
        results: list[outcome.Outcome] = []

        def done(result: outcome.Outcome) -> None:
            results.append(result)
            finished.set()

        self._main.call(functools.partial(function, *args), trio.lowlevel.current_trio_token(), done)
        await finished.wait()
        return results[0].unwrap()


class _MainThread:
    """Runs calls, in order, on the thread that called ``serve`` (the agent's main thread)."""

    def __init__(self) -> None:
        self._calls: queue.SimpleQueue[Any] = queue.SimpleQueue()

    def call(self, function: Callable[[], Any], token: trio.lowlevel.TrioToken, done) -> None:
        self._calls.put((function, token, done))

    def stop(self) -> None:
        self._calls.put(None)

    def serve(self) -> None:
        while (item := self._calls.get()) is not None:
            function, token, done = item
            result = outcome.capture(function)
            try:
                token.run_sync_soon(done, result)
            except trio.RunFinishedError:
                pass  # the connection is gone; nobody waits for this result


def _run_handler(handler: Handler, job: JobContext, progress: Callable[[float, str], None]) -> Any:
    """Run ``handler`` in this worker thread; its outcome as the report to send."""
    try:
        result = handler(job, progress)
        if job.cancelled.is_set():
            return JobCancelled(job_id=job.job_id)
        if not isinstance(result, dict):
            raise JobError("agent_error", f"the handler returned a {type(result).__name__}, not a dict")
        arrays = {k: v for k, v in result.items() if isinstance(v, np.ndarray)}
        plain = {k: v for k, v in result.items() if k not in arrays}
        return JobResult(job_id=job.job_id, result=plain, arrays=arrays)
    except JobCancelledError:
        return JobCancelled(job_id=job.job_id)
    except JobError as exc:
        return JobFailed(job_id=job.job_id, code=exc.code, message=exc.message)
    except Exception as exc:  # the job's failure, reported to the stage; the agent carries on
        logger.exception("job %s failed", job.job_id)
        return JobFailed(job_id=job.job_id, code="agent_error", message=f"{type(exc).__name__}: {exc}")
    finally:
        job.close()
