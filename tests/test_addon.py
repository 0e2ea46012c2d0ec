"""The Blender extension, built and installed into two real ``bpy`` processes, against a real stage.

The tests share one stage and two Blenders (A and B) plus a script client; each makes the nodes
it needs, so any one of them runs alone, or in any order.
"""

from __future__ import annotations

import math
import sys
import time
from pathlib import Path

import msgpack
import numpy as np
import pytest
from harness import StageProcess

from protocols import (
    PROTOCOL_VERSION,
    ArmatureSpec,
    BoneSpec,
    CameraParams,
    CreateNode,
    LightParams,
    MaterialParams,
    MeshSpec,
    NotFound,
    RackFocus,
    SetBonePose,
    SetMaterial,
    SetTransform,
)

sys.path.insert(0, str(Path(__file__).parent))
from addon_driver import Driver, DriverError, stock_blender_path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "blender_addon"))
import build  # noqa: E402


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("addon")
    zip_path = build.build(tmp / "dist", ROOT / "dist" / "wheels")
    stage = StageProcess(tmp / "stage", "--empty").start()
    drivers = [Driver(tmp / f"blender-{name}") for name in "ab"]
    artists = ("Ana", "Ben")
    world = {"stage": stage, "a": drivers[0], "b": drivers[1], "script": stage.client(), "zip": zip_path}
    try:
        for driver, artist in zip(drivers, artists, strict=True):
            installed = driver.call("install", zip=str(zip_path))
            assert installed["module"] == "bl_ext.user_default.stagecraft"
            assert "/extensions/user_default/stagecraft/" in installed["file"]
            driver.call("add_local", name="ArtistOwn")
            driver.call("connect", endpoint=stage.commands, artist=artist)
        yield world
    finally:
        world["script"].close()
        for driver in drivers:
            driver.close()
        if world["stage"].running:
            world["stage"].kill()


def shared_mesh(world, name: str) -> str:
    """A cube ``name`` on the stage that both Blenders have received."""
    world["script"].apply(CreateNode(kind="mesh", name=name, mesh=MeshSpec(primitive="cube")))
    for blender in (world["a"], world["b"]):
        blender.call("tick_until", cond={"name": name})
    return name


def wait_server(script, name: str, location, timeout: float = 20.0) -> None:
    """Until the stage's node ``name`` (which may not exist yet) is at ``location``."""
    deadline = time.monotonic() + timeout
    while not _at(script, name, location):
        if time.monotonic() > deadline:
            raise TimeoutError(f"the stage's {name} never reached {location}")


def _at(script, name: str, location) -> bool:
    try:
        return bool(np.allclose(script.node(name).transform.location, location, atol=1e-4))
    except NotFound:  # a node an artist made that the stage has not applied yet
        return False


def test_script_change_reaches_both_blenders(world):
    script = world["script"]
    script.apply(CreateNode(kind="mesh", name="Crate", mesh=MeshSpec(primitive="cube")))
    script.apply(SetTransform(node="Crate", location=(1.0, 2.0, 3.0)))
    for blender in (world["a"], world["b"]):
        blender.call("tick_until", cond={"name": "Crate", "location": [1, 2, 3]})


def test_blender_change_reaches_stage_and_other_blender(world):
    a, b = world["a"], world["b"]
    box = shared_mesh(world, "Box")
    a.call("move", name=box, location=[-1.5, 0.25, 0.5])
    a.call("tick", n=1)
    wait_server(world["script"], box, (-1.5, 0.25, 0.5))
    b.call("tick_until", cond={"name": box, "location": [-1.5, 0.25, 0.5]})
    a.call("tick_until", cond={"applied_seq": b.call("status")["status"]["applied_seq"]})
    assert a.call("state", name=box)["location"] == pytest.approx([-1.5, 0.25, 0.5])


def test_concurrent_edits_resolve_by_the_stage_order(world):
    a, b, script = world["a"], world["b"], world["script"]
    contested = shared_mesh(world, "Contested")
    before = script.hello().seq
    a.call("move", name=contested, location=[7.0, 0.0, 0.0], tick=True)  # both sent before either
    b.call("move", name=contested, location=[8.0, 0.0, 0.0], tick=True)  # sees the other's
    deadline = time.monotonic() + 20
    while (seq := script.hello().seq) < before + 2:
        if time.monotonic() > deadline:
            raise TimeoutError("the two edits never reached the stage")
    winner = list(script.node(contested).transform.location)
    assert winner in ([7.0, 0.0, 0.0], [8.0, 0.0, 0.0])
    for blender in (a, b):
        blender.call("tick_until", cond={"name": contested, "location": winner, "applied_seq": seq})
    conflicts = [blender.call("status")["status"]["conflict"] for blender in (a, b)]
    assert any("won over" in c for c in conflicts), conflicts
    assert any("was overridden by seq" in c for c in conflicts), conflicts


def test_camera_lens_edit_goes_up(world):
    a, b, script = world["a"], world["b"], world["script"]
    script.apply(CreateNode(kind="camera", name="CamA", camera=CameraParams(lens=35.0)))
    a.call("tick_until", cond={"name": "CamA"})
    a.call("set", name="CamA", path="data.lens", value=85.0)
    a.call("tick", n=1)
    deadline = time.monotonic() + 20
    while script.node("CamA").camera.lens != pytest.approx(85.0):
        if time.monotonic() > deadline:
            raise TimeoutError("the lens never reached the stage")
    b.call("tick_until", cond={"applied_seq": a.call("status")["status"]["applied_seq"]})
    assert b.call("get", name="CamA", path="data.lens")["value"] == pytest.approx(85.0)


def test_bone_parented_prop_follows_the_bone(world):
    a, b, script = world["a"], world["b"], world["script"]
    bones = (
        BoneSpec(name="root", head=(0, 0, 0), tail=(0, 0, 1)),
        BoneSpec(name="hand", head=(0, 0, 1), tail=(0, 0, 1.5), parent="root"),
    )
    script.apply(CreateNode(kind="armature", name="Hero", armature=ArmatureSpec(bones=bones)))
    script.apply(CreateNode(kind="mesh", name="Shaker", mesh=MeshSpec(primitive="cube", size=0.1)))
    a.call("tick_until", cond={"name": "Shaker"})
    assert a.call("attach", prop="Shaker", character="Hero", bone="hand")["result"] == ["FINISHED"]
    for blender in (a, b):  # keep_world=False: at the tail of "hand"
        blender.call("tick_until", cond={"name": "Shaker", "bone": "hand", "world": [0, 0, 1.5]})
    # rotate "root" 90° about X: the hand's tail goes from (0, 0, 1.5) to (0, -1.5, 0)
    quarter = np.array([[np.cos(np.pi / 4), np.sin(np.pi / 4), 0, 0]], dtype=np.float32)
    script.apply(SetBonePose(node="Hero", bones=("root",), rotations=quarter))
    for blender in (a, b):
        blender.call("tick_until", cond={"name": "Shaker", "world": [0, -1.5, 0], "tol": 1e-3})


def test_malformed_event_is_reported_and_the_session_goes_on(world):
    a, script = world["a"], world["script"]
    probe = shared_mesh(world, "Probe")
    header = {"v": PROTOCOL_VERSION, "id": "x" * 32, "type": "event", "session": "stage", "parent": None}
    bad_command = {**header, "body": {"seq": 10**6, "command": {"type": "teleport", "node": probe}}}
    not_an_event = {**header, "type": "hello", "body": {"client": "intruder"}}
    for frames in (
        [b"event", b"\xc1 not msgpack"],
        [b"event", msgpack.packb(bad_command)],
        [b"event", msgpack.packb(not_an_event)],
        [b"wrong-topic"],
    ):
        status = a.call("feed", frames=[f.hex() for f in frames])["status"]
        assert status["state"] == "connected"
        assert status["last_error"].startswith("ignored a malformed event")
    script.apply(SetTransform(node=probe, location=(4.0, 4.0, 4.0)))
    a.call("tick_until", cond={"name": probe, "location": [4, 4, 4]})


def test_no_duplicates_after_reconnect_and_server_restart(world):
    a, b = world["a"], world["b"]
    barrel = shared_mesh(world, "Barrel")
    bones = (BoneSpec(name="root", head=(0, 0, 0), tail=(0, 0, 1)),)
    world["script"].apply(CreateNode(kind="armature", name="Rig", armature=ArmatureSpec(bones=bones)))
    lamp = MeshSpec(primitive="cube", size=0.1)
    world["script"].apply(CreateNode(kind="mesh", name="Lamp", mesh=lamp, parent="Rig", parent_bone="root"))
    for blender in (a, b):
        blender.call("tick_until", cond={"name": "Lamp", "bone": "root"})
    before = a.call("objects")
    assert barrel in before["stage"]
    assert len(set(before["stage"])) == len(before["stage"])
    assert "ArtistOwn" in before["all"]
    a.call("disconnect")
    a.call("connect", endpoint=world["stage"].commands)
    assert a.call("objects") == before

    stage = world["stage"]
    stage.kill()
    port, event_port = (address.rsplit(":", 1)[1] for address in (stage.commands, stage.events))
    restarted = StageProcess(stage.data_dir, "--empty", "--port", port, "--event-port", event_port).start()
    world["stage"] = restarted
    world["script"].close()
    world["script"] = script = restarted.client()
    script.apply(SetTransform(node=barrel, location=(0.0, 5.0, 0.0)))
    for blender in (a, b):
        blender.call("tick_until", cond={"name": barrel, "location": [0, 5, 0], "state": "connected"})
        assert blender.call("objects") == before
        assert blender.call("state", name="Lamp")["bone"] == "root"


def test_unregister_leaves_blender_clean(world, tmp_path):
    """A third Blender, connected and then uninstalled (A and B stay installed for the others)."""
    blender = Driver(tmp_path / "blender-c")
    try:
        blender.call("install", zip=str(world["zip"]))
        blender.call("connect", endpoint=world["stage"].commands)
        blender.call("tick_until", cond={"name": shared_mesh(world, "Leftover")})
        left = blender.call("uninstall")
    finally:
        blender.close()
    assert left == {"classes": [], "handlers": [], "operators": [], "addon_enabled": False, "timer": False}


def test_a_stage_with_keys_needs_the_artists_key(world, tmp_path):
    """Beyond loopback a stage requires CURVE keys: the panel's keys folder makes the add-on connect."""
    import subprocess

    keys = tmp_path / "keys"
    subprocess.run(
        [sys.executable, "-m", "stagecraft_cli", "keys", "generate", str(keys), "--client", "client"],
        cwd=ROOT, check=True, capture_output=True,
    )  # fmt: skip
    stage = StageProcess(tmp_path / "stage", "--empty", "--curve-dir", str(keys)).start()
    artist = Driver(tmp_path / "blender-keyed")
    try:
        artist.call("install", zip=str(build.build(tmp_path / "dist", ROOT / "dist" / "wheels")))
        with pytest.raises(DriverError, match="did not hold"):
            artist.call("connect", endpoint=stage.commands, timeout=1.0)  # no key: no answer
        # the add-on says why once its hello has gone unanswered: wait for that, not for a time
        refused = artist.call("tick_until", cond={"last_error_contains": "needs your key"}, timeout=120)
        assert refused["status"]["state"] != "connected"
        artist.call("disconnect")
        artist.call("connect", endpoint=stage.commands, key_dir=str(keys))
        assert artist.call("status")["status"]["state"] == "connected"
    finally:
        artist.close()
        stage.kill()


def test_the_built_addon_imports_only_blender_its_wheels_and_what_it_bundles(tmp_path):
    """A stock Blender has bpy, mathutils, numpy and the standard library; the zip brings the rest."""
    import ast
    import zipfile

    zip_path = build.build(tmp_path / "dist", ROOT / "dist" / "wheels")
    bundled_wheels = {"zmq", "msgpack"}
    blender = {"bpy", "mathutils", "bmesh", "numpy", "bpy_extras", "gpu", "idprop", "blf"}
    outside = []
    with zipfile.ZipFile(zip_path) as archive:
        for name in archive.namelist():
            if not name.endswith(".py"):
                continue
            tree = ast.parse(archive.read(name), name)
            for node in ast.walk(tree):
                if isinstance(node, ast.Import):
                    roots = [a.name.split(".")[0] for a in node.names]
                elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                    roots = [node.module.split(".")[0]]
                else:
                    continue
                for root in roots:
                    if root not in sys.stdlib_module_names | bundled_wheels | blender:
                        outside.append(f"{name}:{node.lineno} imports {root}")
    assert outside == []


def test_the_built_addon_installs_enables_and_syncs_in_a_blender_with_nothing_of_ours(tmp_path):
    """Blender's own extension operator, in a Python that has only what Blender bundles."""
    stage = StageProcess(tmp_path / "stage", "--empty").start()
    blender = Driver(tmp_path / "blender-stock", stock=stock_blender_path(tmp_path / "stock"))
    try:
        assert blender.call("environment")["modules"] == ["numpy"], "this Python has only what Blender has"
        installed = blender.call("install", zip=str(build.build(tmp_path / "dist", ROOT / "dist" / "wheels")))
        assert installed["result"] == ["FINISHED"] and installed["enabled"]
        blender.call("connect", endpoint=stage.commands)
        with stage.client() as script:
            script.apply(CreateNode(kind="mesh", name="Crate", mesh=MeshSpec(primitive="cube")))
            blender.call("tick_until", cond={"name": "Crate", "location": [0, 0, 0]})
            blender.call("move", name="Crate", location=[0.5, 1.0, 1.5], tick=True)
            wait_server(script, "Crate", (0.5, 1.0, 1.5))
    finally:
        blender.close()
        stage.kill()


def test_undo_sends_the_reverted_values_and_deletes_nothing(world):
    """Ctrl-Z re-allocates every object in Blender: that must not read as a delete."""
    a, b, script = world["a"], world["b"], world["script"]
    box = shared_mesh(world, "Undone")
    a.call("undo_push", message="before")
    a.call("move", name=box, location=[1.0, 0.0, 0.0], tick=True)
    wait_server(script, box, (1.0, 0.0, 0.0))
    a.call("undo_push", message="first move")
    a.call("move", name=box, location=[2.0, 0.0, 0.0], tick=True)
    wait_server(script, box, (2.0, 0.0, 0.0))
    a.call("undo_push", message="second move")
    a.call("undo")
    a.call("tick", n=3)
    wait_server(script, box, (1.0, 0.0, 0.0))  # the undone value is an edit like any other
    assert box in [n.name for n in script.tree().nodes], "the undo deleted nothing"
    b.call("tick_until", cond={"name": box, "location": [1.0, 0.0, 0.0]})


def test_playing_the_timeline_writes_nothing_to_the_stage(world):
    """Scrubbing through a rack focus and a keyed pose moves keyed values: not an artist's edit."""
    a, script = world["a"], world["script"]
    script.apply(CreateNode(kind="camera", name="Puller", camera=CameraParams()))
    script.apply(CreateNode(kind="mesh", name="Near", mesh=MeshSpec(primitive="cube")))
    script.apply(RackFocus(node="Puller", frames=24, from_distance=1.0, to_distance=6.0, start_frame=1))
    seq = script.hello().seq
    a.call("tick_until", cond={"applied_seq": seq})
    for frame in range(1, 25, 3):
        a.call("frame", frame=frame)
    a.call("frame", frame=1)
    a.call("tick", n=3)
    marker = script.apply(SetTransform(node="Near", location=(0.0, 0.0, 0.1))).seq
    events = script.events(after=seq).events
    assert [e.seq for e in events] == [marker], [type(e.command).__name__ for e in events]
    assert script.node("Puller").animation is not None, "the pull is intact"


def test_a_value_the_stage_refuses_is_taken_back_and_nothing_else(world):
    a, script = world["a"], world["script"]
    script.apply(CreateNode(kind="light", name="Overdriven", light=LightParams(energy=100.0)))
    box = shared_mesh(world, "Kept")
    a.call("tick_until", cond={"name": "Overdriven"})
    identity = a.call("get", name=box, path="session_uid")["value"]
    a.call("set", name="Overdriven", path="data.energy", value=2e7)  # over the stage's 10 MW limit
    a.call("move", name=box, location=[0.0, 3.0, 0.0], tick=True)
    a.call("tick_until", cond={"last_error_contains": "taken back"})
    assert a.call("get", name="Overdriven", path="data.energy")["value"] == pytest.approx(100.0)
    wait_server(script, box, (0.0, 3.0, 0.0))
    assert a.call("state", name=box)["location"] == pytest.approx([0.0, 3.0, 0.0]), "the other edit stays"
    assert a.call("get", name=box, path="session_uid")["value"] == identity, "no rebuild: the same object"


@pytest.mark.parametrize("linked", [False, True], ids=["shift-d", "alt-d"])
def test_a_duplicate_becomes_a_node_of_its_own(world, linked):
    a, b, script = world["a"], world["b"], world["script"]
    original = shared_mesh(world, f"Original{int(linked)}")
    copy = a.call("duplicate", name=original, **{"as": f"Copy{int(linked)}"}, linked=linked)["name"]
    a.call("move", name=copy, location=[4.0, 0.0, 0.0], tick=True)
    wait_server(script, copy, (4.0, 0.0, 0.0))
    nodes = {n.name: n.uuid for n in script.tree().nodes}
    assert nodes[copy] != nodes[original], "the copy has a uuid of its own"
    b.call("tick_until", cond={"name": copy, "location": [4.0, 0.0, 0.0]})
    assert b.call("state", name=original)["location"] == pytest.approx([0.0, 0.0, 0.0]), "the original stays"


def test_edits_to_different_fields_of_one_node_are_no_conflict(world):
    """Another client changes the material while this Blender's move is on its way: both stand."""
    a, script = world["a"], world["script"]
    box = shared_mesh(world, "TwoFields")
    seq = script.apply(
        SetMaterial(node=box, material=MaterialParams(roughness=0.9))
    ).seq  # before a hears of it
    a.call("move", name=box, location=[0.0, 0.0, 2.0], tick=True)  # sent; the material event comes next
    wait_server(script, box, (0.0, 0.0, 2.0))
    status = a.call("tick_until", cond={"applied_seq": seq + 1})["status"]
    assert status["conflict"] == "", status["conflict"]
    node = script.node(box)
    assert node.material.roughness == pytest.approx(0.9) and node.transform.location == (0.0, 0.0, 2.0)
    assert a.call("state", name=box)["location"] == pytest.approx([0.0, 0.0, 2.0])


def test_an_artists_rotation_modes_are_kept(world):
    """An animator's Euler XYZ object stays Euler XYZ: its turn reaches the stage as a rotation,
    and a turn from elsewhere lands in its own Euler channels, not in a forced quaternion."""
    a, b, script = world["a"], world["b"], world["script"]
    box = shared_mesh(world, "Turned")
    a.call("set", name=box, path="rotation_mode", value="XYZ")
    a.call("set", name=box, path="rotation_euler.z", value=0.5)  # the artist turns it about Z
    a.call("tick", n=2)
    deadline = time.monotonic() + 20
    while not np.allclose(
        script.node(box).transform.rotation, (math.cos(0.25), 0, 0, math.sin(0.25)), atol=1e-4
    ):
        assert time.monotonic() < deadline, script.node(box).transform
    b.call("tick_until", cond={"applied_seq": script.hello().seq})
    seq = script.apply(SetTransform(node=box, rotation=(math.cos(0.4), 0.0, 0.0, math.sin(0.4)))).seq
    a.call("tick_until", cond={"applied_seq": seq})
    assert a.call("get", name=box, path="rotation_mode")["value"] == "XYZ"
    assert a.call("get", name=box, path="rotation_euler.z")["value"] == pytest.approx(0.8, abs=1e-5)
    assert a.call("get", name=box, path="rotation_euler.x")["value"] == pytest.approx(0.0, abs=1e-6)
    a.call("tick", n=3)
    assert not script.events(after=seq).events, "applying the stage's turn sent nothing back"


def test_artists_see_each_other_by_name_with_what_they_selected(world):
    """Presence: each Blender names the other artist (from the name in its preferences), shows
    what they have selected in the panel and the viewport overlay, and names them in conflicts."""
    a, b, script = world["a"], world["b"], world["script"]
    box = shared_mesh(world, "Picked")
    b.call("select", names=[box])
    b.call("ping")  # Ben's Blender says hello with his selection (it does so every second it runs)
    a.call("tick_until", cond={"peer": ["Ben", [box]]})
    assert a.call("overlay")["labels"] == [[box, "Ben"]]
    b.call("select", names=[])
    b.call("ping")
    a.call("tick_until", cond={"peer": ["Ben", []]})
    assert a.call("overlay")["labels"] == []

    before = script.hello().seq
    a.call("move", name=box, location=[5.0, 0.0, 0.0], tick=True)  # both sent before either
    b.call("move", name=box, location=[6.0, 0.0, 0.0], tick=True)
    deadline = time.monotonic() + 20
    while (seq := script.hello().seq) < before + 2:
        assert time.monotonic() < deadline, "the two edits never reached the stage"
    for blender in (a, b):
        blender.call("tick_until", cond={"applied_seq": seq})
    conflicts = [blender.call("status")["status"]["conflict"] for blender in (a, b)]
    assert "from Ben" in conflicts[0] or "from Ana" in conflicts[1], conflicts  # the loser names the winner
