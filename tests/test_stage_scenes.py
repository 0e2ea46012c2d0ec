"""stage_scenes: the SMPL-X skeleton, the stage file loader and the bundled default stage."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

import stage_scenes
from protocols import (
    ArmatureSpec,
    CreateNode,
    Frames,
    MaterialParams,
    MeshSpec,
    SetActiveCamera,
    SetBonePose,
    SetFrameRange,
    StagecraftError,
    Transform,
    from_wire,
    to_wire,
)
from stage_scenes import (
    SMPLX_JOINT_NAMES,
    SMPLX_PARENTS,
    StageFileError,
    default_stage_path,
    load_stage,
    smplx_bones,
    smplx_joint_positions,
)
from stage_scenes._rotations import euler_deg_to_quaternion, look_at_quaternion

# The SMPL-X kinematic tree as published with the model (kintree_table[0], first 55 joints).
SMPLX_KINTREE = (
    -1, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 9, 9, 12, 13, 14, 16, 17, 18, 19, 15, 15, 15,
    20, 25, 26, 20, 28, 29, 20, 31, 32, 20, 34, 35, 20, 37, 38,
    21, 40, 41, 21, 43, 44, 21, 46, 47, 21, 49, 50, 21, 52, 53,
)  # fmt: skip
BODY_NAMES = (
    "pelvis",
    "left_hip",
    "right_hip",
    "spine1",
    "left_knee",
    "right_knee",
    "spine2",
    "left_ankle",
    "right_ankle",
    "spine3",
    "left_foot",
    "right_foot",
    "neck",
    "left_collar",
    "right_collar",
    "head",
    "left_shoulder",
    "right_shoulder",
    "left_elbow",
    "right_elbow",
    "left_wrist",
    "right_wrist",
    "jaw",
    "left_eye_smplhf",
    "right_eye_smplhf",
)
FINGERS = ("index", "middle", "pinky", "ring", "thumb")


def test_exports():
    assert sorted(stage_scenes.__all__) == sorted(
        [
            "SMPLX_JOINT_NAMES",
            "SMPLX_PARENTS",
            "StageFile",
            "StageFileError",
            "default_stage_path",
            "load_stage",
            "smplx_bones",
            "smplx_joint_positions",
        ]
    )
    for name in stage_scenes.__all__:
        assert getattr(stage_scenes, name) is not None


# --- the SMPL-X skeleton ------------------------------------------------------------------------


def test_smplx_names_and_kintree():
    hands = [f"{side}_{finger}{k}" for side in ("left", "right") for finger in FINGERS for k in (1, 2, 3)]
    assert (*BODY_NAMES, *hands) == SMPLX_JOINT_NAMES
    assert len(SMPLX_JOINT_NAMES) == 55
    assert SMPLX_PARENTS == SMPLX_KINTREE


def test_smplx_bones_follow_the_kintree_parents_first():
    bones = smplx_bones()
    assert [b.name for b in bones] == list(SMPLX_JOINT_NAMES)
    for i, bone in enumerate(bones):
        parent = SMPLX_PARENTS[i]
        assert bone.parent == (SMPLX_JOINT_NAMES[parent] if parent >= 0 else None)
        assert parent < i
    ArmatureSpec(bones=bones)  # validates unique names, parents listed first


def test_smplx_bone_heads_are_joints_and_tails_reach_the_main_child():
    bones = {b.name: b for b in smplx_bones()}
    joints = dict(zip(SMPLX_JOINT_NAMES, smplx_joint_positions().tolist(), strict=True))
    for name, bone in bones.items():
        assert bone.head == pytest.approx(joints[name], abs=1e-6)
        assert math.dist(bone.head, bone.tail) > 0.005
    for parent, child in [
        ("pelvis", "spine1"),
        ("spine3", "neck"),
        ("neck", "head"),
        ("left_hip", "left_knee"),
        ("right_knee", "right_ankle"),
        ("left_shoulder", "left_elbow"),
        ("right_elbow", "right_wrist"),
        ("left_index1", "left_index2"),
        ("right_thumb2", "right_thumb3"),
    ]:
        assert bones[parent].tail == pytest.approx(bones[child].head)


def test_smplx_proportions_t_pose():
    joints = dict(zip(SMPLX_JOINT_NAMES, smplx_joint_positions(), strict=True))
    z = {name: p[2] for name, p in joints.items()}
    assert (
        z["head"] > z["neck"] > z["spine3"] > z["spine1"] > z["pelvis"] > z["left_knee"] > z["left_ankle"] > 0
    )
    top_of_head = max(b.tail[2] for b in smplx_bones())
    assert 1.65 < top_of_head < 1.85
    assert min(b.head[2] for b in smplx_bones()) >= 0.0  # standing on the floor
    # T-pose: arms level at shoulder height; arm span about the body height
    for side in ("left", "right"):
        assert z[f"{side}_wrist"] == pytest.approx(z[f"{side}_shoulder"], abs=0.01)
    span = joints["left_middle3"][0] - joints["right_middle3"][0]
    assert 1.5 < span < 1.9
    # left on +X, right mirrored on -X; facing -Y: toes and eyes ahead of the ankles and head
    for name, p in joints.items():
        if name.startswith("left_"):
            assert p[0] > 0
            assert joints["right_" + name.removeprefix("left_")] == pytest.approx(p * [-1, 1, 1])
    assert joints["left_foot"][1] < joints["left_ankle"][1]
    assert joints["left_eye_smplhf"][1] < joints["head"][1]


# --- rotations ------------------------------------------------------------------------------------


def _rotate(q, v):
    w, x, y, z = q
    r = np.array(
        [
            [1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y)],
            [2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x)],
            [2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)],
        ]
    )
    return r @ np.asarray(v, dtype=float)


def test_euler_degrees_are_blender_xyz():
    h = math.sqrt(0.5)
    assert euler_deg_to_quaternion((90, 0, 0)) == pytest.approx((h, h, 0, 0))
    assert euler_deg_to_quaternion((0, 0, 0)) == (1.0, 0.0, 0.0, 0.0)
    # XYZ: X first, then Y, then Z (world axes): +Y --X90--> +Z --Y90--> +X --Z90--> +Y
    q = euler_deg_to_quaternion((90, 90, 90))
    assert _rotate(q, (0, 1, 0)) == pytest.approx((0, 1, 0), abs=1e-9)
    assert _rotate(q, (1, 0, 0)) == pytest.approx((0, 0, -1), abs=1e-9)


@pytest.mark.parametrize(
    ("location", "target"),
    [
        ((2.6, -6.2, 2.0), (0, 0.6, 1.0)),
        ((0, 0, 5), (0, 0, 0)),
        ((1, 1, 1), (1, 1, 3)),
        ((0, 3, 1), (0, 0, 1)),
    ],
)
def test_look_at_points_minus_z_at_the_target_with_a_level_horizon(location, target):
    q = look_at_quaternion(location, target)
    direction = np.subtract(target, location) / math.dist(target, location)
    assert _rotate(q, (0, 0, -1)) == pytest.approx(direction, abs=1e-9)
    assert _rotate(q, (1, 0, 0))[2] == pytest.approx(0, abs=1e-9)
    assert _rotate(q, (0, 1, 0))[2] >= -1e-9  # the view is upright


# --- the default stage ------------------------------------------------------------------------


def test_default_stage_loads_into_valid_commands():
    stage = load_stage(default_stage_path())
    assert default_stage_path().name == "default.toml"
    for command in stage.commands:  # every command survives the wire, i.e. validates
        assert from_wire(type(command), to_wire(command, frames := Frames()), frames) == command
    creates = {c.name: c for c in stage.commands if isinstance(c, CreateNode)}
    hero = creates["Hero"]
    assert hero.kind == "armature" and hero.armature == ArmatureSpec(rig="smplx", body="mannequin")
    assert (creates["Shaker"].parent, creates["Shaker"].parent_bone) == ("Hero", "right_wrist")
    assert creates["CamA"].camera.lens == 24
    assert (creates["CamB"].camera.lens, creates["CamB"].camera.fstop) == (85, 2.0)
    assert creates["CamB"].camera.use_dof and creates["CamB"].camera.focus_target == "HeroFocus"
    assert sorted(c.light.light_type for c in creates.values() if c.kind == "light") == [
        "area",
        "area",
        "spot",
    ]
    metals = {n: c.material.metallic for n, c in creates.items() if c.material is not None}
    assert metals["Shaker"] == 1.0 and metals["Crate"] == 0.0
    assert stage.commands[-2:] == (
        SetActiveCamera(node="CamA"),
        SetFrameRange(current=1, start=1, end=120, fps=24),
    )
    seen: set[str] = set()
    for command in stage.commands:
        if isinstance(command, CreateNode):
            assert command.parent is None or command.parent in seen
            assert command.camera is None or command.camera.focus_target in (None, *seen)
            seen.add(command.name)


SMALL = """
[stage]
name = "Small"
asset_roots = ["assets"]

[scene]
fps = 30
frame_end = 48
active_camera = "Cam"

[[prop]]
name = "Cup"
primitive = "cylinder"
size = 0.1
parent = "Actor"
parent_bone = "left_wrist"
material = { base_color = [1, 1, 1, 1], roughness = 0.5 }

[[prop]]
name = "Chair"
asset = "chair.glb"
location = [1, 2, 0]

[[character]]
name = "Actor"
rig = "smplx"
rotation = [0, 0, 0, 1]
pose = { left_elbow = [1, 0, 0, 0] }
pose_euler_deg = { neck = [0, 0, 90] }

[[camera]]
name = "Cam"
lens = 35
rotation_euler_deg = [90, 0, 0]
location = [0, -5, 1.5]
"""


def test_small_stage_builds_what_a_script_would_send(tmp_path):
    (tmp_path / "assets").mkdir()
    (tmp_path / "assets" / "chair.glb").write_bytes(b"glTF")
    (tmp_path / "small.toml").write_text(SMALL)
    stage = load_stage(tmp_path / "small.toml")
    h = math.sqrt(0.5)
    assert stage.name == "Small"
    assert stage.asset_roots == ((tmp_path / "assets").resolve(),)
    assert stage.commands[:4] == (
        CreateNode(
            kind="asset",
            name="Chair",
            transform=Transform(location=(1, 2, 0)),
            asset=from_wire(type(stage.commands[0].asset), {"path": "chair.glb"}, Frames()),
        ),
        CreateNode(
            kind="armature",
            name="Actor",
            transform=Transform(rotation=(0, 0, 0, 1)),
            armature=ArmatureSpec(rig="smplx"),
        ),
        CreateNode(
            kind="mesh",
            name="Cup",
            parent="Actor",
            parent_bone="left_wrist",
            mesh=MeshSpec(primitive="cylinder", size=0.1),
            material=MaterialParams(base_color=(1, 1, 1, 1), roughness=0.5),
        ),
        CreateNode(
            kind="camera",
            name="Cam",
            transform=Transform(location=(0, -5, 1.5), rotation=(h, h, 0, 0)),
            camera=from_wire(type(stage.commands[3].camera), {"lens": 35}, Frames()),
        ),
    )
    pose = stage.commands[4]
    assert isinstance(pose, SetBonePose)
    assert (pose.node, pose.bones) == ("Actor", ("left_elbow", "neck"))
    assert pose.rotations == pytest.approx(np.array([[1, 0, 0, 0], [h, 0, 0, h]]))
    assert stage.commands[5:] == (SetActiveCamera(node="Cam"), SetFrameRange(end=48, fps=30))


# --- bad stage files ------------------------------------------------------------------------------

HEAD = '[stage]\nname = "Bad"\n'
CUBE = '[[prop]]\nname = "Box"\nprimitive = "cube"\n'


@pytest.mark.parametrize(
    ("text", "node", "key", "problem"),
    [
        pytest.param(HEAD + "[[prop]\n", None, None, "not valid TOML", id="bad-toml"),
        pytest.param(
            HEAD + CUBE + "colour = [1, 0, 0, 1]\n", "Box", "colour", "unknown key", id="unknown-key"
        ),
        pytest.param(HEAD + "[[robot]]\nname = 'R'\n", None, "robot", "unknown table", id="unknown-table"),
        pytest.param(HEAD + "shape = 1\n", None, "stage.shape", "unknown key", id="unknown-stage-key"),
        pytest.param('[stage]\nname = ""\n', None, "stage.name", "needs a name", id="empty-stage-name"),
        pytest.param(
            HEAD + "[[prop]]\nprimitive = 'cube'\n", "[[prop]] #1", "name", "needs a name", id="no-name"
        ),
        pytest.param(
            HEAD + CUBE + "parent = 'Nobody'\n", "Box", "parent", "unknown parent", id="unknown-parent"
        ),
        pytest.param(HEAD + CUBE + CUBE, "Box", "name", "duplicate name", id="duplicate-name"),
        pytest.param(
            HEAD + "[[camera]]\nname = 'Cam'\nlens = -5\n", "Cam", "lens", "is not a lens", id="lens-range"
        ),
        pytest.param(
            HEAD + "[[camera]]\nname = 'Cam'\nlens = '24mm'\n",
            "Cam",
            "lens",
            "expected a number",
            id="lens-type",
        ),
        pytest.param(
            HEAD + CUBE + "material = { roughness = 2.0 }\n",
            "Box",
            "material.roughness",
            "out of range",
            id="roughness-range",
        ),
        pytest.param(
            HEAD + CUBE + "material = { shine = 2.0 }\n",
            "Box",
            "material.shine",
            "unknown field",
            id="material-key",
        ),
        pytest.param(
            HEAD + "[[prop]]\nname = 'Box'\nprimitive = 'blob'\n",
            "Box",
            "primitive",
            "not one of",
            id="primitive",
        ),
        pytest.param(HEAD + "[[prop]]\nname = 'Box'\n", "Box", "asset", "exactly one of", id="no-shape"),
        pytest.param(
            HEAD + CUBE + "rotation = [1, 0, 0, 0]\nrotation_euler_deg = [0, 0, 0]\n",
            "Box",
            "rotation_euler_deg",
            "only one of",
            id="two-rotations",
        ),
        pytest.param(
            HEAD + CUBE + "rotation_euler_deg = [0, 0]\n",
            "Box",
            "rotation_euler_deg",
            "3 finite",
            id="euler-size",
        ),
        pytest.param(
            HEAD + CUBE + "rotation = [0, 0, 0, 0]\n",
            "Box",
            "rotation",
            "zero quaternion",
            id="zero-quaternion",
        ),
        pytest.param(
            HEAD
            + "[[character]]\nname = 'Hero'\nrig = 'smplx'\n"
            + CUBE
            + "parent = 'Hero'\nparent_bone = 'tail'\n",
            "Box",
            "parent_bone",
            "no bone 'tail'",
            id="unknown-bone",
        ),
        pytest.param(
            HEAD + "[[character]]\nname = 'Hero'\nrig = 'robot'\n",
            "Hero",
            "rig",
            "unknown rig",
            id="unknown-rig",
        ),
        pytest.param(
            HEAD + "[[character]]\nname = 'Hero'\nrig = 'smplx'\npose_euler_deg = { wing = [0, 0, 0] }\n",
            "Hero",
            "pose_euler_deg.wing",
            "no bone 'wing'",
            id="pose-bone",
        ),
        pytest.param(HEAD + CUBE + "parent = 'Box'\n", "Box", "parent", "cycle", id="parent-cycle"),
        pytest.param(
            HEAD + "[[prop]]\nname = 'Chair'\nasset = 'chair.glb'\n",
            "Chair",
            "asset",
            "asset_roots",
            id="no-roots",
        ),
        pytest.param(
            HEAD + "[scene]\nactive_camera = 'Box'\n" + CUBE,
            None,
            "scene.active_camera",
            "not a camera",
            id="active-not-camera",
        ),
        pytest.param(
            HEAD + "[scene]\nframe_start = 10\nframe_end = 5\n",
            None,
            "scene.frame_end",
            "before",
            id="frames",
        ),
        pytest.param(
            HEAD + "[[camera]]\nname = 'Cam'\nfocus_target = 'Ghost'\n",
            "Cam",
            "focus_target",
            "unknown focus target",
            id="focus-target",
        ),
    ],
)
def test_bad_stage_files_name_the_problem(tmp_path, text, node, key, problem):
    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(StageFileError) as caught:
        load_stage(path)
    error = caught.value
    assert isinstance(error, StagecraftError)
    assert (error.path, error.node, error.key) == (path, node, key)
    assert problem in error.problem
    assert str(path) in str(error)


def test_asset_paths_stay_inside_the_asset_roots(tmp_path):
    (tmp_path / "assets").mkdir()
    (tmp_path / "secret.glb").write_bytes(b"x")
    path = tmp_path / "stage.toml"
    path.write_text(HEAD + 'asset_roots = ["assets"]\n[[set]]\nname = "Loot"\nasset = "../secret.glb"\n')
    with pytest.raises(StageFileError, match="inside the asset roots") as caught:
        load_stage(path)
    assert (caught.value.node, caught.value.key) == ("Loot", "asset")


def test_missing_file_and_missing_asset_root(tmp_path):
    with pytest.raises(StageFileError, match="cannot read"):
        load_stage(tmp_path / "nowhere.toml")
    path = tmp_path / "stage.toml"
    path.write_text(HEAD + 'asset_roots = ["nope"]\n')
    with pytest.raises(StageFileError, match="not a folder") as caught:
        load_stage(path)
    assert caught.value.key == "stage.asset_roots"


# --- the default stage in real Blender -------------------------------------------------------


def test_default_stage_builds_in_blender(tmp_path: Path):
    from scene import AssetStore, Stage

    stage_file = load_stage(default_stage_path())
    stage = Stage(AssetStore(tmp_path / "store", stage_file.asset_roots))
    stage.reset()
    for command in stage_file.commands:
        stage.apply(command)
    nodes = {node.name: node for node in stage.snapshot_nodes()}
    assert nodes["Hero"].kind == "armature"
    assert [b.name for b in nodes["Hero"].armature.bones] == list(SMPLX_JOINT_NAMES)
    assert {name for name, n in nodes.items() if n.kind == "camera"} >= {"CamA", "CamB"}
    assert sorted(n.name for n in nodes.values() if n.kind == "light") == ["Fill", "Key", "Rim"]
    assert nodes["Shaker"].parent == nodes["Hero"].uuid
    assert nodes["Shaker"].parent_bone == "right_wrist"
    assert nodes["HeroFocus"].parent_bone == "head"


def test_the_documented_example_loads(tmp_path):
    doc = (Path(__file__).parent.parent / "docs" / "stage-format.md").read_text()
    blocks = [block.split("```", 1)[0] for block in doc.split("```toml\n")[1:]]
    example = next(block for block in blocks if 'name = "Diner"' in block)
    (tmp_path / "assets" / "models").mkdir(parents=True)
    (tmp_path / "assets" / "models" / "booth.glb").write_bytes(b"glTF")
    (tmp_path / "diner.toml").write_text(example)
    stage = load_stage(tmp_path / "diner.toml")
    assert stage.name == "Diner"
    assert [c.name for c in stage.commands if isinstance(c, CreateNode)][3:6] == ["Waiter", "Mug", "FaceMark"]
