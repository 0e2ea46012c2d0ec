"""Agents and jobs with real processes: a stage server, ``stagecraft agent echo`` agents, clients."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import zmq
from harness import ROOT, AgentProcess

import protocols as p
from engine_server import check_listen_host

HEARTBEAT_TIMEOUT = "1.0"


class JobEvents:
    """A subscriber to the stage's job events, live once ``__init__`` returns."""

    def __init__(self, client: p.StageClient) -> None:
        self.client = client
        self.socket = zmq.Context.instance().socket(zmq.SUB)
        self.socket.setsockopt(zmq.LINGER, 0)
        self.socket.setsockopt(zmq.SUBSCRIBE, p.JOB_TOPIC)
        self.socket.connect(client.hello().event_endpoint)
        while True:  # a subscription is live once a job event reaches it
            probe = client.request(p.SubmitJob(kind="probe")).job_id
            client.request(p.CancelJob(job_id=probe))
            if self.socket.poll(200, zmq.POLLIN):
                self.socket.recv_multipart()
                break
        while self.socket.poll(50, zmq.POLLIN):
            self.socket.recv_multipart()

    def next(self, timeout: float = 20.0) -> p.JobEvent:
        if not self.socket.poll(timeout * 1000, zmq.POLLIN):
            raise TimeoutError("no job event")
        parts = self.socket.recv_multipart()
        assert parts[0] == p.JOB_TOPIC
        return p.decode(parts[1:]).body

    def until(self, job_id: str, done, timeout: float = 30.0) -> list[p.JobEvent]:
        """The job's events up to and including the first for which ``done(event)`` holds."""
        seen, deadline = [], time.monotonic() + timeout
        while True:
            event = self.next(max(0.0, deadline - time.monotonic()))
            if event.job_id == job_id:
                seen.append(event)
                if done(event):
                    return seen

    def close(self) -> None:
        self.socket.close(linger=0)


@pytest.fixture
def stage(stage_factory):
    return stage_factory("--empty", "--heartbeat-timeout", HEARTBEAT_TIMEOUT)


@pytest.fixture
def agents():
    started: list[AgentProcess] = []

    def start(name: str, endpoint: str, *args: str) -> AgentProcess:
        started.append(AgentProcess("echo", name, endpoint, *args))
        return started[-1]

    yield start
    for agent in started:
        agent.kill()


@pytest.fixture
def client(stage):
    with stage.client(timeout=10) as client:
        yield client


@pytest.fixture
def job_events(client):
    events = JobEvents(client)
    yield events
    events.close()


def _final(event: p.JobEvent) -> bool:
    return event.state in ("succeeded", "failed", "cancelled")


def test_an_agent_takes_a_job_reports_progress_and_returns_its_result(stage, agents, client, job_events):
    agents("echo-1", stage.commands)
    params = {"steps": 4, "text": "hi", "nested": {"list": [1, 2.5, None, True]}}
    job_id = client.request(p.SubmitJob(kind="echo", params=params)).job_id
    events = job_events.until(job_id, _final)
    assert [e.n for e in events] == sorted(e.n for e in events)
    assert events[0].state == "queued"
    assert events[-1].state == "succeeded"
    running = [e for e in events if e.state == "running"]
    assert [e.fraction for e in running] == [0.0, 0.25, 0.5, 0.75, 1.0]
    assert running[-1].stage == "step 4/4" and running[-1].agent == "echo-1"
    job = client.request(p.GetJob(job_id=job_id))
    assert job.result == {"params": params, "attempt": 1}
    assert (job.state, job.fraction, job.agent) == ("succeeded", 1.0, "echo-1")


def test_a_failing_job_reports_its_code(stage, agents, client, job_events):
    agents("echo-1", stage.commands)
    job_id = client.request(p.SubmitJob(kind="echo", params={"steps": 1, "fail": "on purpose"})).job_id
    last = job_events.until(job_id, _final)[-1]
    assert (last.state, last.error_code, last.error_message) == ("failed", "echo_failed", "on purpose")


def test_a_killed_agents_job_is_requeued_and_finished_by_another(stage, agents, client, job_events):
    first = agents("echo-a", stage.commands)
    job_id = client.request(p.SubmitJob(kind="echo", params={"steps": 20, "delay": 0.1})).job_id
    job_events.until(job_id, lambda e: e.fraction > 0 and e.agent == "echo-a")
    first.kill()  # at once, mid-job: starting another agent first could outlast the job
    killed = time.monotonic()
    agents("echo-b", stage.commands)
    events = job_events.until(job_id, _final)
    requeued = next(e for e in events if e.state == "queued")
    assert requeued.attempt == 1 and "echo-a missed its heartbeats" in requeued.stage
    assert events[-1].state == "succeeded" and events[-1].agent == "echo-b" and events[-1].attempt == 2
    assert time.monotonic() - killed >= float(HEARTBEAT_TIMEOUT)
    assert client.request(p.GetJob(job_id=job_id)).result["attempt"] == 2


def test_a_restarted_stage_loses_no_queued_job(stage_factory, stage, agents, tmp_path):
    with stage.client(timeout=10) as client:
        submitted = [client.request(p.SubmitJob(kind="echo", params={"i": i})).job_id for i in range(5)]
    stage.kill()
    again = stage_factory("--empty", "--heartbeat-timeout", HEARTBEAT_TIMEOUT, data_dir=tmp_path / "stage")
    with again.client(timeout=10) as client:
        queued = client.request(p.ListJobs(state="queued")).jobs
        assert {job.job_id for job in queued} == set(submitted)
        events = JobEvents(client)
        try:
            agents("echo-1", again.commands)
            done = set()
            while done != set(submitted):
                event = events.next()
                if event.job_id in submitted and event.state == "succeeded":
                    done.add(event.job_id)
        finally:
            events.close()
        for job_id in submitted:
            job = client.request(p.GetJob(job_id=job_id))
            assert job.state == "succeeded" and job.result["params"]["i"] == submitted.index(job_id)


def test_a_malformed_agent_message_gets_an_error_and_other_agents_carry_on(stage, agents, client, job_events):
    agents("echo-1", stage.commands)
    with stage.client(timeout=10) as rogue:
        with pytest.raises(p.NotFound, match="register_agent"):
            rogue.request(p.Heartbeat())
        rogue.request(p.RegisterAgent(name="rogue", kinds=("other",)))
        rogue.send_raw([b"\xc1 not msgpack"])
        assert rogue.receive_raw().body.code == p.ErrorCode.BAD_MESSAGE
        bad = p.encode(p.Envelope(body=p.JobProgress(job_id="0" * 32, fraction=0.5)))
        header = bad[0].replace(b"\xcb?\xe0\x00\x00\x00\x00\x00\x00", b"\xcb@\x00\x00\x00\x00\x00\x00\x00")
        rogue.send_raw([header])
        error = rogue.receive_raw().body
        assert (error.code, error.field) == (p.ErrorCode.INVALID_ARGUMENT, "fraction")
        with pytest.raises(p.NotFound):
            rogue.request(p.JobResult(job_id="0" * 32, result={}))
        job_id = client.request(p.SubmitJob(kind="echo", params={"steps": 2})).job_id
        assert job_events.until(job_id, _final)[-1].state == "succeeded"


def test_cancel_stops_a_running_job_and_frees_its_agent(stage, agents, client, job_events):
    agents("echo-1", stage.commands)
    slow = client.request(p.SubmitJob(kind="echo", params={"steps": 200, "delay": 0.05})).job_id
    job_events.until(slow, lambda e: e.fraction > 0)
    assert client.request(p.CancelJob(job_id=slow)).state == "cancelled"
    quick = client.request(p.SubmitJob(kind="echo", params={"steps": 1})).job_id
    assert job_events.until(quick, _final)[-1].state == "succeeded"
    job = client.request(p.GetJob(job_id=slow))
    assert job.state == "cancelled" and job.fraction < 1.0
    with pytest.raises(p.NotFound):
        client.request(p.GetJob(job_id="f" * 32))


def test_a_duplicate_result_is_acknowledged_and_ignored(stage, client, job_events):
    with stage.client(timeout=10) as agent:
        agent.request(p.RegisterAgent(name="manual", kinds=("manual",)))
        job_id = client.request(p.SubmitJob(kind="manual")).job_id
        offer = agent.receive_raw().body
        assert isinstance(offer, p.JobOffer) and offer.job_id == job_id and offer.attempt == 1
        agent.request(p.JobAccept(job_id=job_id, attempt=1))
        assert agent.request(p.JobResult(job_id=job_id, result={"x": 1})).job_id == job_id
        assert agent.request(p.JobResult(job_id=job_id, result={"x": 2})).job_id == job_id
        assert agent.request(p.JobFailed(job_id=job_id, code="late", message="ignored")).job_id == job_id
    assert client.request(p.GetJob(job_id=job_id)).result == {"x": 1}


def test_curve_refuses_an_unauthenticated_client(stage_factory, agents, tmp_path: Path):
    keys = tmp_path / "keys"
    subprocess.run(
        [sys.executable, "-m", "stagecraft_cli", "keys", "generate", str(keys), "--client", "alice"],
        cwd=ROOT,
        check=True,
        capture_output=True,
    )
    stage = stage_factory("--empty", "--curve-dir", str(keys))
    with stage.client(timeout=1.5) as stranger, pytest.raises(TimeoutError):
        stranger.hello()
    with stage.client(timeout=10, curve=p.CurveKeys.from_dir(keys, "alice")) as alice:
        assert alice.hello().stage == "empty"
        agents("echo-1", stage.commands, "--curve-dir", str(keys), "--curve-client", "alice")
        job_id = alice.request(p.SubmitJob(kind="echo", params={"steps": 1})).job_id
        for update in _follow(alice, job_id):
            last = update
        assert last.state == "succeeded"


def _follow(client, job_id):
    return client.follow_job(job_id, poll=0.2)


def test_a_remote_host_needs_curve_or_an_explicit_opt_out():
    with pytest.raises(p.StagecraftError, match="--curve-dir"):
        check_listen_host("0.0.0.0", allow_remote=False)
    check_listen_host("0.0.0.0", allow_remote=False, authenticated=True)
    check_listen_host("0.0.0.0", allow_remote=True)
    check_listen_host("127.0.0.1", allow_remote=False)


def test_an_agent_renders_frames_of_the_stage_in_its_own_process(stage_factory, agents, tmp_path):
    """A frame request: RGB and depth of a stage camera, rendered by the agent, back as raw arrays."""
    stage = stage_factory(data_dir=tmp_path / "film-set")  # the bundled default stage
    agents("echo-frames", stage.commands)
    with stage.client(timeout=30) as client:
        events = JobEvents(client)
        try:
            frame = {"camera": "CamA", "width": 64, "height": 36}
            job_id = client.request(p.SubmitJob(kind="echo", params={"steps": 1, "frame": frame})).job_id
            assert events.until(job_id, _final, timeout=120)[-1].state == "succeeded"
        finally:
            events.close()
        job = client.request(p.GetJob(job_id=job_id))
    rgb, depth = job.arrays["rgb"], job.arrays["depth"]
    assert rgb.shape == (36, 64, 3) and rgb.dtype == np.uint8 and rgb.std() > 5, "a real picture"
    assert depth.shape == (36, 64) and np.isfinite(depth).mean() > 0.5, "the set fills most of it"
    assert 1.0 < np.nanmin(np.where(np.isfinite(depth), depth, np.nan)) < 20.0


def test_a_live_agents_name_cannot_be_taken_by_another_connection(stage, client):
    with stage.client(timeout=10) as owner, stage.client(timeout=10) as thief:
        owner.request(p.RegisterAgent(name="owner", kinds=("owned",)))
        owner.request(p.Heartbeat())  # alive just now
        with pytest.raises(p.Conflict, match="belongs to another connection that is still alive"):
            thief.request(p.RegisterAgent(name="owner", kinds=("owned",)))
        job_id = client.request(p.SubmitJob(kind="owned")).job_id
        offer = owner.receive_raw().body
        assert isinstance(offer, p.JobOffer) and offer.job_id == job_id  # the jobs still go to the owner
        owner.request(p.JobAccept(job_id=job_id, attempt=1))
        owner.request(p.JobResult(job_id=job_id, result={"ok": True}))
    assert client.request(p.GetJob(job_id=job_id)).result == {"ok": True}


def test_an_oversized_result_fails_the_job_with_a_clear_error(stage, client):
    with stage.client(timeout=30) as agent:
        agent.request(p.RegisterAgent(name="big", kinds=("big",)))
        job_id = client.request(p.SubmitJob(kind="big")).job_id
        assert agent.receive_raw().body.job_id == job_id
        agent.request(p.JobAccept(job_id=job_id, attempt=1))
        huge = {"pixels": np.zeros((17 << 20,), dtype=np.uint8)}
        with pytest.raises(p.TooLarge, match="put big outputs in the asset store"):
            agent.request(p.JobResult(job_id=job_id, arrays=huge))
    job = client.request(p.GetJob(job_id=job_id))
    assert (job.state, job.error_code) == ("failed", "too_large")


def test_a_job_past_its_deadline_fails_and_its_agent_is_told_to_stop(stage, client, job_events):
    with stage.client(timeout=30) as agent:
        agent.request(p.RegisterAgent(name="late", kinds=("late",)))
        job_id = client.request(p.SubmitJob(kind="late", deadline_s=0.5)).job_id
        assert agent.receive_raw().body.job_id == job_id
        agent.request(p.JobAccept(job_id=job_id, attempt=1))
        assert job_events.until(job_id, _final)[-1].state == "failed"
        cancel = agent.receive_raw().body
        assert isinstance(cancel, p.CancelJob) and cancel.job_id == job_id
    job = client.request(p.GetJob(job_id=job_id))
    assert job.error_code == "deadline" and job.deadline is not None
