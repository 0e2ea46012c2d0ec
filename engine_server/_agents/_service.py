"""The job service: agent and job requests, offers, heartbeats, re-queueing, job events.

It runs on the stage's trio thread (started by the StageServer, beside its request loop), so it
never waits on the bpy thread and the bpy thread never waits on it. Agents' messages arrive on
the command endpoint; offers and cancels go back to the agent's ROUTER identity unsolicited.
"""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import trio

from protocols import (
    AGENT_MESSAGES,
    FINAL_STATES,
    JOB_REQUESTS,
    JOB_TOPIC,
    AgentAck,
    AgentRegistered,
    CancelJob,
    Conflict,
    Envelope,
    GetJob,
    Heartbeat,
    Job,
    JobAccept,
    JobCancelled,
    JobEvent,
    JobFailed,
    JobOffer,
    JobProgress,
    JobResult,
    Jobs,
    JobSubmitted,
    ListJobs,
    NotFound,
    RegisterAgent,
    SubmitJob,
    TooLarge,
    encode,
)

from ._registry import AgentRecord, AgentRegistry
from ._store import JobStore

if TYPE_CHECKING:
    from .._server import Request, StageServer

logger = logging.getLogger("stagecraft.jobs")

DEFAULT_HEARTBEAT_TIMEOUT = 10.0
MAX_RESULT_BYTES = 16 << 20  # a job's result and arrays; bigger outputs go to the asset store


def check_result_size(result: JobResult) -> None:
    """Refuse a result too big to keep in the queue (it would hold up every other reply)."""
    size = len(json.dumps(result.result)) + sum(a.nbytes for a in result.arrays.values())
    if size > MAX_RESULT_BYTES:
        raise TooLarge(
            f"job result is {size} bytes; the limit is {MAX_RESULT_BYTES}: put big outputs in the "
            "asset store (put_asset) and return their sha256"
        )


class JobService:
    """The durable queue and the registry behind the agent messages; one per stage."""

    handles = (*AGENT_MESSAGES, *JOB_REQUESTS)

    def __init__(self, path: Path, *, heartbeat_timeout: float = DEFAULT_HEARTBEAT_TIMEOUT) -> None:
        if heartbeat_timeout <= 0:
            raise ValueError("heartbeat_timeout must be positive")
        self.heartbeat_timeout = heartbeat_timeout
        self.store = JobStore(path)
        self.agents = AgentRegistry()
        self._events = 0
        self._server: StageServer | None = None
        if self.store.requeued_at_start:
            logger.info(
                "%d jobs left running by the last stage are queued again", self.store.requeued_at_start
            )

    def _running_server(self) -> StageServer:
        if self._server is None:
            raise RuntimeError("the job service is not running")
        return self._server

    async def run(self, server: StageServer, *, task_status=trio.TASK_STATUS_IGNORED) -> None:
        """Take the agent and job messages from ``server``; drop agents that stop heartbeating."""
        self._server = server
        server.route(self.handles, self.receive)
        task_status.started()
        try:
            while True:
                await trio.sleep(self.heartbeat_timeout / 4)
                self._expire()  # first: a job past its deadline fails even if its agent went silent too
                for agent in self.agents.silent_since(trio.current_time() - self.heartbeat_timeout):
                    self._drop(agent, f"agent {agent.name} missed its heartbeats")
                self._dispatch()
        finally:
            self.store.close()

    def receive(self, request: Request) -> None:
        """Answer one request (on the trio thread)."""
        try:
            reply = self._handle(request)
        except Exception as exc:  # becomes an error reply; the service carries on
            self._running_server().reply_error(request, exc)
        else:
            self._running_server().reply(request, reply)
        self._dispatch()

    def _handle(self, request: Request) -> Any:
        body = request.envelope.body
        if isinstance(body, SubmitJob):
            job = self.store.submit(body.kind, body.params, body.max_attempts, body.deadline_s)
            self._publish(job)
            return JobSubmitted(job_id=job.job_id)
        if isinstance(body, ListJobs):
            return Jobs(jobs=self.store.list(body.state, body.limit))
        if isinstance(body, GetJob):
            return self.store.get(body.job_id, full=True)
        if isinstance(body, CancelJob):
            return self._cancel(body.job_id)
        if isinstance(body, RegisterAgent):
            return self._register(request, body)
        agent = self.agents.by_identity(request.identity)
        if agent is None:
            raise NotFound("this connection is not a registered agent; send register_agent first")
        agent.last_seen = trio.current_time()
        if isinstance(body, Heartbeat):
            return AgentAck()
        job = self.store.get(body.job_id)
        if isinstance(body, JobAccept):
            if job.state != "running" or job.agent != agent.name or job.attempt != body.attempt:
                agent.jobs.discard(job.job_id)
                raise Conflict(f"job {job.job_id} is {job.state} and no longer yours; drop it")
        elif isinstance(body, JobProgress):
            if job.state == "running" and job.agent == agent.name:
                self._publish(self.store.progress(job.job_id, body.fraction, body.stage))
        elif isinstance(body, JobResult | JobFailed):
            agent.jobs.discard(job.job_id)
            if isinstance(body, JobResult):
                try:
                    check_result_size(body)
                except TooLarge as exc:  # the job fails; the submitter learns why
                    if job.state not in FINAL_STATES:
                        self._publish(
                            self.store.finish(job.job_id, "failed", error=("too_large", exc.message))
                        )
                    raise
            if job.state not in FINAL_STATES:  # the first report decides; duplicates are ignored
                if isinstance(body, JobResult):
                    done = self.store.finish(job.job_id, "succeeded", result=body.result, arrays=body.arrays)
                else:
                    done = self.store.finish(job.job_id, "failed", error=(body.code, body.message))
                self._publish(done)
                if job.agent is not None and job.agent != agent.name:  # re-delivered meanwhile
                    self._tell_cancel(job.agent, job.job_id)
        elif isinstance(body, JobCancelled):
            agent.jobs.discard(job.job_id)
        return AgentAck(job_id=job.job_id)

    def _register(self, request: Request, body: RegisterAgent) -> AgentRegistered:
        holder = self.agents.by_name(body.name)
        live_since = trio.current_time() - self.heartbeat_timeout
        if holder is not None and holder.identity != request.identity and holder.last_seen >= live_since:
            raise Conflict(
                f"agent name {body.name!r} belongs to another connection that is still alive; it is "
                f"freed {self.heartbeat_timeout:g} s after that agent falls silent",
                field="name",
            )
        record = AgentRecord(
            name=body.name,
            identity=request.identity,
            delimiter=request.delimiter,
            kinds=frozenset(body.kinds),
            max_jobs=body.max_jobs,
            last_seen=trio.current_time(),
        )
        for old in self.agents.add(record):
            if old.identity == record.identity and old.name == record.name:
                record.jobs = old.jobs  # the same connection registering again keeps its jobs
            else:
                self._requeue(old, f"agent {old.name} registered again")
        logger.info("agent %s registered for %s", body.name, ", ".join(body.kinds))
        return AgentRegistered(agent=body.name, heartbeat_interval=self.heartbeat_timeout / 4)

    def _expire(self) -> None:
        """Fail the jobs past their deadline; their agents are told to stop."""
        for job in self.store.overdue(time.time()):
            failed = self.store.finish(
                job.job_id,
                "failed",
                error=("deadline", f"the job did not finish by its deadline ({job.state})"),
            )
            self._publish(failed)
            if job.state == "running" and job.agent is not None:
                self._tell_cancel(job.agent, job.job_id)

    def _cancel(self, job_id: str) -> Job:
        job = self.store.get(job_id)
        if job.state in FINAL_STATES:
            return self.store.get(job_id, full=True)
        cancelled = self.store.finish(job_id, "cancelled")
        self._publish(cancelled)
        if job.state == "running" and job.agent is not None:
            self._tell_cancel(job.agent, job_id)
        return cancelled

    def _tell_cancel(self, name: str, job_id: str) -> None:
        agent = self.agents.by_name(name)
        if agent is not None and job_id in agent.jobs:
            self._send(agent, CancelJob(job_id=job_id))

    def _drop(self, agent: AgentRecord, reason: str) -> None:
        logger.info("%s; its %d jobs go back to the queue", reason, len(agent.jobs))
        self.agents.remove(agent)
        self._requeue(agent, reason)

    def _requeue(self, agent: AgentRecord, reason: str) -> None:
        for job_id in sorted(agent.jobs):
            job = self.store.get(job_id)
            if job.state == "running" and job.agent == agent.name:
                self._publish(self.store.requeue(job_id, reason))
        agent.jobs.clear()

    def _dispatch(self) -> None:
        """Offer queued jobs, oldest first, to agents with room for them (one indexed look-up each)."""
        while True:
            job = self.store.next_queued(self.agents.kinds_with_room())
            if job is None:
                return
            agent = self.agents.free_for(job.kind)
            if agent is None:  # cannot happen: kinds_with_room named its kind
                return
            started = self.store.start(job.job_id, agent.name)
            agent.jobs.add(job.job_id)
            self._send(
                agent, JobOffer(job_id=job.job_id, kind=job.kind, params=job.params, attempt=started.attempt)
            )
            self._publish(started)

    def _send(self, agent: AgentRecord, body: Any) -> None:
        self._running_server().send_to(
            agent.identity, agent.delimiter, encode(Envelope(body=body, session=agent.name))
        )

    def _publish(self, job: Job) -> None:
        self._events += 1
        event = JobEvent(
            n=self._events,
            job_id=job.job_id,
            kind=job.kind,
            state=job.state,
            attempt=job.attempt,
            fraction=job.fraction,
            stage=job.stage,
            agent=job.agent,
            error_code=job.error_code,
            error_message=job.error_message,
        )
        self._running_server().publish(JOB_TOPIC, encode(Envelope(body=event, session="stage")))
