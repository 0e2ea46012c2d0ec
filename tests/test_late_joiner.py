"""A client with its own bpy joins late, rebuilds the stage from a snapshot and follows events."""

from __future__ import annotations

import dataclasses
import threading

import numpy as np
import pytest

from protocols import (
    ArmatureSpec,
    AssetRef,
    CameraParams,
    CreateNode,
    LightParams,
    MaterialParams,
    MeshSpec,
    SetBonePose,
    SetCamera,
    SetLight,
    SetMaterial,
    SetParent,
    SetTransform,
    Transform,
)
from scene import ReplicaGap, open_replica

OBJ = "v 0 0 0\nv 1 0 0\nv 0 1 0\nv 0 0 1\nf 1 2 3\nf 1 2 4\nf 1 3 4\nf 2 3 4\n"


def _build(client, sha: str) -> None:
    client.apply(CreateNode(kind="mesh", name="Floor", mesh=MeshSpec(primitive="plane", size=10.0)))
    client.apply(
        CreateNode(
            kind="mesh",
            name="Ball",
            mesh=MeshSpec(primitive="uv_sphere", size=0.4),
            material=MaterialParams(base_color=(0.9, 0.1, 0.1, 1.0), roughness=0.1),
            transform=Transform(location=(0.5, 0.0, 0.4)),
        )
    )
    client.apply(
        CreateNode(kind="armature", name="Hero", armature=ArmatureSpec(rig="smplx", body="mannequin"))
    )
    client.apply(CreateNode(kind="asset", name="Wedge", asset=AssetRef(sha256=sha, format="obj")))
    client.apply(CreateNode(kind="camera", name="CamA", camera=CameraParams(lens=35.0, fstop=2.8)))
    client.apply(CreateNode(kind="light", name="Key", light=LightParams(light_type="area", energy=400.0)))


def _change(client, step: int) -> None:
    client.apply(SetTransform(node="Ball", location=(0.5, 0.1 * step, 0.4)))
    client.apply(SetMaterial(node="Ball", material=MaterialParams(roughness=0.05 * (step % 10))))
    client.apply(SetCamera(node="CamA", camera=CameraParams(lens=24.0 + step, focus_target="Ball")))
    client.apply(SetLight(node="Key", light=LightParams(energy=100.0 + step)))
    angle = 0.05 * step
    rotation = np.array([[np.cos(angle), 0.0, 0.0, np.sin(angle)]])
    client.apply(SetBonePose(node="Hero", bones=("right_elbow",), rotations=rotation))
    if step == 3:
        client.apply(SetParent(node="Ball", parent="Hero", bone="right_wrist"))


def test_late_joiner_rebuilds_the_same_scene_and_follows(empty_stage, tmp_path) -> None:
    obj = tmp_path / "wedge.obj"
    obj.write_text(OBJ)
    with empty_stage.client() as writer, empty_stage.client() as joiner:
        sha = writer.put_asset(obj)
        _build(writer, sha)
        _change(writer, 1)

        events = joiner.subscribe()
        snapshot = joiner.snapshot()
        events.start_after(snapshot.seq)

        done = threading.Event()

        def keep_changing() -> None:
            with empty_stage.client() as other:
                for step in range(2, 8):
                    _change(other, step)
            done.set()

        changer = threading.Thread(target=keep_changing)
        changer.start()

        replica = open_replica(_Fixed(snapshot, joiner), tmp_path / "replica-assets")
        assert replica.seq == snapshot.seq
        changer.join()
        assert done.is_set()
        final_seq = joiner.hello().seq
        while replica.seq < final_seq:
            event = events.next(timeout=30)
            assert event is not None and replica.apply(event), "events arrive in order, without gaps"
        events.close()
        truth = joiner.snapshot()
        assert truth.seq == replica.seq
        stage = replica.stage
        assert stage.scene_settings() == truth.scene
        assert stage.snapshot_nodes() == truth.nodes
        hero_pose = stage.node_state("Hero").pose
        assert "right_elbow" in hero_pose.bones
        assert stage.node_state("Ball").parent_bone == "right_wrist"
        with pytest.raises(ReplicaGap):  # an event past a gap is refused, not applied
            replica.apply(dataclasses.replace(event, seq=replica.seq + 2))
        assert not replica.apply(event)  # one it already holds is skipped


class _Fixed:
    """The snapshot taken before the changes started, and the stage's assets."""

    def __init__(self, snapshot, client) -> None:
        self._snapshot, self._client = snapshot, client

    def snapshot(self):
        return self._snapshot

    def get_asset(self, sha256: str) -> bytes:
        return self._client.get_asset(sha256)
