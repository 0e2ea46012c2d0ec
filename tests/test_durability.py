"""Acknowledged means durable: SIGKILL, restarts, snapshots and torn journal tails."""

from __future__ import annotations

import msgpack
import pytest

from engine_server import Journal, event_payload
from protocols import (
    PROTOCOL_VERSION,
    Compacted,
    CreateNode,
    Envelope,
    Event,
    EventResult,
    MaterialParams,
    MeshSpec,
    SetFrameRange,
    SetMaterial,
    SetTransform,
    StagecraftError,
    Transform,
    encode,
)

pytestmark = pytest.mark.slow


def _setup(client) -> str:
    applied = client.apply(
        CreateNode(
            kind="mesh",
            name="Crate",
            mesh=MeshSpec(primitive="cube"),
            transform=Transform(location=(0.0, 0.0, 0.0)),
        )
    )
    return applied.nodes[0]


def test_sigkill_during_a_command_stream_loses_no_acknowledged_command(stage_factory, tmp_path) -> None:
    data_dir = tmp_path / "stage"
    stage = stage_factory("--empty", data_dir=data_dir)
    acked: dict[int, float] = {}
    with stage.client() as client:
        uuid = _setup(client)
        window: list[tuple[str, float]] = []
        for i in range(4000):
            x = round(i * 0.001, 6)
            window.append((client.send(SetTransform(node=uuid, location=(x, 0.0, 0.0))), x))
            if len(window) >= 64:
                msg_id, value = window.pop(0)
                acked[client.receive(msg_id).seq] = value
            if len(acked) == 1500:
                stage.kill()
                break
    restarted = stage_factory("--empty", data_dir=data_dir)
    with restarted.client() as client:
        last = client.hello().seq
        assert last >= max(acked)
        journaled = {}
        after = 1
        while after < last:
            batch = client.events(after=after).events
            journaled.update({e.seq: e.command.location[0] for e in batch})
            after = batch[-1].seq
        for seq, value in acked.items():
            assert journaled[seq] == pytest.approx(value), f"acknowledged seq {seq} was lost"
        assert client.node(uuid).transform.location[0] == pytest.approx(journaled[last])


def test_clean_restart_keeps_state_and_uuids(stage_factory, tmp_path) -> None:
    data_dir = tmp_path / "stage"
    stage = stage_factory("--empty", data_dir=data_dir)
    with stage.client() as client:
        uuid = _setup(client)
        client.apply(SetMaterial(node=uuid, material=MaterialParams(base_color=(0.8, 0.1, 0.1, 1.0))))
        before = client.snapshot()
    assert stage.stop() == 0
    assert list((data_dir / "snapshots").glob("*.blend")), "a clean stop leaves a snapshot"
    restarted = stage_factory("--empty", data_dir=data_dir)
    with restarted.client() as client:
        assert client.snapshot() == before
        assert client.node("Crate").uuid == uuid


def test_recovery_from_snapshot_plus_journal_after_sigkill(stage_factory, tmp_path) -> None:
    data_dir = tmp_path / "stage"
    stage = stage_factory("--empty", "--snapshot-every", "50", data_dir=data_dir)
    with stage.client() as client:
        uuid = _setup(client)
        for i in range(130):
            client.apply(SetTransform(node=uuid, location=(0.0, i * 0.1, 0.0)))
        before = client.snapshot()
        with pytest.raises(Compacted, match="compacted into a snapshot") as compacted:
            client.events(after=1)
        oldest = compacted.value.seq
        assert 1 < oldest < before.seq
        assert client.events(after=oldest).events[0].seq == oldest + 1, "the error's seq is served"
        assert [e.seq for e in client.events(after=before.seq - 2).events] == [before.seq - 1, before.seq]
    stage.kill()
    assert list((data_dir / "snapshots").glob("*.blend")), "periodic snapshots were written"
    restarted = stage_factory("--empty", data_dir=data_dir)
    with restarted.client() as client:
        assert client.snapshot() == before


def _protocol_1_record(seq: int, command) -> bytes:
    """A journal record as protocol 1 wrote it: version 1, an event without a result."""
    header, *frames = encode(
        Envelope(body=Event(seq=seq, command=command, result=EventResult()), session="stage")
    )
    fields = msgpack.unpackb(header)
    fields["v"] = 1
    del fields["body"]["result"]
    return event_payload([msgpack.packb(fields, use_bin_type=True), *frames])


def test_a_journal_of_protocol_1_is_upgraded_at_start(stage_factory, tmp_path) -> None:
    data_dir = tmp_path / "stage"
    journal = Journal(data_dir / "journal")
    list(journal.recover(0))
    commands = [CreateNode(kind="mesh", name="Old", mesh=MeshSpec(primitive="cube")), SetFrameRange(end=99)]
    for seq, command in enumerate(commands, start=1):
        journal.append(seq, _protocol_1_record(seq, command))
    journal.commit()
    journal.close()
    stage = stage_factory("--empty", data_dir=data_dir)
    with stage.client() as client:
        assert client.hello().protocol_version == PROTOCOL_VERSION
        assert client.node("Old").mesh.primitive == "cube"
        assert client.snapshot().scene.frame_end == 99
        with pytest.raises(Compacted) as compacted:  # no event without a result is ever served
            client.events(after=0)
        assert compacted.value.seq == 2
        applied = client.apply(SetTransform(node="Old", location=(1.0, 0.0, 0.0)))
        assert [e.seq for e in client.events(after=2).events] == [applied.seq]


def test_a_torn_final_journal_record_is_dropped_at_start(stage_factory, tmp_path) -> None:
    data_dir = tmp_path / "stage"
    stage = stage_factory("--empty", data_dir=data_dir)
    with stage.client() as client:
        uuid = _setup(client)
        client.apply(SetTransform(node=uuid, location=(1.0, 2.0, 3.0)))
        before = client.snapshot()
    stage.kill()
    segment = sorted((data_dir / "journal").glob("*.log"))[-1]
    with segment.open("ab") as journal:
        journal.write(b"SCJ1\x00\x00\x01\x00torn-off half record")
    restarted = stage_factory("--empty", data_dir=data_dir)
    with restarted.client() as client:
        assert client.snapshot() == before
    assert any("torn" in line or "dropped" in line for line in restarted.log), restarted.log


def test_a_second_server_cannot_open_the_same_data_dir(stage_factory, tmp_path) -> None:
    data_dir = tmp_path / "stage"
    stage_factory("--empty", data_dir=data_dir)
    with pytest.raises(StagecraftError, match="already using"):
        stage_factory("--empty", data_dir=data_dir)
