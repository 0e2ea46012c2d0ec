"""Events that carry results: their size per command kind, what working the result out costs
the stage thread, and how fast a pure-data follower applies them.

    python bench/bench_events.py

Sizes are of the encoded event (header and raw frames) as it is journaled and published; the
baseline is the same event without its result (what protocol 1 sent). The result's cost is the
stage thread's time per command (apply, check, encode the event) with and without it, on the
same scene in this process's Blender.
"""

from __future__ import annotations

import dataclasses
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))  # the test harness
from harness import StageProcess

import protocols as p
from scene import AssetStore, Stage

SMPLX_ROTATIONS = 55  # bones a mocap frame poses
APPLY_ROUNDS = 2000
FOLLOW_EVENTS = 20_000


def _scene_commands() -> list[p.Command]:
    return [
        p.CreateNode(kind="empty", name="Set"),
        p.CreateNode(kind="mesh", name="Crate", parent="Set", mesh=p.MeshSpec(primitive="cube")),
        p.CreateNode(kind="armature", name="Hero", armature=p.ArmatureSpec(rig="smplx", body="mannequin")),
        p.CreateNode(
            kind="camera",
            name="CamA",
            camera=p.CameraParams(lens=35.0),
            transform=p.Transform(location=(0, -6, 1.4), rotation=(0.7071, 0.7071, 0, 0)),
        ),
        p.CreateNode(kind="light", name="Key", light=p.LightParams(light_type="area", energy=400.0)),
    ]


def _kinds(bones: tuple[str, ...]) -> dict[str, p.Command]:
    """One command of each kind a stage sees most, against the scene above."""
    rotations = np.tile(np.array([[0.99, 0.1, 0.0, 0.0]], dtype=np.float32), (len(bones), 1))
    return {
        "set_transform": p.SetTransform(node="Crate", location=(1.0, 0.5, 0.0)),
        "set_transform_of_a_parent": p.SetTransform(node="Set", location=(0.0, 1.0, 0.0)),
        "set_camera": p.SetCamera(node="CamA", camera=p.CameraParams(fstop=2.0)),
        "set_light": p.SetLight(node="Key", light=p.LightParams(energy=600.0)),
        "set_material": p.SetMaterial(node="Crate", material=p.MaterialParams(roughness=0.3)),
        "set_bone_pose_55": p.SetBonePose(node="Hero", bones=bones, rotations=rotations),
        "set_bone_pose_55_keyed": p.SetBonePose(node="Hero", bones=bones, rotations=rotations, keyframe=10),
        "frame_shot": p.FrameShot(node="CamA", target="Hero", shot_size="medium"),
        "rack_focus_24": p.RackFocus(node="CamA", frames=24, to_target="Crate"),
        "create_node_mesh": p.CreateNode(kind="mesh", name="Prop", mesh=p.MeshSpec(primitive="uv_sphere")),
        "delete_node": p.DeleteNode(node="Prop"),
    }


def _size(event: p.Event) -> int:
    return sum(len(memoryview(part)) for part in p.encode(p.Envelope(body=event, session="stage")))


def event_sizes() -> dict[str, tuple[int, int]]:
    """Per command kind: (bytes without the result, bytes with it), from a real server's events."""
    sizes: dict[str, tuple[int, int]] = {}
    with tempfile.TemporaryDirectory(prefix="stagecraft-bench-") as scratch:
        stage = StageProcess(Path(scratch) / "stage", "--empty").start()
        try:
            with stage.client() as client:
                for command in _scene_commands():
                    client.apply(command)
                hero = client.node("Hero")
                assert hero.armature is not None and hero.armature.bones is not None
                bones = tuple(b.name for b in hero.armature.bones[:SMPLX_ROTATIONS])
                for kind, command in _kinds(bones).items():
                    seq = client.apply(command).seq
                    (event,) = client.events(after=seq - 1, limit=1).events
                    bare = dataclasses.replace(event, result=p.EventResult())
                    sizes[kind] = (_size(bare), _size(event))
        finally:
            stage.kill()
    return sizes


def result_cost() -> tuple[float, float]:
    """Microseconds per set_transform on the stage thread, applying it and encoding its event:
    without a result (the request only, as protocol 1 published) and with it."""
    with tempfile.TemporaryDirectory(prefix="stagecraft-bench-") as scratch:
        stage = Stage(AssetStore(Path(scratch)))
        stage.reset()
        for command in _scene_commands():
            stage.apply(command)
        for i in range(200):  # a stage of some size: 200 more props under the set
            stage.apply(
                p.CreateNode(kind="mesh", name=f"Prop{i}", parent="Set", mesh=p.MeshSpec(primitive="cube"))
            )

        def request_only(seq: int) -> None:
            resolved, _ = stage.apply(p.SetTransform(node="Crate", location=(seq * 1e-3, 0.0, 0.0)))
            p.encode(p.Envelope(body=p.Event(seq=seq, command=resolved, result=p.EventResult())))

        def with_result(seq: int) -> None:
            def seal(resolved: p.Command, result: p.EventResult) -> list:
                return p.encode(p.Envelope(body=p.Event(seq=seq, command=resolved, result=result)))

            stage.apply_and_seal(p.SetTransform(node="Crate", location=(seq * 1e-3, 0.0, 0.0)), seal)

        timings: dict[str, list[float]] = {"request_only": [], "with_result": []}
        for _ in range(3):  # interleaved, best of three: the machine's noise hits both alike
            for name, run in (("request_only", request_only), ("with_result", with_result)):
                started = time.perf_counter()
                for seq in range(APPLY_ROUNDS):
                    run(seq)
                timings[name].append((time.perf_counter() - started) / APPLY_ROUNDS * 1e6)
    return min(timings["request_only"]), min(timings["with_result"])


def follower_rate() -> float:
    """Events per second a StageMirror applies (set_transform results, the common case)."""
    uuid = "0b6c7d2f5e1a4c3b9d8e7f6a5b4c3d2e"
    node = p.NodeState(uuid=uuid, name="Crate", kind="mesh", transform=p.Transform())
    mirror = p.StageMirror(p.Snapshot(seq=0, scene=p.SceneSettings(), nodes=(node,)))
    events = []
    for seq in range(1, FOLLOW_EVENTS + 1):
        transform = p.Transform(location=(seq * 1e-3, 0.0, 0.0))
        world = (
            (1.0, 0.0, 0.0, seq * 1e-3),
            (0.0, 1.0, 0.0, 0.0),
            (0.0, 0.0, 1.0, 0.0),
            (0.0, 0.0, 0.0, 1.0),
        )
        change = p.NodeChange(uuid=uuid, transform=transform, world=world)
        command = p.SetTransform(node=uuid, location=transform.location)
        events.append(p.Event(seq=seq, command=command, result=p.EventResult(changed=(change,))))
    started = time.perf_counter()
    for event in events:
        mirror.apply(event)
    return FOLLOW_EVENTS / (time.perf_counter() - started)


def main() -> None:
    for kind, (bare, full) in event_sizes().items():
        print(f"event_bytes_{kind}: {full} bytes (without result {bare} bytes, x{full / bare:.2f})")
    plain, reported = result_cost()
    print(f"stage_thread_set_transform_request_only_event: {plain:.1f} us")
    print(f"stage_thread_set_transform_event_with_result: {reported:.1f} us (x{reported / plain:.2f})")
    print(f"pure_data_follower_apply: {follower_rate():.0f} events/s")


if __name__ == "__main__":
    main()
