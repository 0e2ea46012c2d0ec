"""protocols: the export list, round trips of every message type, and rejection of bad input."""

from __future__ import annotations

import dataclasses
import types

import msgpack
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import protocols as p
from protocols._mirror import with_keys

V = p.PROTOCOL_VERSION
UUID_A = "0b6c7d2f5e1a4c3b9d8e7f6a5b4c3d2e"
UUID_B = "a1b2c3d4e5f60718293a4b5c6d7e8f90"
SHA = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
ROTATIONS = np.array([[1, 0, 0, 0], [0.966, 0.259, 0, 0]], dtype="<f4")
LOCATIONS = np.zeros((2, 3), dtype="<f8")
NODE = p.NodeState(
    uuid=UUID_A,
    name="Hero",
    kind="armature",
    transform=p.Transform(location=(1.0, 2.0, 3.0)),
    parent=UUID_B,
    armature=p.ArmatureSpec(
        bones=(
            p.BoneSpec(name="spine", head=(0, 0, 0), tail=(0, 0, 0.5)),
            p.BoneSpec(name="neck", head=(0, 0, 0.5), tail=(0, 0, 0.7), parent="spine", roll=0.1),
        ),
        body="mannequin",
    ),
    pose=p.BonePose(bones=("spine", "neck"), rotations=ROTATIONS, locations=LOCATIONS),
)
SCENE = p.SceneSettings(active_camera=UUID_B, frame_current=5, frame_end=100, fps=30)
MOVE = p.SetTransform(node=UUID_A, location=(2.0, 0.0, 0.5))
WORLD = ((1.0, 0.0, 0.0, 2.0), (0.0, 1.0, 0.0, 0.0), (0.0, 0.0, 1.0, 0.5), (0.0, 0.0, 0.0, 1.0))
MOVED = p.EventResult(
    created=(NODE,),
    changed=(
        p.NodeChange(uuid=UUID_A, transform=p.Transform(location=(2.0, 0.0, 0.5)), world=WORLD),
        p.NodeChange(uuid=UUID_B, pose=NODE.pose, cleared=("parent", "animation")),
    ),
    deleted=(UUID_B,),
    scene=SCENE,
)

OPTICS = p.Optics(
    node=UUID_A, body="arri_alexa_35", lens="prime_50", focal_mm=50.0, fstop=2.8, tstop=2.95, focus_m=3.0,
    coc_mm=0.022,
    sensor_width_mm=27.99, sensor_height_mm=15.74, squeeze=1.0, hyperfocal_m=40.6, near_m=2.8,
    far_m=3.24, dof_m=0.44, fov_horizontal=0.546, fov_vertical=0.31, fov_diagonal=0.62,
)  # fmt: skip
JOB_ID = "5d1e0f4a2d34c8e9b7a6f5e4d3c2b1a0"
JOB = p.Job(
    job_id=JOB_ID, kind="echo", state="succeeded", params={"steps": 2}, attempt=1, max_attempts=3,
    created=1.0, updated=2.0, fraction=1.0, agent="echo-1", result={"steps": 2}, arrays={"a": ROTATIONS},
)  # fmt: skip
EXAMPLES = {
    "create_node": p.CreateNode(
        kind="mesh",
        name="Crate",
        uuid=UUID_A,
        parent="Set",
        transform=p.Transform(rotation=(0.7071, 0, 0, 0.7071)),
        mesh=p.MeshSpec(primitive="cube", size=2.0),
        material=p.MaterialParams(base_color=(0.8, 0.5, 0.2, 1.0), roughness=0.6, emission_strength=2.0),
    ),
    "delete_node": p.DeleteNode(node="Crate"),
    "rename_node": p.RenameNode(node=UUID_A, name="Crate.big"),
    "set_transform": MOVE,
    "set_parent": p.SetParent(node="Sword", parent="Hero", bone="hand.R", keep_world=False),
    "set_material": p.SetMaterial(node="Crate", material=p.MaterialParams(metallic=1.0)),
    "set_camera": p.SetCamera(node="Cam", camera=p.CameraParams(lens=35.0, sensor_fit="horizontal")),
    "set_light": p.SetLight(node="Key", light=p.LightParams(light_type="spot", spot_size=0.8)),
    "set_bone_pose": p.SetBonePose(node="Hero", bones=("spine", "neck"), rotations=ROTATIONS, keyframe=3),
    "set_active_camera": p.SetActiveCamera(node="Cam"),
    "set_frame_range": p.SetFrameRange(current=1, start=1, end=240, fps=24),
    "batch": p.Batch(commands=(p.DeleteNode(node="A"), MOVE)),
    "hello": p.Hello(client="test 1.0"),
    "get_node": p.GetNode(node="Crate"),
    "get_tree": p.GetTree(),
    "get_snapshot": p.GetSnapshot(),
    "get_events": p.GetEvents(after=41, limit=500),
    "get_asset": p.GetAsset(sha256=SHA),
    "put_asset": p.PutAsset(filename="crate.glb", data=b"glTF\x00\x01binary"),
    "server_info": p.ServerInfo(
        protocol_version=1,
        server_version="0.1.0",
        stage="studio",
        seq=42,
        session="s1",
        event_endpoint="tcp://127.0.0.1:5556",
    ),
    "applied": p.Applied(seq=43, nodes=(UUID_A,)),
    "tree_node": p.TreeNode(uuid=UUID_A, name="Crate", kind="mesh", parent=UUID_B),
    "tree": p.Tree(seq=43, nodes=(p.TreeNode(uuid=UUID_A, name="Crate", kind="mesh"),)),
    "scene_settings": SCENE,
    "node": NODE,
    "snapshot": p.Snapshot(seq=43, scene=SCENE, nodes=(NODE,)),
    "asset_data": p.AssetData(sha256=SHA, data=b"\x00" * 100),
    "asset_stored": p.AssetStored(sha256=SHA, size=100),
    "error": p.Error(code=p.ErrorCode.NOT_FOUND, message="no node 'X'", field="node"),
    "event": p.Event(seq=44, command=MOVE, result=MOVED, session="s1", request="r1"),
    "events": p.Events(
        events=(p.Event(seq=44, command=p.Batch(commands=(MOVE,)), result=MOVED),), last_seq=44
    ),
    "node_reply": p.NodeReply(seq=43, node=NODE),
    "set_lens": p.SetLens(node="CamA", focal_mm=85.0, mode="dolly_zoom", target="Hero"),
    "frame_shot": p.FrameShot(node="CamA", target="Hero", shot_size="medium_close_up"),
    "rack_focus": p.RackFocus(node="CamB", frames=24, to_target="Hero", from_distance=1.5, easing="linear"),
    "get_optics": p.GetOptics(node="CamA"),
    "optics": OPTICS,
    "get_optics_table": p.GetOpticsTable(),
    "look_at": p.LookAt(node="CamA", target="Hero", frames=24),
    "optics_table": p.OpticsTableReply(
        bodies=(p.BodyEntry("full_frame", "Full Frame", 36.0, 24.0, 0.0288),),
        lenses=(p.LensEntry("prime_50", "50 mm", 50.0, 1.0, 1.4, 16.0, 0.45, 0.9),),
    ),
    "worker_ready": p.WorkerReady(worker="w0", seq=42),
    "render_view": p.RenderView(
        view="v1", width=640, height=360, location=(6.0, -6.0, 3.0), rotation=(1.0, 0, 0, 0), play=True
    ),
    "drop_view": p.DropView(view="v1"),
    "frame": p.RenderedFrame(
        view="v1", seq=43, frame=1, render_ms=11.5, changed_at=1.5, rgb=np.full((18, 32, 3), 7, np.uint8)
    ),
    "view_error": p.ViewError(view="v1", code=p.ErrorCode.NOT_FOUND, message="no camera 'X'", field="camera"),
    "register_agent": p.RegisterAgent(
        name="mocap-gpu0", kinds=("mocap",), device="cuda", gpu="H100", memory_mb=80_000, max_jobs=2
    ),
    "agent_registered": p.AgentRegistered(agent="mocap-gpu0", heartbeat_interval=2.5),
    "heartbeat": p.Heartbeat(jobs=(JOB_ID,)),
    "agent_ack": p.AgentAck(job_id=JOB_ID),
    "job_offer": p.JobOffer(job_id=JOB_ID, kind="echo", params={"steps": 3, "trim": [0.5, 2.0]}, attempt=1),
    "job_accept": p.JobAccept(job_id=JOB_ID, attempt=1),
    "job_progress": p.JobProgress(job_id=JOB_ID, fraction=0.25, stage="landmarks"),
    "job_result": p.JobResult(job_id=JOB_ID, result={"clip": SHA}, arrays={"poses": LOCATIONS}),
    "job_failed": p.JobFailed(job_id=JOB_ID, code="bad_input", message="no person in the video"),
    "job_cancelled": p.JobCancelled(job_id=JOB_ID),
    "submit_job": p.SubmitJob(kind="mocap", params={"video": "take1.mp4", "person": 0}, max_attempts=2),
    "job_submitted": p.JobSubmitted(job_id=JOB_ID),
    "list_jobs": p.ListJobs(state="running", limit=10),
    "get_job": p.GetJob(job_id=JOB_ID),
    "cancel_job": p.CancelJob(job_id=JOB_ID),
    "job": JOB,
    "jobs": p.Jobs(jobs=(JOB,)),
    "job_event": p.JobEvent(n=7, job_id=JOB_ID, kind="echo", state="running", attempt=1, fraction=0.5),
    "frame_request": p.FrameRequest(camera="CamA", width=64, height=36),
    "frame_data": p.FrameData(
        seq=43, camera="CamA", rgb=np.zeros((4, 6, 3), np.uint8), depth=np.full((4, 6), np.inf, "<f4")
    ),
}


def _round_trip(body):
    envelope = p.Envelope(body=body, session="s1", parent="r0")
    parts = p.encode(envelope)
    decoded = p.decode([bytes(part) for part in parts])
    assert (decoded.msg_id, decoded.session, decoded.parent, decoded.version) == (
        envelope.msg_id,
        "s1",
        "r0",
        p.PROTOCOL_VERSION,
    )
    return decoded.body


# --- exports ---------------------------------------------------------------------------------------


def test_all_lists_exactly_the_public_names():
    public = {
        name
        for name, value in vars(p).items()
        if not name.startswith("_") and not isinstance(value, types.ModuleType)
    }
    assert len(p.__all__) == len(set(p.__all__))
    assert public <= set(p.__all__)
    for name in p.__all__:
        assert getattr(p, name) is not None, name


# --- round trips ----------------------------------------------------------------------------------


def test_every_message_type_has_an_example():
    assert set(EXAMPLES) == set(p.registered_types())
    for type_name, body in EXAMPLES.items():
        assert type(body) is p.registered_types()[type_name]


@pytest.mark.parametrize("type_name", sorted(EXAMPLES))
def test_every_message_type_round_trips(type_name):
    body = EXAMPLES[type_name]
    decoded = _round_trip(body)
    assert type(decoded) is type(body)
    assert decoded == body


def test_arrays_travel_as_raw_frames():
    parts = p.encode(p.Envelope(body=EXAMPLES["set_bone_pose"]))
    header = msgpack.unpackb(parts[0])
    assert header["body"]["rotations"] == {"$frame": 0, "dtype": "<f4", "shape": [2, 4]}
    assert bytes(parts[1]) == ROTATIONS.tobytes()


finite = st.floats(-1e6, 1e6, allow_nan=False, width=32)  # what Blender stores
vec3 = st.tuples(finite, finite, finite)
quat = st.tuples(finite, finite, finite, finite).filter(lambda q: sum(c * c for c in q) > 1e-6)
frame_number = st.integers(-1_048_574, 1_048_574)


@given(location=st.none() | vec3, rotation=st.none() | quat, scale=vec3)
def test_set_transform_round_trips(location, rotation, scale):
    body = p.SetTransform(node=UUID_A, location=location, rotation=rotation, scale=scale)
    assert _round_trip(body) == body


@given(
    current=st.none() | frame_number,
    start=frame_number,
    length=st.integers(0, 10_000),
    fps=st.integers(1, 240),
)
def test_set_frame_range_round_trips(current, start, length, fps):
    body = p.SetFrameRange(current=current, start=start, end=min(start + length, 1_048_574), fps=fps)
    assert _round_trip(body) == body


@given(
    count=st.integers(1, 20),
    dtype=st.sampled_from(["<f4", "<f8"]),
    seed=st.integers(0, 2**32 - 1),
    keyframe=st.none() | frame_number,
)
def test_set_bone_pose_round_trips(count, dtype, seed, keyframe):
    rng = np.random.default_rng(seed)
    rotations = rng.normal(size=(count, 4)).astype(dtype)
    rotations[:, 0] += 3  # well away from a zero quaternion
    body = p.SetBonePose(
        node="Hero",
        bones=tuple(f"b{i}" for i in range(count)),
        rotations=rotations,
        locations=rng.normal(size=(count, 3)).astype(dtype),
        keyframe=keyframe,
    )
    decoded = _round_trip(body)
    assert decoded == body
    assert decoded.rotations.dtype == np.dtype(dtype)


@given(data=st.binary(max_size=4096), client=st.text(max_size=50))
def test_bytes_and_text_round_trip(data, client):
    assert _round_trip(p.PutAsset(filename="f.bin", data=data)).data == data
    assert _round_trip(p.Hello(client=client)).client == client


# --- malformed input ------------------------------------------------------------------------------


def _header(type_name="set_transform", body=None, **overrides):
    header = {"v": V, "id": "m1", "type": type_name, "session": "", "parent": None}
    header["body"] = {"node": "Cube", "location": [1, 2, 3]} if body is None else body
    header.update(overrides)
    return msgpack.packb(header, use_bin_type=True)


POSE = {"node": "Hero", "bones": ["a"], "rotations": {"$frame": 0, "dtype": "<f4", "shape": [1, 4]}}
QUAT = np.array([[1, 0, 0, 0]], "<f4").tobytes()


@pytest.mark.parametrize(
    ("parts", "error", "words"),
    [
        pytest.param([b"\xc1not msgpack"], p.BadMessage, "not valid msgpack", id="not-msgpack"),
        pytest.param([msgpack.packb([1, 2])], p.BadMessage, "map", id="not-a-map"),
        pytest.param([], p.BadMessage, "empty", id="empty"),
        pytest.param([_header(v=1)], p.BadMessage, "speaks version 2", id="old-version"),
        pytest.param([_header(v=True)], p.BadMessage, "'v'", id="bool-version"),
        pytest.param([_header(id=7)], p.BadMessage, "'id'", id="id-not-string"),
        pytest.param([_header(parent=3)], p.BadMessage, "'parent'", id="bad-parent"),
        pytest.param([_header(body=[1])], p.BadMessage, "'body'", id="body-not-map"),
        pytest.param([_header("teleport")], p.UnknownCommand, "teleport", id="unknown-type"),
        pytest.param(
            [
                msgpack.packb(
                    {"v": V, "id": "m", "type": "hello", "body": {"client": msgpack.ExtType(5, b"x")}}
                )
            ],
            p.BadMessage,
            "extension type 5",
            id="ext-type",
        ),
        pytest.param(
            [msgpack.packb({"v": V, "id": "m", "type": "hello", "body": {"client": msgpack.Timestamp(0)}})],
            p.InvalidArgument,
            "client",
            id="timestamp-ext",
        ),
        pytest.param(
            [_header(body={"location": [1, 2, 3]})], p.InvalidArgument, "'node'", id="missing-field"
        ),
        pytest.param(
            [_header(body={"node": "Cube", "location": "up"})], p.InvalidArgument, "location", id="wrong-type"
        ),
        pytest.param(
            [_header(body={"node": "Cube", "location": [1, 2]})],
            p.InvalidArgument,
            "location",
            id="short-vector",
        ),
        pytest.param(
            [_header(body={"node": 5, "location": [1, 2, 3]})], p.InvalidArgument, "node", id="int-for-string"
        ),
        pytest.param(
            [_header(body={"node": "Cube", "location": [1, 2, 3], "colour": 1})],
            p.InvalidArgument,
            "colour",
            id="unknown-field",
        ),
        pytest.param([_header("set_frame_range", {"fps": 500})], p.InvalidArgument, "fps", id="out-of-range"),
        pytest.param(
            [_header("set_camera", {"node": "C", "camera": {"lens": -1}})],
            p.InvalidArgument,
            "camera.lens",
            id="nested-out-of-range",
        ),
        pytest.param(
            [_header("create_node", {"kind": "blob", "name": "x"})],
            p.InvalidArgument,
            "kind",
            id="bad-literal",
        ),
        pytest.param(
            [
                _header(
                    "set_bone_pose", {**POSE, "rotations": {"$frame": 0, "dtype": "|O", "shape": [1, 4]}}
                ),
                QUAT,
            ],
            p.BadMessage,
            "rotations",
            id="bad-dtype",
        ),
        pytest.param(
            [_header("set_bone_pose", POSE), QUAT[:12]], p.BadMessage, "rotations", id="frame-size-mismatch"
        ),
        pytest.param([_header("set_bone_pose", POSE)], p.BadMessage, "rotations", id="missing-frame"),
        pytest.param([_header("hello", {}), b"stray"], p.BadMessage, "raw frames", id="unreferenced-frame"),
        pytest.param(
            [_header("put_asset", {"filename": "f", "data": "inline"})],
            p.BadMessage,
            "data",
            id="bytes-inline",
        ),
        pytest.param(
            [_header("hello", {})] + [b""] * (p.MAX_FRAMES + 1),
            p.TooLarge,
            "raw frames",
            id="too-many-frames",
        ),
        pytest.param(
            [_header("hello", {"client": "x" * p.MAX_HEADER_BYTES})],
            p.TooLarge,
            "header",
            id="header-too-large",
        ),
        pytest.param(
            [
                _header(
                    "batch",
                    {"commands": [{"type": "batch", "commands": [{"type": "delete_node", "node": "A"}]}]},
                )
            ],
            p.InvalidArgument,
            "commands[0]",
            id="nested-batch",
        ),
        pytest.param(
            [_header("batch", {"commands": [{"type": "hello"}]})],
            p.UnknownCommand,
            "commands[0]",
            id="query-in-batch",
        ),
        pytest.param([_header("batch", {"commands": []})], p.InvalidArgument, "commands", id="empty-batch"),
        pytest.param(
            [_header("set_material", {"node": "A", "material": {"type": "set_material", "roughness": 0.5}})],
            p.InvalidArgument,
            "material.type",
            id="type-key-in-a-nested-map",
        ),
        pytest.param(
            [_header("set_bone_pose", {**POSE, "rotations": {**POSE["rotations"], "dtype": ">f4"}}), QUAT],
            p.BadMessage,
            "not a plain numeric dtype",
            id="big-endian",
        ),
    ],
)
def test_malformed_input_is_rejected(parts, error, words):
    with pytest.raises(error) as caught:
        p.decode(parts)
    assert type(caught.value) is error
    assert words in f"{caught.value} (field {caught.value.field})"
    assert caught.value.code == error.code


@pytest.mark.parametrize(
    ("parts", "field"),
    [
        ([_header(body={"location": [1, 2, 3]})], "node"),
        ([_header(body={"node": "Cube", "location": "up"})], "location"),
        ([_header(body={"node": "Cube", "location": [1, 2, 3], "colour": 1})], "colour"),
        ([_header("set_frame_range", {"fps": 500})], "fps"),
        ([_header("set_camera", {"node": "C", "camera": {"lens": -1}})], "camera.lens"),
        ([_header("set_bone_pose", POSE), QUAT[:12]], "rotations"),
        ([_header("batch", {"commands": [{"type": "set_active_camera", "node": ""}]})], "commands[0].node"),
        (
            [
                _header(
                    "batch",
                    {"commands": [{"type": "set_material", "node": "C", "material": {"roughness": 2}}]},
                )
            ],
            "commands[0].material.roughness",
        ),
    ],
)
def test_errors_name_the_field(parts, field):
    with pytest.raises(p.ProtocolError) as caught:
        p.decode(parts)
    assert caught.value.field == field


def test_message_over_the_size_limit_is_too_large():
    big = memoryview(bytearray(p.MAX_MESSAGE_BYTES))
    with pytest.raises(p.TooLarge, match="limit"):
        p.decode([_header("put_asset", {"filename": "f", "data": {"$frame": 0}}), big])


def test_error_codes_map_back_to_exceptions():
    for cls in (p.BadMessage, p.UnknownCommand, p.InvalidArgument, p.NotFound, p.Conflict, p.TooLarge):
        assert type(p.error_for_code(cls.code.value, "m")) is cls
    assert type(p.error_for_code("no_such_code", "m")) is p.Internal


def test_a_compacted_error_carries_the_seq_to_resume_after():
    error = p.error_for_code("compacted", "events after 3 are compacted", "after", 40)
    assert type(error) is p.Compacted and error.seq == 40 and error.field == "after"


def _event(seq: int, **result) -> p.Event:
    return p.Event(seq=seq, command=MOVE, result=p.EventResult(**result))


def test_the_pure_data_mirror_applies_results_and_refuses_what_does_not_fit():
    child = dataclasses.replace(NODE, uuid=UUID_B, name="Child", parent=UUID_A, armature=None, pose=None)
    mirror = p.StageMirror(p.Snapshot(seq=10, scene=SCENE, nodes=(dataclasses.replace(NODE, parent=None),)))
    assert mirror.apply(_event(11, created=(child,)))
    assert mirror.apply(
        _event(12, changed=(p.NodeChange(uuid=UUID_B, name="Renamed", world=WORLD, cleared=("parent",)),))
    )
    assert mirror.nodes[UUID_B].name == "Renamed" and mirror.nodes[UUID_B].parent is None
    assert mirror.nodes[UUID_B].world == WORLD and mirror.nodes[UUID_B].transform == child.transform
    assert not mirror.apply(_event(12, deleted=(UUID_B,))), "an event held already is skipped"
    with pytest.raises(p.MirrorOutOfStep, match="gap"):
        mirror.apply(_event(14))
    with pytest.raises(p.MirrorOutOfStep, match="lacks"):
        mirror.apply(_event(13, changed=(p.NodeChange(uuid="f" * 32, name="Ghost"),)))
    assert mirror.seq == 12 and set(mirror.nodes) == {UUID_A, UUID_B}, "a refused event changes nothing"
    assert mirror.apply(_event(13, deleted=(UUID_B,), scene=dataclasses.replace(SCENE, fps=25)))
    assert set(mirror.nodes) == {UUID_A} and mirror.scene.fps == 25
    assert [n.name for n in mirror.tree()] == ["Hero"]


def test_a_node_change_clears_only_what_can_be_absent():
    with pytest.raises(p.InvalidArgument, match="cleared"):
        p.NodeChange(uuid=UUID_A, cleared=("transform",))


def test_keys_an_event_sets_merge_into_the_curves_by_frame():
    curve = p.AnimationCurve(path="location", frames=np.array([1.0, 5.0]), values=np.array([0.0, 1.0]))
    keys = (
        p.AnimationCurve(path="location", frames=np.array([5.0, 9.0]), values=np.array([2.0, 3.0])),
        p.AnimationCurve(path="location", index=2, frames=np.array([1.0]), values=np.array([7.0])),
    )
    merged = with_keys((curve,), keys)
    assert [(c.path, c.index) for c in merged] == [("location", 0), ("location", 2)]
    assert merged[0].frames.tolist() == [1.0, 5.0, 9.0] and merged[0].values.tolist() == [0.0, 2.0, 3.0]
