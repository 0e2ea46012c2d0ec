"""Regression tests for each way input once killed the stage or stored what it could not replay.

Each test drives a real stage process over ZeroMQ, then restarts it on its data (SIGKILL first
where a crash is the point) and checks that what was acknowledged is what comes back.
"""

from __future__ import annotations

import msgpack
import numpy as np
import pytest

import protocols as p

pytestmark = pytest.mark.slow


def raw_request(kind: str, body: dict, frames: tuple[bytes, ...] = (), session: str = "t") -> list[bytes]:
    header = {"v": p.PROTOCOL_VERSION, "id": "raw", "type": kind, "session": session, "body": body}
    return [msgpack.packb(header, use_bin_type=True), *frames]


def answer(client, parts: list[bytes]) -> p.Envelope:
    client.send_raw(parts)
    return client.receive_raw()


def restart(stage_factory, stage, *, kill: bool = True):
    if kill:
        stage.kill()
    else:
        stage.stop()
    return stage_factory("--empty", data_dir=stage.data_dir)


def test_a_huge_rotation_is_stored_as_the_value_replay_reads(stage_factory):
    """Defect 1: rotation (1e200, 0, 0, 0) used to journal a zero quaternion that bricked restarts."""
    stage = stage_factory("--empty")
    with stage.client() as client:
        body = {"kind": "empty", "name": "Spun", "transform": {"rotation": [1e200, 0.0, 0.0, 0.0]}}
        reply = answer(client, raw_request("create_node", body))
        assert reply.type == "error" and reply.body.field == "transform.rotation[0]"
        assert "beyond what Blender stores" in reply.body.message
        body["transform"]["rotation"] = [3e38, 0.0, 0.0, 0.0]  # the largest float32 magnitudes are fine
        assert answer(client, raw_request("create_node", body)).type == "applied"
        assert client.node("Spun").transform.rotation == (1.0, 0.0, 0.0, 0.0)
        events = client.events(after=0).events
        assert events[-1].command.transform.rotation == (1.0, 0.0, 0.0, 0.0)
        before = client.snapshot()
    with restart(stage_factory, stage).client() as client:
        assert client.snapshot() == before


@pytest.mark.parametrize(
    ("kind", "body", "frames", "expected"),
    [
        pytest.param(
            "set_transform", {"node": "A", "bogus": 1, b"bytes-key": 2}, (), "unknown field", id="text-and-bytes-keys"  # noqa: E501
        ),
        pytest.param(
            "set_bone_pose",
            {"node": "A", "bones": ["b"], "rotations": {"$frame": 0, "dtype": [], "shape": [1, 4]}},
            (bytes(16),),
            "not a plain numeric dtype",
            id="dtype-list",
        ),
        pytest.param(
            "set_bone_pose",
            {"node": "A", "bones": ["b"], "rotations": {"$frame": 0, "dtype": {}, "shape": [1, 4]}},
            (bytes(16),),
            "not a plain numeric dtype",
            id="dtype-map",
        ),
        pytest.param(
            "set_bone_pose",
            {"node": "A", "bones": ["b"], "rotations": {"$frame": 0, "dtype": "<f4", "shape": [2**32, 2**32]}},  # noqa: E501
            (b"",),
            "frame holds 0 bytes",
            id="shape-overflow",
        ),
        pytest.param(
            "create_node",
            {"kind": "armature", "name": "R", "armature": {"bones": [{"name": "b", "head": [1e308, 0, 0], "tail": [0, 0, 1]}]}},  # noqa: E501
            (),
            "beyond what Blender stores",
            id="bone-head-1e308",
        ),
    ],
)  # fmt: skip
def test_messages_that_used_to_kill_the_server_get_an_error(empty_stage, kind, body, frames, expected):
    """Defect 2: each of these raised past the request loop and took the server down."""
    with empty_stage.client() as client:
        reply = answer(client, raw_request(kind, body, frames))
        assert reply.type == "error" and reply.body.code != p.ErrorCode.INTERNAL
        assert expected in reply.body.message
        assert client.hello().seq == 0  # still serving, nothing stored


@pytest.mark.parametrize(
    ("camera", "value"),
    [("focus_distance", 1e-46), ("clip_start", 1e-46), ("coc_mm", 1e-46), ("focus_distance", 1e-40),
     ("lens", 3.5e38), ("fstop", 1e-46)],
)  # fmt: skip
def test_what_is_acknowledged_is_what_get_node_and_replay_return(stage_factory, camera, value):
    """Defect 6: values that float32 turns into 0 or inf broke get_snapshot for everyone."""
    stage = stage_factory("--empty")
    with stage.client() as client:
        client.apply(p.CreateNode(kind="camera", name="Cam", camera=p.CameraParams()))
        reply = answer(client, raw_request("set_camera", {"node": "Cam", "camera": {camera: value}}))
        if reply.type == "applied":
            stored = getattr(client.node("Cam").camera, camera)
            assert stored == pytest.approx(value, rel=1e-6)
        else:
            assert reply.body.code == p.ErrorCode.INVALID_ARGUMENT and camera in reply.body.message
        before = client.snapshot()  # works for everyone, whatever was sent
    with restart(stage_factory, stage).client() as client:
        assert client.snapshot() == before


def test_a_rotation_beyond_float32_squares_stays_readable(stage_factory):
    stage = stage_factory("--empty")
    with stage.client() as client:
        client.apply(p.CreateNode(kind="empty", name="E"))
        for q in ([1.9e19, 0, 0, 0], [1e30, 1e30, 0, 0], [3.4e38, 0, 0, 3.4e38]):
            assert (
                answer(client, raw_request("set_transform", {"node": "E", "rotation": q})).type == "applied"
            )
            rotation = np.array(client.node("E").transform.rotation)
            assert np.linalg.norm(rotation) == pytest.approx(1.0, abs=1e-5)
        before = client.snapshot()
    with restart(stage_factory, stage).client() as client:
        assert client.snapshot() == before


def test_a_damaged_blend_upload_is_an_error_and_the_stage_stays_up(empty_stage, tmp_path):
    """Defect 3: importing a .blend with flipped bits could segfault the stage; now a subprocess reads it."""
    import bpy

    bpy.ops.wm.read_factory_settings(use_empty=True)
    mesh = bpy.data.meshes.new("Box")
    mesh.from_pydata([(0, 0, 0), (1, 0, 0), (1, 1, 0)], [], [(0, 1, 2)])
    box = bpy.data.objects.new("Box", mesh)
    path = tmp_path / "box.blend"
    bpy.data.libraries.write(str(path), {box})
    data = bytearray(path.read_bytes())
    for offset in range(64, len(data), 97):
        data[offset] ^= 0xFF
    damaged = tmp_path / "damaged.blend"
    damaged.write_bytes(bytes(data))
    with empty_stage.client(timeout=180) as client:
        sha = client.put_asset(damaged)
        with pytest.raises(p.InvalidArgument, match="could not be imported as blend"):
            client.apply(p.CreateNode(kind="asset", name="D", asset=p.AssetRef(sha256=sha, format="blend")))
        good = client.put_asset(path)
        client.apply(p.CreateNode(kind="asset", name="Good", asset=p.AssetRef(sha256=good, format="blend")))
        assert client.node("Box").source == client.node("Good").uuid


def test_a_failed_snapshot_write_never_changes_what_is_acknowledged(stage_factory):
    """Defect 7: an unwritable snapshot made commands apply in memory, answer `internal`, skip the journal."""
    stage = stage_factory("--empty", "--snapshot-every", "5")
    snapshots = stage.data_dir / "snapshots"
    # the stage saves through `.snapshot-<seq>.partial.tmp<pid>.blend`: a folder there makes the save fail
    blockers = [
        snapshots / f".snapshot-{seq:020d}.partial.tmp{stage.process.pid}.blend" for seq in range(1, 40)
    ]
    for blocker in blockers:
        blocker.mkdir(parents=True)
    with stage.client() as client:
        client.apply(p.CreateNode(kind="empty", name="E"))
        for i in range(12):
            applied = client.apply(p.SetTransform(node="E", location=(float(i), 0.0, 0.0)))
            assert applied.seq == i + 2 and client.hello().seq == applied.seq  # journaled, acknowledged
        assert not list(snapshots.glob("snapshot-*.blend"))
        for blocker in blockers:
            blocker.rmdir()  # the disk recovers
        for i in range(12, 20):
            client.apply(p.SetTransform(node="E", location=(float(i), 0.0, 0.0)))
        before = client.snapshot()
    assert list(snapshots.glob("snapshot-*.blend"))  # retried and written once it could be
    with restart(stage_factory, stage).client() as client:
        assert client.snapshot() == before
        assert client.node("E").transform.location == (19.0, 0.0, 0.0)


def test_a_damaged_newest_snapshot_falls_back_to_the_previous_one(stage_factory):
    """Defect 11: the journal is kept back to the older snapshot, so start-up can use it."""
    stage = stage_factory("--empty", "--snapshot-every", "10")
    with stage.client() as client:
        client.apply(p.CreateNode(kind="empty", name="E"))
        for i in range(24):
            client.apply(p.SetTransform(node="E", location=(float(i), 0.0, 0.0)))
        before = client.snapshot()
    stage.kill()
    snapshots = sorted((stage.data_dir / "snapshots").glob("snapshot-*.blend"))
    assert len(snapshots) == 2
    newest = snapshots[-1]
    data = bytearray(newest.read_bytes())
    data[len(data) // 2] ^= 0x01
    newest.write_bytes(bytes(data))
    (stage.data_dir / "snapshots" / ".snapshot-00000000000000000030.partial.tmp1.blend@").write_bytes(b"x")
    again = stage_factory("--empty", data_dir=stage.data_dir)
    with again.client() as client:
        assert client.snapshot() == before
    assert not list((stage.data_dir / "snapshots").glob(".snapshot-*"))  # crash leftovers cleaned
    again.stop()
    assert any(f"snapshot {newest.name} is damaged" in line for line in again.log)


def test_ids_and_names_that_hide_what_they_say_are_refused(empty_stage):
    """Defect 12: 900 KB sessions were journaled; names took bidi, zero-width and control characters."""
    with empty_stage.client() as client:
        reply = answer(
            client, raw_request("create_node", {"kind": "empty", "name": "E"}, session="s" * 900_000)
        )
        assert reply.type == "error" and reply.body.code == p.ErrorCode.BAD_MESSAGE
        for name in ("Cr\u202eate", "Cr\u200bate", "Cr\x7fate", "Cr\x85ate", "Cr\u2028ate"):
            reply = answer(client, raw_request("create_node", {"kind": "empty", "name": name}))
            assert reply.type == "error" and "must not contain control, format" in reply.body.message
        assert client.hello().seq == 0


@pytest.mark.parametrize("frames", [1, 2], ids=["one-frame", "two-frames"])
def test_a_raw_message_just_over_the_limit_gets_too_large(empty_stage, frames):
    """One frame of 256 MiB + 1 KiB got no reply at all (libzmq dropped the peer); two did."""
    size = (p.MAX_MESSAGE_BYTES + 1024) // frames
    body = {"filename": "big.bin", "data": {"$frame": 0}}
    with empty_stage.client() as client:
        reply = answer(
            client, raw_request("put_asset", body, frames=tuple(bytes(size) for _ in range(frames)))
        )
        assert reply.type == "error" and reply.body.code == p.ErrorCode.TOO_LARGE
        assert "the limit is" in reply.body.message
        assert client.hello().seq == 0


def test_a_message_over_the_limit_is_refused_before_it_is_sent(empty_stage):
    with empty_stage.client() as client:
        with pytest.raises(p.TooLarge, match="the limit is"):
            client.request(p.PutAsset(filename="big.bin", data=bytes(p.MAX_MESSAGE_BYTES + 1)))
        assert client.hello().seq == 0  # the connection was not dropped
