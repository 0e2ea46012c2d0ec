"""Hardening figures, each with a baseline measured in the same run.

- fuzz cases/s (hostile requests answered) against valid set_transform round trips/s;
- set_transform round trip (p50, p99, worst) with 10,000 queued jobs against an empty queue;
- batch delete of 10k nodes on the stage thread against 1k (linear: the per-node ratio is ~1);
- recovery of 100k journaled records against 10k (linear: the per-record ratio is ~1), timed by
  ``bench_server.recovery``.

Real server processes on 127.0.0.1; the fuzz cases come from tests/test_fuzz_replay.py.
"""

from __future__ import annotations

import sys
import tempfile
import threading
import time
from pathlib import Path

from protocols import (
    Batch,
    CreateNode,
    DeleteNode,
    MeshSpec,
    RegisterAgent,
    SetTransform,
    SubmitJob,
    new_id,
)

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))  # the test harness
from bench_server import recovery
from harness import StageProcess

FUZZ_CASES = 2000
ROUND_TRIPS = 1000
QUEUED_JOBS = 10_000


def fuzz_rate(stage: StageProcess) -> tuple[float, float]:
    """(hostile cases answered per s, valid set_transform round trips per s)."""
    import test_fuzz_replay
    from hypothesis import HealthCheck, given, settings

    cases: list[list[bytes]] = []

    @settings(max_examples=FUZZ_CASES, deadline=None, suppress_health_check=list(HealthCheck), database=None)
    @given(request=test_fuzz_replay.requests())
    def collect(request: list[bytes]) -> None:
        cases.append(request)

    collect()
    with stage.client(timeout=60) as client:
        test_fuzz_replay._build(client)
        started = time.perf_counter()
        for request in cases:
            client.send_raw(request)
            client.receive_raw()
        fuzz = len(cases) / (time.perf_counter() - started)
        uuid = client.apply(CreateNode(kind="empty", name="Baseline")).nodes[0]
        started = time.perf_counter()
        for i in range(ROUND_TRIPS):
            client.apply(SetTransform(node=uuid, location=(i * 1e-3, 0.0, 0.0)))
        valid = ROUND_TRIPS / (time.perf_counter() - started)
    return fuzz, valid


def timed(client, commands) -> list[float]:
    samples = []
    for command in commands:
        started = time.perf_counter()
        client.request(command)
        samples.append(time.perf_counter() - started)
    return sorted(samples)


def moves(uuid: str):
    return (SetTransform(node=uuid, location=(i * 1e-3, 1.0, 0.0)) for i in range(ROUND_TRIPS))


def with_queued_jobs(stage: StageProcess) -> dict[str, list[float]]:
    """Round trips of submit_job, and of set_transform while another client submits jobs, with an
    empty queue and then with QUEUED_JOBS waiting; an idle agent makes every job message look for
    work (the old full scan of the queue)."""
    figures: dict[str, list[float]] = {}
    with (
        stage.client(timeout=60) as client,
        stage.client(timeout=60) as agent,
        stage.client(timeout=60) as other,
    ):
        agent.request(RegisterAgent(name="idle", kinds=("something-else",), max_jobs=64))
        uuid = client.apply(CreateNode(kind="empty", name="Mover")).nodes[0]
        for label in ("empty", "queued"):
            if label == "queued":
                window = []
                for i in range(QUEUED_JOBS):
                    window.append(client.send(SubmitJob(kind="nobody-takes-this", params={"i": i})))
                    if len(window) >= 256:
                        client.receive(window.pop(0))
                for msg_id in window:
                    client.receive(msg_id)
            figures[f"submit_{label}"] = timed(client, (SubmitJob(kind="later") for _ in range(200)))
            done = threading.Event()

            def submitting(done: threading.Event = done) -> None:
                while not done.is_set():
                    other.request(SubmitJob(kind="later"))

            thread = threading.Thread(target=submitting)
            thread.start()
            try:
                figures[f"move_{label}"] = timed(client, moves(uuid))
            finally:
                done.set()
                thread.join()
    return figures


def batch_delete(stage: StageProcess, count: int) -> float:
    """Seconds for one batch deleting ``count`` nodes (created first, by uuid)."""
    with stage.client(timeout=600) as client:
        creates = [
            CreateNode(
                kind="mesh", name=f"n{count}-{i}", uuid=new_id()[:32].ljust(32, "0"), mesh=MeshSpec("cube")
            )
            for i in range(count)
        ]
        for start in range(0, count, 1000):
            client.apply(Batch(commands=tuple(creates[start : start + 1000])))
        started = time.perf_counter()
        client.apply(Batch(commands=tuple(DeleteNode(node=c.uuid) for c in creates)))
        return time.perf_counter() - started


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="stagecraft-bench-") as scratch:
        root = Path(scratch)
        stage = StageProcess(root / "live", "--empty").start()
        try:
            fuzz, valid = fuzz_rate(stage)
            jobs = with_queued_jobs(stage)
            delete_1k = batch_delete(stage, 1000)
            delete_10k = batch_delete(stage, 10_000)
        finally:
            stage.kill()
        recover_10k = recovery(root / "r10k", 10_000)
        recover_100k = recovery(root / "r100k", 100_000)
    loaded, empty = jobs["move_queued"], jobs["move_empty"]
    p50, p99 = loaded[len(loaded) // 2], loaded[int(len(loaded) * 0.99)]
    submit_queued, submit_empty = jobs["submit_queued"], jobs["submit_empty"]
    print(f"fuzz_cases_per_s: {fuzz:.0f} cases/s")
    print(f"valid_set_transform_per_s: {valid:.0f} commands/s")
    print(f"fuzz_vs_valid: {fuzz / valid:.2f} x")
    print(f"set_transform_p50_10k_queued_jobs: {p50 * 1e3:.3f} ms")
    print(f"set_transform_p99_10k_queued_jobs: {p99 * 1e3:.3f} ms")
    print(f"set_transform_worst_10k_queued_jobs: {loaded[-1] * 1e3:.3f} ms")
    print(f"set_transform_worst_empty_queue: {empty[-1] * 1e3:.3f} ms")
    print(f"worst_round_trip_queued_vs_empty: {loaded[-1] / empty[-1]:.2f} x")
    print(f"submit_job_p50_10k_queued_jobs: {submit_queued[100] * 1e3:.3f} ms")
    print(f"submit_job_p50_empty_queue: {submit_empty[100] * 1e3:.3f} ms")
    print(f"submit_job_queued_vs_empty: {submit_queued[100] / submit_empty[100]:.2f} x")
    print(f"batch_delete_1k_nodes: {delete_1k:.3f} s")
    print(f"batch_delete_10k_nodes: {delete_10k:.3f} s")
    print(f"batch_delete_per_node_10k_vs_1k: {(delete_10k / 10_000) / (delete_1k / 1000):.2f} x")
    print(f"recovery_10k_records: {recover_10k:.2f} s")
    print(f"recovery_100k_records: {recover_100k:.2f} s")
    print(f"recovery_per_record_100k_vs_10k: {(recover_100k / 100_000) / (recover_10k / 10_000):.2f} x")


if __name__ == "__main__":
    main()
