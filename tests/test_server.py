"""The stage server end to end: a real process, real ZeroMQ sockets, real bpy inside."""

from __future__ import annotations

import msgpack
import numpy as np
import pytest
import zmq

from protocols import (
    PROTOCOL_VERSION,
    Applied,
    AssetRef,
    Batch,
    CameraParams,
    Conflict,
    CreateNode,
    DeleteNode,
    Envelope,
    ErrorCode,
    Forbidden,
    InvalidArgument,
    LightParams,
    MaterialParams,
    MeshSpec,
    NotFound,
    RenameNode,
    SetActiveCamera,
    SetCamera,
    SetFrameRange,
    SetMaterial,
    SetTransform,
    Transform,
    encode,
)

V = PROTOCOL_VERSION


def _crate(name: str = "Crate", **kwargs) -> CreateNode:
    return CreateNode(kind="mesh", name=name, mesh=MeshSpec(primitive="cube", size=0.5), **kwargs)


def test_commands_change_the_stage_and_are_numbered(empty_stage) -> None:
    with empty_stage.client() as client:
        info = client.hello()
        assert info.seq == 0 and info.event_endpoint.startswith("tcp://127.0.0.1:")
        created = client.apply(_crate(transform=Transform(location=(1.0, 2.0, 0.25))))
        assert isinstance(created, Applied) and created.seq == 1
        uuid = created.nodes[0]
        client.apply(SetTransform(node="Crate", location=(0.0, 0.0, 1.5)))
        client.apply(SetMaterial(node=uuid, material=MaterialParams(roughness=0.8, metallic=1.0)))
        client.apply(RenameNode(node="Crate", name="Box"))
        node = client.node(uuid)
        assert node.name == "Box" and node.uuid == uuid
        assert node.transform.location == pytest.approx((0.0, 0.0, 1.5))
        assert node.material.roughness == pytest.approx(0.8) and node.material.metallic == pytest.approx(1.0)
        client.apply(CreateNode(kind="camera", name="CamA", camera=CameraParams(lens=35.0)))
        client.apply(SetActiveCamera(node="CamA"))
        client.apply(SetFrameRange(start=1, end=48, fps=25))
        snapshot = client.snapshot()
        assert snapshot.seq == 7
        assert snapshot.scene.active_camera == client.node("CamA").uuid
        assert (snapshot.scene.frame_end, snapshot.scene.fps) == (48, 25)
        client.apply(DeleteNode(node="Box"))
        with pytest.raises(NotFound, match="Box"):
            client.node("Box")


def test_errors_name_the_problem_and_change_nothing(empty_stage) -> None:
    with empty_stage.client() as client:
        client.apply(_crate())
        before = client.snapshot()
        with pytest.raises(NotFound) as missing:
            client.apply(SetTransform(node="Ghost", location=(0.0, 0.0, 1.0)))
        assert "Ghost" in missing.value.message
        with pytest.raises(Conflict):
            client.apply(_crate())
        with pytest.raises(InvalidArgument) as active:
            client.apply(SetActiveCamera(node="Crate"))
        assert "camera" in active.value.message
        with pytest.raises(Forbidden, match="no asset roots"):
            client.apply(
                CreateNode(kind="asset", name="Evil", asset=AssetRef(path="/etc/passwd", format="obj"))
            )
        after = client.snapshot()
        assert after == before


def test_a_batch_that_fails_half_way_changes_nothing(empty_stage) -> None:
    with empty_stage.client() as client:
        client.apply(_crate())
        before = client.snapshot()
        batch = Batch(
            commands=(
                SetTransform(node="Crate", location=(5.0, 5.0, 5.0)),
                CreateNode(kind="light", name="Key", light=LightParams(light_type="area", energy=500.0)),
                SetTransform(node="Nowhere", location=(0.0, 0.0, 0.0)),
            )
        )
        with pytest.raises(NotFound, match="Nowhere"):
            client.apply(batch)
        assert client.snapshot() == before
        applied = client.apply(Batch(commands=batch.commands[:2]))
        assert applied.seq == before.seq + 1
        assert client.node("Key").light.energy == pytest.approx(500.0)


def test_events_arrive_in_order_without_gaps_for_every_subscriber(empty_stage) -> None:
    with empty_stage.client() as client:
        client.apply(_crate())
        streams = [client.subscribe() for _ in range(4)]
        start = client.hello().seq
        for stream in streams:
            stream.start_after(start)
        count = 300
        pending = [
            client.send(SetTransform(node="Crate", location=(i * 0.01, 0.0, 0.0))) for i in range(count)
        ]
        seqs = [client.receive(msg_id).seq for msg_id in pending]
        assert seqs == list(range(start + 1, start + count + 1))
        for stream in streams:
            got = [stream.next(timeout=30) for _ in range(count)]
            assert [e.seq for e in got] == seqs
            assert got[-1].command.location == pytest.approx(((count - 1) * 0.01, 0.0, 0.0))
            assert got[0].session == client.session
            stream.close()


def test_malformed_messages_get_errors_and_the_server_carries_on(empty_stage) -> None:
    with empty_stage.client() as client:
        client.apply(_crate())
        before = client.snapshot()
        cases = {
            b"\xc1\x00garbage": ErrorCode.BAD_MESSAGE,
            msgpack.packb([1, 2, 3]): ErrorCode.BAD_MESSAGE,
            msgpack.packb({"v": 99, "id": "x", "type": "hello", "body": {}}): ErrorCode.BAD_MESSAGE,
            msgpack.packb({"v": V, "id": "x", "type": "format_disk", "body": {}}): ErrorCode.UNKNOWN_COMMAND,
            msgpack.packb(
                {"v": V, "id": "x", "type": "applied", "body": {"seq": 1}}
            ): ErrorCode.UNKNOWN_COMMAND,
            msgpack.packb(
                {"v": V, "id": "x", "type": "set_transform", "body": {"node": 5}}
            ): ErrorCode.INVALID_ARGUMENT,
            msgpack.packb(
                {"v": V, "id": "x", "type": "set_transform", "body": {}}
            ): ErrorCode.INVALID_ARGUMENT,
            b"\x00" * (2 << 20): ErrorCode.TOO_LARGE,
        }
        for frame, code in cases.items():
            client.send_raw([frame])
            reply = client.receive_raw()
            assert reply.body.code == code, (frame[:60], reply.body)
            assert reply.body.message
        assert client.snapshot() == before
        assert client.hello().seq == before.seq


def test_a_req_socket_works_too(empty_stage) -> None:
    """Any ZeroMQ binding can talk to the stage with a plain REQ socket."""
    from protocols import Hello, decode

    context = zmq.Context.instance()
    req = context.socket(zmq.REQ)
    req.setsockopt(zmq.LINGER, 0)
    req.connect(empty_stage.commands)
    try:
        envelope = Envelope(body=Hello(client="req"))
        req.send_multipart(encode(envelope))
        assert req.poll(30_000)
        reply = decode(req.recv_multipart())
        assert reply.parent == envelope.msg_id and reply.body.protocol_version == PROTOCOL_VERSION
    finally:
        req.close(linger=0)


def test_assets_are_stored_by_hash_and_fetchable(stage_factory, tmp_path) -> None:
    roots = tmp_path / "assets"
    roots.mkdir()
    obj = roots / "wedge.obj"
    obj.write_text("v 0 0 0\nv 1 0 0\nv 0 1 0\nv 0 0 1\nf 1 2 3\nf 1 2 4\nf 1 3 4\nf 2 3 4\n")
    (roots / "broken.glb").write_bytes(b"glTF\x02\x00\x00\x00 this is not a real binary glTF")
    (tmp_path / "secret.obj").write_text(obj.read_text())
    stage = stage_factory("--empty", "--asset-root", str(roots))
    with stage.client() as client:
        by_path = client.apply(
            CreateNode(kind="asset", name="WedgeFromPath", asset=AssetRef(path="wedge.obj"))
        )
        event = client.events(after=by_path.seq - 1).events[0]
        assert event.command.asset.path is None and event.command.asset.format == "obj"
        sha = client.put_asset(obj)
        assert event.command.asset.sha256 == sha
        assert client.get_asset(sha) == obj.read_bytes()
        before = client.snapshot()
        for path, error in (
            ("../secret.obj", Forbidden),
            (str(tmp_path / "secret.obj"), Forbidden),
            ("missing.obj", NotFound),
            ("broken.glb", InvalidArgument),
        ):
            with pytest.raises(error):
                client.apply(CreateNode(kind="asset", name="Bad", asset=AssetRef(path=path)))
        assert client.snapshot() == before
        applied = client.apply(
            CreateNode(kind="asset", name="Wedge", asset=AssetRef(sha256=sha, format="obj"))
        )
        tree = client.tree()
        parts = [n for n in tree.nodes if n.parent == applied.nodes[0]]
        assert parts and all(client.node(p.uuid).source == applied.nodes[0] for p in parts)
        with pytest.raises(NotFound):
            client.get_asset("0" * 64)


def test_bone_pose_arrays_travel_as_raw_frames(empty_stage) -> None:
    from protocols import ArmatureSpec, BoneSpec, SetBonePose, SetParent

    bones = (
        BoneSpec(name="root", head=(0.0, 0.0, 0.0), tail=(0.0, 0.0, 1.0)),
        BoneSpec(name="hand", head=(0.0, 0.0, 1.0), tail=(0.0, 0.0, 1.5), parent="root"),
    )
    with empty_stage.client() as client:
        client.apply(CreateNode(kind="armature", name="Rig", armature=ArmatureSpec(bones=bones)))
        client.apply(_crate("Shaker"))
        client.apply(SetParent(node="Shaker", parent="Rig", bone="hand", keep_world=False))
        quarter = np.array([[np.cos(np.pi / 4), np.sin(np.pi / 4), 0.0, 0.0]], dtype=np.float32)
        client.apply(SetBonePose(node="Rig", bones=("root",), rotations=quarter))
        pose = client.node("Rig").pose
        index = pose.bones.index("root")
        assert pose.rotations[index] == pytest.approx(quarter[0], abs=1e-5)
        shaker = client.node("Shaker")
        assert (shaker.parent, shaker.parent_bone) == (client.node("Rig").uuid, "hand")


def test_a_client_of_protocol_1_is_told_which_version_to_speak(empty_stage) -> None:
    with empty_stage.client() as client:
        client.send_raw([msgpack.packb({"v": 1, "id": "old", "type": "hello", "body": {}})])
        reply = client.receive_raw().body
        assert reply.code == ErrorCode.BAD_MESSAGE
        assert f"speaks version {PROTOCOL_VERSION}" in reply.message


def test_every_event_carries_the_result_a_follower_needs(empty_stage) -> None:
    with empty_stage.client() as client:
        stream = client.subscribe()
        stream.start_after(client.hello().seq)
        created = client.apply(
            CreateNode(
                kind="camera", name="Cam", camera=CameraParams(), transform=Transform(location=(0, -5, 1))
            )
        )
        event = stream.next(timeout=30)
        (node,) = event.result.created
        assert node.uuid == event.command.uuid == created.nodes[0], "the server-assigned uuid is in the event"
        assert (node.camera.lens, node.camera.fstop, node.camera.sensor_width) == (50.0, 2.8, 36.0)
        assert node.world[1][3] == -5.0 and node.world[2][3] == 1.0
        crate = client.apply(_crate()).nodes[0]
        stream.next(timeout=30)
        client.apply(SetCamera(node="Cam", camera=CameraParams(focus_target="Crate")))
        stream.next(timeout=30)
        client.apply(SetActiveCamera(node="Cam"))
        assert stream.next(timeout=30).result.scene.active_camera == node.uuid
        client.apply(DeleteNode(node="Crate"))
        result = stream.next(timeout=30).result
        assert result.deleted == (crate,)
        (camera,) = result.changed
        assert camera.uuid == node.uuid and camera.camera.focus_target == "", (
            "the side effect is in the result"
        )
        client.apply(DeleteNode(node="Cam"))
        result = stream.next(timeout=30).result
        assert result.deleted == (node.uuid,) and result.scene.active_camera is None
        stream.close()


def test_hello_never_reports_a_seq_older_than_an_event_already_received(empty_stage) -> None:
    """hello's seq is the newest published: a client never sees the stage go back in time."""
    with empty_stage.client() as writer, empty_stage.client() as reader:
        writer.apply(_crate())
        stream = reader.subscribe()
        stream.start_after(reader.hello().seq)
        pending = [writer.send(SetTransform(node="Crate", location=(i * 0.01, 0, 0))) for i in range(400)]
        seen = 0
        while seen < 400 + 1:
            event = stream.next(timeout=30)
            assert event is not None
            seen = event.seq
            assert reader.hello().seq >= seen
        for msg_id in pending:
            writer.receive(msg_id)
        stream.close()
