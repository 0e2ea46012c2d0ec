"""Stage server figures: command round trip, durable throughput, event fan-out, recovery time.

Runs real server processes on 127.0.0.1 (journal on, fdatasync per group commit).
"""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

import zmq

from engine_server import Journal, event_payload
from protocols import CreateNode, Envelope, Event, EventResult, MeshSpec, SetTransform, encode, new_id

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))  # the test harness
from harness import StageProcess

ROUND_TRIPS = 2000
THROUGHPUT_COMMANDS = 20_000
WINDOW = 256
FANOUT_SUBSCRIBERS = 8
FANOUT_COMMANDS = 5000
RECOVERY_ENTRIES = 100_000


def _crate(client) -> str:
    return client.apply(CreateNode(kind="mesh", name="Crate", mesh=MeshSpec(primitive="cube"))).nodes[0]


def round_trip(stage: StageProcess) -> tuple[float, float]:
    with stage.client() as client:
        uuid = _crate(client)
        samples = []
        for i in range(ROUND_TRIPS):
            started = time.perf_counter()
            client.apply(SetTransform(node=uuid, location=(i * 1e-3, 0.0, 0.0)))
            samples.append(time.perf_counter() - started)
    samples.sort()
    return samples[len(samples) // 2] * 1e3, samples[int(len(samples) * 0.99)] * 1e3


def throughput(stage: StageProcess) -> float:
    with stage.client() as client:
        uuid = client.node("Crate").uuid
        window: list[str] = []
        started = time.perf_counter()
        for i in range(THROUGHPUT_COMMANDS):
            window.append(client.send(SetTransform(node=uuid, location=(0.0, i * 1e-3, 0.0))))
            if len(window) >= WINDOW:
                client.receive(window.pop(0))
        for msg_id in window:
            client.receive(msg_id)
        return THROUGHPUT_COMMANDS / (time.perf_counter() - started)


def fan_out(stage: StageProcess) -> tuple[float, float]:
    """Events/s delivered to all subscribers together, and p50 command-sent-to-event-received."""
    with stage.client() as client:
        uuid = client.node("Crate").uuid
        streams = [client.subscribe() for _ in range(FANOUT_SUBSCRIBERS)]
        start = client.hello().seq
        for stream in streams:
            stream.start_after(start)
        received: list[list[tuple[int, float]]] = [[] for _ in streams]

        def follow(stream, log: list[tuple[int, float]]) -> None:
            for _ in range(FANOUT_COMMANDS):
                event = stream.next(timeout=60)
                log.append((event.seq, time.perf_counter()))

        threads = [threading.Thread(target=follow, args=pair) for pair in zip(streams, received, strict=True)]
        for thread in threads:
            thread.start()
        sent_at: dict[int, float] = {}
        started = time.perf_counter()
        window: list[tuple[str, float]] = []
        for i in range(FANOUT_COMMANDS):
            msg_id = client.send(SetTransform(node=uuid, location=(0.0, 0.0, i * 1e-3)))
            window.append((msg_id, time.perf_counter()))
            if len(window) >= 32:
                first, when = window.pop(0)
                sent_at[client.receive(first).seq] = when
        for msg_id, when in window:
            sent_at[client.receive(msg_id).seq] = when
        for thread in threads:
            thread.join()
        elapsed = time.perf_counter() - started
        for stream in streams:
            stream.close()
    latencies = [arrived - sent_at[seq] for log in received for seq, arrived in log]
    return FANOUT_SUBSCRIBERS * FANOUT_COMMANDS / elapsed, statistics.median(latencies) * 1e3


def raw_round_trip() -> float:
    """p50 ms of a bare DEALER -> ROUTER echo on loopback (another thread), the transport's floor."""
    context = zmq.Context.instance()
    router = context.socket(zmq.ROUTER)
    port = router.bind_to_random_port("tcp://127.0.0.1")

    def echo() -> None:
        for _ in range(ROUND_TRIPS):
            router.send_multipart(router.recv_multipart())

    thread = threading.Thread(target=echo)
    thread.start()
    dealer = context.socket(zmq.DEALER)
    dealer.connect(f"tcp://127.0.0.1:{port}")
    samples = []
    for _ in range(ROUND_TRIPS):
        started = time.perf_counter()
        dealer.send_multipart([b"x" * 200])
        dealer.recv_multipart()
        samples.append(time.perf_counter() - started)
    thread.join()
    dealer.close(linger=0)
    router.close(linger=0)
    return statistics.median(samples) * 1e3


def raw_fdatasync(directory: Path) -> float:
    """p50 ms of appending 200 bytes and fdatasync-ing them, the journal's floor."""
    fd = os.open(directory / "sync.bin", os.O_WRONLY | os.O_CREAT | os.O_APPEND)
    samples = []
    try:
        for _ in range(500):
            started = time.perf_counter()
            os.write(fd, b"x" * 200)
            os.fdatasync(fd)
            samples.append(time.perf_counter() - started)
    finally:
        os.close(fd)
    return statistics.median(samples) * 1e3


def recovery(directory: Path, entries: int = RECOVERY_ENTRIES) -> float:
    """Seconds from process start to serving, with ``entries`` journaled commands."""
    journal = Journal(directory / "journal")
    list(journal.recover(0))
    create = CreateNode(kind="mesh", name="Crate", uuid=new_id(), mesh=MeshSpec(primitive="cube"))
    for seq in range(1, entries + 1):
        command = create if seq == 1 else SetTransform(node=create.uuid, location=(seq * 1e-4, 0.0, 0.0))
        event = Event(seq=seq, command=command, result=EventResult())
        journal.append(seq, event_payload(encode(Envelope(body=event))))
        if seq % 10_000 == 0:
            journal.commit()
    journal.commit()
    journal.close()
    started = time.perf_counter()
    stage = StageProcess(directory, "--empty").start()
    elapsed = time.perf_counter() - started
    with stage.client() as client:
        if client.hello().seq != entries:
            raise RuntimeError("recovery did not replay the whole journal")
    stage.kill()
    return elapsed


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="stagecraft-bench-") as scratch:
        stage = StageProcess(Path(scratch) / "live", "--empty").start()
        try:
            p50, p99 = round_trip(stage)
            rate = throughput(stage)
            events_rate, event_latency = fan_out(stage)
        finally:
            stage.kill()
        recovery_s = recovery(Path(scratch) / "recovery")
        transport = raw_round_trip()
        sync = raw_fdatasync(Path(scratch))
    print(f"raw_dealer_router_round_trip_p50: {transport:.3f} ms")
    print(f"raw_fdatasync_p50: {sync:.3f} ms")
    print(f"set_transform_round_trip_p50: {p50:.3f} ms (x{p50 / transport:.1f} of the raw round trip)")
    print(f"set_transform_round_trip_p99: {p99:.3f} ms")
    fsync_bound = 1e3 / sync  # one fdatasync per command
    print(f"durable_commands_per_s: {rate:.0f} commands/s (fdatasync per command: {fsync_bound:.0f})")
    print(f"event_fanout_8_subscribers: {events_rate:.0f} events/s")
    print(f"event_latency_p50_8_subscribers: {event_latency:.3f} ms")
    print(f"recovery_100k_entries: {recovery_s:.2f} s")


if __name__ == "__main__":
    main()
