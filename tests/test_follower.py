"""Events carry results: a pure-data mirror and a bpy replica both follow a real stage exactly.

A random stream of every command kind (imports, bone parents, frame_shot, dolly zoom, rack focus,
batches, failing batches) goes to a real server. After every event the pure-data mirror
(``protocols.StageFollower``, no bpy) must equal ``get_snapshot`` and ``get_tree``, the bpy
replica's dump must equal both, and every world matrix must be the one Blender's own
evaluation gives.
"""

from __future__ import annotations

import dataclasses

import bpy
import numpy as np
import pytest
from harness import StageProcess
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

import protocols as p
from scene import open_replica

OBJ = "o Wedge\nv 0 0 0\nv 1 0 0\nv 0 1 0\nv 0 0 1\nf 1 2 3\nf 1 2 4\nf 1 3 4\nf 2 3 4\n"
KINDS = ["mesh", "mesh", "empty", "camera", "light", "armature", "asset"]
BONES = (
    p.BoneSpec(name="hips", head=(0, 0, 1.0), tail=(0, 0, 1.3)),
    p.BoneSpec(name="chest", head=(0, 0, 1.3), tail=(0, 0.1, 1.6), parent="hips"),
    p.BoneSpec(name="head", head=(0, 0.1, 1.6), tail=(0, 0.1, 1.85), parent="chest", roll=0.3),
)

SIMPLE = ["create", "delete", "rename", "move", "parent", "frames", "material", "camera", "active",
          "lens", "dolly_zoom", "frame_shot", "rack_focus", "light", "pose"]  # fmt: skip
OPS = [*SIMPLE, "create", "move", "pose", "batch", "failing_batch"]
ops = st.tuples(
    st.sampled_from(OPS),
    st.lists(st.integers(0, 1 << 20), min_size=12, max_size=12),
    st.lists(st.floats(0.0, 1.0), min_size=12, max_size=12),
)


class Choices:
    """Turns one drawn op's numbers into choices against the stage as it is now.

    Hypothesis draws the numbers without looking at the stage (its draws must not depend on
    outside state); the choices they make here do.
    """

    def __init__(self, ints: list[int], units: list[float]) -> None:
        self._ints, self._units, self._i, self._u = ints, units, 0, 0

    def number(self, below: int) -> int:
        value = self._ints[self._i % len(self._ints)]
        self._i += 1
        return value % below

    def pick(self, items: list):
        return items[self.number(len(items))]

    def flag(self) -> bool:
        return self.number(2) == 1

    def unit(self) -> float:
        value = self._units[self._u % len(self._units)]
        self._u += 1
        return round(value, 4)

    def between(self, low: float, high: float) -> float:
        return round(low + (high - low) * self.unit(), 3)

    def transform(self) -> p.Transform:
        location = (self.between(-4, 4), self.between(-4, 4), self.between(-4, 4))
        q = (self.between(0.2, 1.0), self.between(-1, 1), self.between(-1, 1), self.between(-1, 1))
        size = self.between(0.5, 2.0)
        return p.Transform(location=location, rotation=q, scale=(size, size, size))


class Scenario:
    """The server, the writer, the pure-data follower and the bpy replica, for the whole module."""

    def __init__(self, stage: StageProcess, scratch) -> None:
        self.stage = stage
        self.writer = stage.client()
        self.follower = p.StageFollower(stage.client())
        obj = scratch / "wedge.obj"
        obj.write_text(OBJ)
        self.sha = self.writer.put_asset(obj)
        self.replica_client = stage.client()
        self.replica = open_replica(self.replica_client, scratch / "replica")
        self.counter = 0

    def close(self) -> None:
        self.follower.close()
        for client in (self.writer, self.follower.client, self.replica_client):
            client.close()

    def name(self) -> str:
        self.counter += 1
        return f"N{self.counter}"

    def uuid(self) -> str:
        """A fresh uuid, the same in every run (the stream is then the same in every run)."""
        return f"{self.counter:032x}"

    def nodes(self, *kinds: str) -> list[p.NodeState]:
        nodes = sorted(self.follower.mirror.nodes.values(), key=lambda n: n.name)
        return [n for n in nodes if not kinds or n.kind in kinds]


@pytest.fixture(scope="module")
def scenario(tmp_path_factory):
    directory = tmp_path_factory.mktemp("follower")
    stage = StageProcess(directory / "stage", "--empty").start()
    try:
        scenario = Scenario(stage, directory)
        yield scenario
        scenario.close()
    finally:
        stage.kill()


def _create(c: Choices, s: Scenario) -> p.CreateNode:
    kind = c.pick(KINDS)
    specs: dict = {}
    if kind == "mesh":
        specs["mesh"] = p.MeshSpec(primitive=c.pick(["cube", "uv_sphere", "cone"]), segments=8)
        specs["material"] = p.MaterialParams(roughness=c.unit())
    elif kind == "camera":
        targets = s.nodes("mesh", "armature")
        target = c.pick(targets).uuid if targets and c.flag() else None
        specs["camera"] = p.CameraParams(lens=c.pick([24.0, 35.0, 50.0]), focus_target=target)
    elif kind == "light":
        specs["light"] = p.LightParams(light_type=c.pick(["point", "spot", "area", "sun"]))
    elif kind == "armature":
        specs["armature"] = p.ArmatureSpec(bones=BONES)
    elif kind == "asset":
        specs["asset"] = p.AssetRef(sha256=s.sha, format="obj")
    parent, bone = None, None
    parents = s.nodes()
    if parents and c.flag():
        chosen = c.pick(parents)
        parent = chosen.uuid
        if chosen.kind == "armature" and c.flag():
            bone = c.pick([b.name for b in BONES])
    name = s.name()
    return p.CreateNode(
        kind=kind, name=name, uuid=s.uuid(), parent=parent, parent_bone=bone, transform=c.transform(), **specs
    )


def _simple(op: str, c: Choices, s: Scenario) -> p.Command:
    """One command that is not a batch (it may still fail: a cycle, a material on an import);
    an op the stage has no node for becomes a create."""
    nodes = s.nodes()
    cameras, lights, rigs, meshes = s.nodes("camera"), s.nodes("light"), s.nodes("armature"), s.nodes("mesh")
    subjects = s.nodes("mesh", "armature", "asset")
    needs = {"camera": cameras, "active": cameras, "lens": cameras, "light": lights, "pose": rigs,
             "material": meshes, "dolly_zoom": cameras and subjects, "frame_shot": cameras and subjects,
             "rack_focus": cameras and subjects}  # fmt: skip
    if op != "create" and not needs.get(op, nodes):
        op = "create"
    match op:
        case "create":
            return _create(c, s)
        case "delete":
            return p.DeleteNode(node=c.pick(nodes).uuid)
        case "rename":
            return p.RenameNode(node=c.pick(nodes).name, name=s.name())
        case "move":
            t = c.transform()
            return p.SetTransform(node=c.pick(nodes).uuid, location=t.location, rotation=t.rotation)
        case "parent":
            parent = c.pick(nodes) if c.flag() else None
            bone = c.pick([b.name for b in BONES]) if parent and parent.kind == "armature" else None
            return p.SetParent(
                node=c.pick(nodes).uuid,
                parent=parent.uuid if parent else None,
                bone=bone,
                keep_world=c.flag(),
            )
        case "frames":
            return p.SetFrameRange(current=1 + c.number(30))
        case "material":
            color = (c.unit(), 0.5, 0.25, 1.0)
            return p.SetMaterial(node=c.pick(meshes).uuid, material=p.MaterialParams(base_color=color))
        case "camera":
            target = c.pick(subjects).uuid if subjects and c.flag() else None
            params = p.CameraParams(fstop=c.pick([1.4, 2.8, 8.0]), focus_target=target)
            return p.SetCamera(node=c.pick(cameras).uuid, camera=params)
        case "active":
            return p.SetActiveCamera(node=c.pick(cameras).uuid)
        case "lens":
            return p.SetLens(node=c.pick(cameras).uuid, focal_mm=c.pick([18.0, 40.0, 85.0]))
        case "dolly_zoom":
            return p.SetLens(
                node=c.pick(cameras).uuid,
                focal_mm=c.pick([24.0, 50.0, 85.0]),
                mode="dolly_zoom",
                target=c.pick(subjects).uuid,
            )
        case "frame_shot":
            return p.FrameShot(
                node=c.pick(cameras).uuid,
                target=c.pick(subjects).uuid,
                shot_size=c.pick(["close_up", "medium", "full", "wide"]),
            )
        case "rack_focus":
            return p.RackFocus(
                node=c.pick(cameras).uuid,
                frames=4 + c.number(9),
                to_target=c.pick(subjects).uuid,
                start_frame=1 + c.number(20),
            )
        case "light":
            params = p.LightParams(
                light_type=c.pick([None, "point", "spot", "area"]), energy=c.pick([50.0, 400.0])
            )
            return p.SetLight(node=c.pick(lights).uuid, light=params)
        case "pose":
            names = [b.name for b in BONES]
            bones = tuple(dict.fromkeys(c.pick(names) for _ in range(1 + c.number(3))))
            quats = np.array([c.transform().rotation for _ in bones], dtype=np.float32)
            keyframe = c.pick([None, None, 1, 10, 20])
            return p.SetBonePose(node=c.pick(rigs).uuid, bones=bones, rotations=quats, keyframe=keyframe)
    raise AssertionError(f"op {op!r} is not handled")


def _command(op: str, c: Choices, s: Scenario) -> p.Command:
    if op not in ("batch", "failing_batch"):
        return _simple(op, c, s)
    commands = [_simple(c.pick(SIMPLE), c, s) for _ in range(2 + c.number(3))]
    if op == "failing_batch":
        commands.append(p.DeleteNode(node="no such node"))
    return p.Batch(commands=tuple(commands))


def _differences(ours: dict[str, p.NodeState], theirs: dict[str, p.NodeState]) -> list[str]:
    """Field by field, where two copies of the stage's nodes differ (empty: they are equal)."""
    found = [f"node {u} only on one side" for u in set(ours) ^ set(theirs)]
    for uuid in set(ours) & set(theirs):
        a, b = ours[uuid], theirs[uuid]
        for field in dataclasses.fields(p.NodeState):
            if getattr(a, field.name) != getattr(b, field.name):
                found.append(f"{a.name}.{field.name}: {getattr(a, field.name)} != {getattr(b, field.name)}")
    return found


def _check_against_the_stage(s: Scenario, event: p.Event) -> None:
    mirror = s.follower.mirror
    truth = s.writer.snapshot()
    assert truth.seq == mirror.seq == event.seq
    assert mirror.scene == truth.scene
    differences = _differences(mirror.nodes, {n.uuid: n for n in truth.nodes})
    assert not differences, f"the mirror, after {event.command}:\n" + "\n".join(differences)
    assert {n.uuid: n for n in mirror.tree()} == {n.uuid: n for n in s.writer.tree().nodes}
    assert s.replica.apply(event)
    stage = s.replica.stage
    assert stage.scene_settings() == truth.scene
    differences = _differences({n.uuid: n for n in stage.snapshot_nodes()}, mirror.nodes)
    assert not differences, f"the replica, after {event.command}:\n" + "\n".join(differences)
    bpy.context.view_layer.update()  # Blender's own evaluation, to check the worked-out matrices
    for uuid, node in mirror.nodes.items():
        evaluated = np.array(stage.object(uuid).matrix_world)
        assert np.allclose(np.array(node.world), evaluated, atol=1e-4), f"world of {node.name}"


@settings(
    max_examples=12,
    deadline=None,
    derandomize=True,
    phases=[Phase.explicit, Phase.generate],  # no shrinking: the stage carries state between examples
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(program=st.lists(ops, min_size=25, max_size=25))
def test_a_mirror_and_a_replica_follow_every_command_exactly(scenario: Scenario, program) -> None:
    s = scenario
    for op, ints, units in program:
        command = _command(op, Choices(ints, units), s)
        before = s.writer.hello().seq
        try:
            applied = s.writer.apply(command)
        except p.ProtocolError:
            assert s.writer.hello().seq == before, "a refused command publishes nothing"
            continue
        event = None
        while s.follower.mirror.seq < applied.seq:
            event = s.follower.poll(timeout=30)
            assert event is not None, "the event of an acknowledged command arrives"
        assert event is not None and event.seq == applied.seq
        _check_against_the_stage(s, event)
    assert s.follower.snapshots_taken == 1, "the follower never had to take a new snapshot"
