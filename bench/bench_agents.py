"""Job-queue figures: echo jobs per second end to end with two agents, and re-queue latency.

Runs a real stage server and real ``stagecraft agent echo`` processes on 127.0.0.1.
Re-queue latency is the time from SIGKILL of an agent to its job running on another agent,
minus the configured heartbeat timeout (the server checks every timeout / 4).
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from pathlib import Path

from protocols import CancelJob, GetJob, ListJobs, SubmitJob

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))  # the test harness
from harness import AgentProcess, StageProcess

JOBS = 400
HEARTBEAT_TIMEOUT = 1.0
REQUEUE_TRIALS = 3
POLL = 0.002


def _wait(predicate, timeout: float = 60.0) -> float:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError("the stage did not get there in time")
        time.sleep(POLL)
    return time.monotonic()


def throughput(stage: StageProcess) -> float:
    agents = [AgentProcess("echo", f"echo-{i}", stage.commands) for i in range(2)]
    try:
        with stage.client() as client:
            started = time.monotonic()
            ids = [
                client.request(SubmitJob(kind="echo", params={"steps": 1, "i": i})).job_id
                for i in range(JOBS)
            ]
            finished = _wait(
                lambda: len(client.request(ListJobs(state="succeeded", limit=10_000)).jobs) >= JOBS
            )
            assert client.request(GetJob(job_id=ids[-1])).state == "succeeded"
        return JOBS / (finished - started)
    finally:
        for agent in agents:
            agent.kill()


def requeue_latency(stage: StageProcess, trial: int) -> float:
    first = AgentProcess("echo", f"first-{trial}", stage.commands)
    second = None
    try:
        with stage.client() as client:
            job_id = client.request(SubmitJob(kind="echo", params={"steps": 10_000, "delay": 0.01})).job_id
            _wait(lambda: client.request(GetJob(job_id=job_id)).fraction > 0)
            second = AgentProcess("echo", f"second-{trial}", stage.commands)
            first.kill()
            killed = time.monotonic()

            def moved() -> bool:
                job = client.request(GetJob(job_id=job_id))
                return job.state == "running" and job.agent == f"second-{trial}"

            latency = _wait(moved) - killed - HEARTBEAT_TIMEOUT
            client.request(CancelJob(job_id=job_id))
            return latency
    finally:
        first.kill()
        if second is not None:
            second.kill()


def main() -> None:
    with tempfile.TemporaryDirectory() as scratch:
        stage = StageProcess(
            Path(scratch) / "stage", "--empty", "--heartbeat-timeout", str(HEARTBEAT_TIMEOUT)
        ).start()
        try:
            rate = throughput(stage)
            latencies = [requeue_latency(stage, trial) for trial in range(REQUEUE_TRIALS)]
        finally:
            stage.stop()
    print(f"echo_jobs_per_s_2_agents: {rate:.0f} jobs/s")
    print(f"requeue_latency_after_timeout_median: {statistics.median(latencies) * 1000:.0f} ms")
    print(f"requeue_latency_after_timeout_max: {max(latencies) * 1000:.0f} ms")
    print(f"heartbeat_timeout: {HEARTBEAT_TIMEOUT * 1000:.0f} ms")


if __name__ == "__main__":
    main()
