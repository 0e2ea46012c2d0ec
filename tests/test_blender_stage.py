"""The Blender stage against real bpy: every command, round trips, atomicity, bad input."""

from __future__ import annotations

import dataclasses
import math

import bpy
import numpy as np
import pytest
from mathutils import Matrix, Vector

from protocols import (
    ArmatureSpec,
    Batch,
    BoneSpec,
    CameraParams,
    Conflict,
    CreateNode,
    DeleteNode,
    InvalidArgument,
    LightParams,
    MaterialParams,
    MeshSpec,
    NotFound,
    RackFocus,
    RenameNode,
    SetActiveCamera,
    SetBonePose,
    SetCamera,
    SetFrameRange,
    SetLight,
    SetMaterial,
    SetParent,
    SetTransform,
    Transform,
)
from scene import UUID_KEY, AssetStore, Stage

BONES = (
    BoneSpec("root", (0, 0, 0), (0, 0, 1)),
    BoneSpec("arm", (0, 0, 1), (0, 0, 2), parent="root"),
    BoneSpec("hand", (0, 0, 2), (0, 0, 2.5), parent="arm"),
)
QUARTER_X = (math.cos(math.pi / 4), math.sin(math.pi / 4), 0.0, 0.0)


@pytest.fixture
def stage(tmp_path):
    stage = Stage(AssetStore(tmp_path / "store", roots=(tmp_path / "assets",)))
    (tmp_path / "assets").mkdir()
    stage.reset()
    return stage


def state_of(stage):
    return stage.scene_settings(), stage.snapshot_nodes()


def assert_round_trip(stage):
    settings, nodes = state_of(stage)
    stage.rebuild(settings, nodes, stage.assets.read)
    assert state_of(stage) == (settings, nodes)


def rig(stage, body="none", name="Rig"):
    stage.apply(CreateNode(kind="armature", name=name, armature=ArmatureSpec(bones=BONES, body=body)))


def test_create_fills_uuid_and_tags_object(stage):
    resolved, touched = stage.apply(
        CreateNode(kind="empty", name="E", transform=Transform(location=(1, 2, 3)))
    )
    assert resolved.uuid and touched == (resolved.uuid,)
    obj = bpy.data.objects["E"]
    assert obj[UUID_KEY] == resolved.uuid
    assert tuple(obj.location) == (1, 2, 3) and obj.rotation_mode == "QUATERNION"
    assert stage.node_state("E") == stage.node_state(resolved.uuid)


@pytest.mark.parametrize(
    "primitive", ["cube", "plane", "uv_sphere", "ico_sphere", "cylinder", "cone", "torus", "monkey"]
)
def test_primitive_with_material_round_trips(stage, primitive):
    material = MaterialParams(
        base_color=(0.2, 0.4, 0.6, 1.0), roughness=0.3, metallic=0.7, normal_strength=0.5,
        emission_color=(1.0, 0.5, 0.0), emission_strength=2.0,
    )  # fmt: skip
    stage.apply(
        CreateNode(kind="mesh", name="M", mesh=MeshSpec(primitive, size=2.0, segments=12), material=material)
    )
    obj = bpy.data.objects["M"]
    assert len(obj.data.vertices) > 3
    assert max(obj.dimensions) == pytest.approx(2.0, rel=0.05)
    tree = obj.data.materials[0].node_tree
    bsdf = next(n for n in tree.nodes if n.type == "BSDF_PRINCIPLED")
    assert tuple(bsdf.inputs["Base Color"].default_value) == pytest.approx((0.2, 0.4, 0.6, 1.0))
    assert bsdf.inputs["Normal"].links[0].from_node.type == "BUMP"
    assert tree.nodes["stagecraft_bump"].inputs["Height"].links[0].from_node.type == "TEX_NOISE"
    assert stage.node_state("M").material == material
    assert_round_trip(stage)


def test_set_material_changes_only_given_fields(stage):
    stage.apply(CreateNode(kind="mesh", name="M", mesh=MeshSpec("cube")))
    stage.apply(SetMaterial(node="M", material=MaterialParams(roughness=0.9)))
    got = stage.node_state("M").material
    assert got.roughness == 0.9 and got.base_color == (0.8, 0.8, 0.8, 1.0)


def test_camera_with_focus_target_round_trips(stage):
    stage.apply(CreateNode(kind="empty", name="Target"))
    resolved, _ = stage.apply(
        CreateNode(
            kind="camera",
            name="Cam",
            camera=CameraParams(lens=85, use_dof=True, fstop=1.4, focus_target="Target"),
        )
    )
    target_uuid = stage.node_state("Target").uuid
    assert resolved.camera.focus_target == target_uuid
    cam = bpy.data.objects["Cam"].data
    assert cam.lens == 85 and cam.dof.use_dof and cam.dof.focus_object == bpy.data.objects["Target"]
    stage.apply(
        SetCamera(
            node="Cam",
            camera=CameraParams(sensor_width=24, sensor_fit="vertical", clip_start=0.5, clip_end=50),
        )
    )
    assert cam.sensor_fit == "VERTICAL" and cam.clip_end == 50
    stage.apply(SetActiveCamera(node="Cam"))
    stage.apply(SetFrameRange(start=10, end=20, current=15, fps=30))
    assert bpy.context.scene.camera.name == "Cam" and bpy.context.scene.frame_current == 15
    assert_round_trip(stage)
    stage.apply(SetCamera(node="Cam", camera=CameraParams(focus_target="")))
    assert bpy.data.objects["Cam"].data.dof.focus_object is None


@pytest.mark.parametrize(
    "params",
    [
        LightParams(light_type="point", energy=500, radius=0.2, color=(1, 0.5, 0.2)),
        LightParams(light_type="sun", energy=3, cast_shadow=False),
        LightParams(light_type="spot", spot_size=0.8, spot_blend=0.3),
        LightParams(light_type="area", area_size=2.0, energy=100),
    ],
)
def test_light_types_round_trip(stage, params):
    stage.apply(CreateNode(kind="light", name="L", light=params))
    light = bpy.data.objects["L"].data
    assert light.type == params.light_type.upper()
    if params.energy is not None:
        assert light.energy == pytest.approx(params.energy)
    assert_round_trip(stage)


def test_bone_parented_prop_follows_posed_hand(stage):
    rig(stage, body="mannequin")
    stage.apply(
        CreateNode(
            kind="mesh", name="Prop", mesh=MeshSpec("cube", size=0.1), parent="Rig", parent_bone="hand"
        )
    )
    prop = bpy.data.objects["Prop"]
    bpy.context.view_layer.update()
    assert tuple(prop.matrix_world.translation) == pytest.approx((0, 0, 2.5), abs=1e-5)
    stage.apply(SetBonePose(node="Rig", bones=("arm",), rotations=np.array([QUARTER_X])))
    bpy.context.view_layer.update()
    # the arm turns +90° about X at (0, 0, 1): arm tail (0, -1, 1), hand tail (0, -1.5, 1)
    assert tuple(prop.matrix_world.translation) == pytest.approx((0, -1.5, 1), abs=1e-5)
    body = next(o for o in bpy.data.objects if o.get("stagecraft_body"))
    assert body.modifiers["Armature"].object == bpy.data.objects["Rig"]
    assert len(body.vertex_groups) == 3
    assert [n.name for n in stage.snapshot_nodes()] == ["Rig", "Prop"]
    assert stage.node_state("Rig").pose.bones == ("arm",)
    assert_round_trip(stage)


def test_keyframed_pose(stage):
    rig(stage)
    stage.apply(SetBonePose(node="Rig", bones=("root",), rotations=np.array([QUARTER_X]), keyframe=5))
    action = bpy.data.objects["Rig"].animation_data.action
    assert action is not None


def test_set_parent_keep_world_and_transform(stage):
    stage.apply(CreateNode(kind="empty", name="P", transform=Transform(location=(1, 0, 0), scale=(2, 2, 2))))
    stage.apply(CreateNode(kind="empty", name="C", transform=Transform(location=(3, 0, 0))))
    resolved, _ = stage.apply(SetParent(node="C", parent="P"))
    assert resolved.parent == stage.node_state("P").uuid
    c = bpy.data.objects["C"]
    assert c.matrix_parent_inverse == Matrix.Identity(4)
    assert stage.node_state("C").transform.location == (1.0, 0.0, 0.0)
    bpy.context.view_layer.update()
    assert c.matrix_world.translation == Vector((3, 0, 0))
    stage.apply(SetParent(node="C", parent=None, keep_world=False))
    assert stage.node_state("C").parent is None
    stage.apply(SetTransform(node="C", rotation=QUARTER_X))
    assert stage.node_state("C").transform.rotation == pytest.approx(QUARTER_X, abs=1e-5)
    stage.apply(RenameNode(node="C", name="D"))
    assert "D" in bpy.data.objects


def test_delete_removes_subtree(stage):
    rig(stage, body="mannequin")
    stage.apply(CreateNode(kind="empty", name="Prop", parent="Rig", parent_bone="hand"))
    stage.apply(
        SetActiveCamera(
            node=stage.apply(CreateNode(kind="camera", name="Cam", camera=CameraParams()))[0].uuid
        )
    )
    _, touched = stage.apply(DeleteNode(node="Rig"))
    assert len(touched) == 2
    assert [o.name for o in bpy.context.scene.objects] == ["Cam"]  # gone from the stage at once
    assert [n.name for n in stage.snapshot_nodes()] == ["Cam"]
    while stage.idle():  # ... and freed from Blender's data between commands
        pass
    assert [o.name for o in bpy.data.objects] == ["Cam"]
    assert not bpy.data.meshes and not bpy.data.armatures


def test_batch_is_atomic(stage):
    rig(stage)
    stage.apply(CreateNode(kind="camera", name="Cam", camera=CameraParams()))
    stage.apply(CreateNode(kind="mesh", name="M", mesh=MeshSpec("cube")))
    before = state_of(stage)
    names = sorted(o.name for o in bpy.data.objects)
    batch = Batch(
        commands=(
            CreateNode(kind="light", name="L", light=LightParams()),
            SetMaterial(node="M", material=MaterialParams(base_color=(1, 0, 0, 1))),
            SetTransform(node="Rig", location=(5, 5, 5)),
            SetBonePose(node="Rig", bones=("arm",), rotations=np.array([QUARTER_X]), keyframe=3),
            SetCamera(node="Cam", camera=CameraParams(lens=10, focus_target="M")),
            SetFrameRange(start=5, end=9, fps=60),
            SetActiveCamera(node="Cam"),
            SetLight(node="L", light=LightParams(light_type="spot", spot_size=0.5)),
            DeleteNode(node="M"),
            RenameNode(node="Cam", name="M"),
            SetParent(node="M", parent="Rig", bone="hand"),
            SetParent(node="Rig", parent="M"),  # a cycle: fails
        )
    )
    with pytest.raises(Conflict, match="cycle"):
        stage.apply(batch)
    assert state_of(stage) == before
    assert sorted(o.name for o in bpy.data.objects) == names
    assert bpy.data.objects["Rig"].animation_data is None


def test_every_light_and_camera_setting_rolls_back(stage):
    """A failing batch that changes a spot light into an area light and every camera setting
    leaves both exactly as they were (the undo step comes from the same table as apply and read)."""
    spot = LightParams(light_type="spot", color=(1, 0.5, 0.25), energy=80, radius=0.3, spot_size=0.7,
                       spot_blend=0.4, cast_shadow=False)  # fmt: skip
    stage.apply(CreateNode(kind="light", name="Key", light=spot))
    stage.apply(CreateNode(kind="mesh", name="Subject", mesh=MeshSpec("cube")))
    camera = CameraParams(lens=85, fstop=2.0, body="full_frame", use_dof=True, focus_target="Subject",
                          squeeze=1.5, blades=9, blade_rotation=0.2, clip_end=500)  # fmt: skip
    stage.apply(CreateNode(kind="camera", name="A", camera=camera))
    before = state_of(stage)
    everything = CameraParams(lens=24, fstop=11, body="super_35", use_dof=False, focus_target="",
                              squeeze=2.0, blades=5, blade_rotation=0.0, clip_start=0.5, clip_end=90,
                              sensor_fit="vertical", focus_distance=3.0)  # fmt: skip
    batch = Batch(
        commands=(
            SetLight(
                node="Key", light=LightParams(light_type="area", area_size=2.0, energy=5, color=(0, 0, 1))
            ),
            SetCamera(node="A", camera=everything),
            RenameNode(node="A", name="Key"),  # taken: fails
        )
    )
    with pytest.raises(Conflict):
        stage.apply(batch)
    assert state_of(stage) == before
    assert stage.node_state("Key").light == dataclasses.replace(spot, cast_shadow=False)
    assert stage.node_state("A").camera.body == "full_frame"


@pytest.mark.parametrize(
    ("failing", "error", "field"),
    [
        (SetTransform(node="Nowhere", location=(0, 0, 0)), NotFound, "commands[1].node"),
        (RenameNode(node="Second", name="First"), Conflict, "commands[1].name"),
        (
            SetCamera(node="Cam", camera=CameraParams(body="no_such_body")),
            InvalidArgument,
            "commands[1].camera.body",
        ),
        (
            SetLight(node="Key", light=LightParams(area_size=1.0)),
            InvalidArgument,
            "commands[1].light.area_size",
        ),
    ],
)
def test_an_error_inside_a_batch_names_the_command_and_the_full_field_path(stage, failing, error, field):
    for name in ("First", "Second"):
        stage.apply(CreateNode(kind="mesh", name=name, mesh=MeshSpec("cube")))
    stage.apply(CreateNode(kind="camera", name="Cam", camera=CameraParams()))
    stage.apply(CreateNode(kind="light", name="Key", light=LightParams()))
    with pytest.raises(error) as caught:
        stage.apply(Batch(commands=(SetTransform(node="First", location=(1, 1, 1)), failing)))
    assert caught.value.field == field
    assert caught.value.message.startswith("commands[1]: ")


def test_batch_resolves_names(stage):
    resolved, touched = stage.apply(
        Batch(commands=(CreateNode(kind="empty", name="A"), CreateNode(kind="empty", name="B", parent="A")))
    )
    assert resolved.commands[1].parent == resolved.commands[0].uuid
    assert touched == (resolved.commands[0].uuid, resolved.commands[1].uuid)


@pytest.mark.parametrize(
    ("command", "error"),
    [
        (DeleteNode(node="Nope"), NotFound),
        (RenameNode(node="A", name="B"), Conflict),
        (SetParent(node="A", parent="B"), Conflict),
        (SetParent(node="A", parent="Rig", bone="tail"), NotFound),
        (SetActiveCamera(node="A"), InvalidArgument),
        (SetBonePose(node="Rig", bones=("nope",), rotations=np.array([(1.0, 0, 0, 0)])), NotFound),
        (CreateNode(kind="armature", name="X", armature=ArmatureSpec(rig="mixamo")), InvalidArgument),
        (SetLight(node="A", light=LightParams(energy=1)), InvalidArgument),
    ],
)
def test_bad_input_changes_nothing(stage, command, error):
    rig(stage)
    stage.apply(CreateNode(kind="empty", name="A"))
    stage.apply(CreateNode(kind="empty", name="B", parent="A"))
    before = state_of(stage)
    with pytest.raises(error):
        stage.apply(command)
    assert state_of(stage) == before


def test_smplx_rig_expands(stage):
    resolved, _ = stage.apply(
        CreateNode(kind="armature", name="Body", armature=ArmatureSpec(rig="smplx", body="mannequin"))
    )
    assert resolved.armature.rig is None and len(resolved.armature.bones) == 55
    assert "right_wrist" in bpy.data.objects["Body"].data.bones
    assert_round_trip(stage)


def test_save_load_keeps_uuids_and_state(stage, tmp_path):
    rig(stage, body="mannequin")
    stage.apply(CreateNode(kind="mesh", name="Prop", mesh=MeshSpec("cube"), parent="Rig", parent_bone="hand"))
    stage.apply(SetBonePose(node="Rig", bones=("arm",), rotations=np.array([QUARTER_X])))
    before = state_of(stage)
    stage.save(tmp_path / "snap.blend")
    stage.reset()
    assert stage.snapshot_nodes() == ()
    stage.load(tmp_path / "snap.blend")
    assert state_of(stage) == before


def test_deleting_a_child_then_its_parent_works_in_one_batch_and_in_two_commands(stage):
    for name in ("P", "Q"):
        stage.apply(CreateNode(kind="empty", name=name))
        stage.apply(CreateNode(kind="mesh", name=f"{name}-child", parent=name, mesh=MeshSpec("cube")))
    stage.apply(Batch(commands=(DeleteNode(node="P-child"), DeleteNode(node="P"))))
    stage.apply(DeleteNode(node="Q-child"))  # deleted, not yet freed ...
    stage.apply(DeleteNode(node="Q"))  # ... when its parent goes
    assert stage.snapshot_nodes() == ()
    while stage.idle():
        pass
    assert not bpy.data.objects and not bpy.data.meshes
    stage.apply(CreateNode(kind="empty", name="P"))  # the names are free again
    assert [n.name for n in stage.snapshot_nodes()] == ["P"]


@pytest.mark.parametrize(
    ("command", "field"),
    [
        pytest.param(SetFrameRange(end=5), "end", id="end-alone-before-the-start"),
        pytest.param(SetFrameRange(start=30), "start", id="start-alone-after-the-end"),
    ],
)
def test_a_frame_range_that_would_end_before_it_starts_names_the_field_given(stage, command, field):
    stage.apply(SetFrameRange(start=10, end=20))
    with pytest.raises(InvalidArgument) as refused:
        stage.apply(command)
    assert refused.value.field == field
    assert stage.scene_settings().frame_start == 10 and stage.scene_settings().frame_end == 20


def test_an_end_alone_keeps_the_start(stage):
    stage.apply(SetFrameRange(start=10, end=20))
    stage.apply(SetFrameRange(end=12))
    assert (stage.scene_settings().frame_start, stage.scene_settings().frame_end) == (10, 12)


def test_an_animated_value_set_by_hand_takes_the_animation_at_once(stage):
    """Blender would keep the hand-set value until its next evaluation, whenever that is."""
    rig(stage)
    stage.apply(SetBonePose(node="Rig", bones=("arm",), rotations=np.array([QUARTER_X]), keyframe=1))
    keyed = stage.node_state("Rig").pose
    at_rest = SetBonePose(node="Rig", bones=("arm",), rotations=np.array([(1.0, 0.0, 0.0, 0.0)]))
    _, _, result = stage.apply_and_report(at_rest)
    assert stage.node_state("Rig").pose == keyed, "the keyed pose holds at its frame"
    assert result.changed[0].pose == keyed, "the event says the value the stage holds"
    bpy.context.view_layer.update()  # Blender's own evaluation changes nothing now
    assert stage.node_state("Rig").pose == keyed


def test_focusing_by_hand_after_a_rack_focus_ends_the_pull(stage):
    stage.apply(CreateNode(kind="camera", name="Cam", camera=CameraParams()))
    stage.apply(RackFocus(node="Cam", frames=10, from_distance=1.0, to_distance=3.0, start_frame=1))
    assert stage.node_state("Cam").camera.focus_distance == pytest.approx(1.0, abs=1e-4), "keys apply at once"
    _, _, result = stage.apply_and_report(SetCamera(node="Cam", camera=CameraParams(focus_distance=9.0)))
    state = stage.node_state("Cam")
    assert state.camera.focus_distance == 9.0 and state.animation is None
    assert "animation" in result.changed[0].cleared, "the event says the pull is gone"
    stage.apply(SetFrameRange(current=5))
    assert stage.node_state("Cam").camera.focus_distance == 9.0, "no pull takes it back"


def test_world_matrices_are_blenders_for_object_and_bone_parents(stage):
    rig(stage)
    hat = Transform(location=(0.1, 0.2, 0.3), scale=(2, 1, 1))
    stage.apply(
        CreateNode(
            kind="mesh",
            name="Hat",
            mesh=MeshSpec(primitive="cone"),
            parent="Rig",
            parent_bone="arm",
            transform=hat,
        )
    )
    stage.apply(
        CreateNode(kind="empty", name="Feather", parent="Hat", transform=Transform(location=(0, 0, 1)))
    )
    stage.apply(SetTransform(node="Rig", location=(1, 2, 3), rotation=QUARTER_X))
    stage.apply(SetBonePose(node="Rig", bones=("root", "arm"), rotations=np.array([QUARTER_X, QUARTER_X])))
    bpy.context.view_layer.update()
    for name in ("Rig", "Hat", "Feather"):
        evaluated = np.array(bpy.data.objects[name].matrix_world)
        assert np.allclose(np.array(stage.node_state(name).world), evaluated, atol=1e-5), name


def test_rotation_modes_are_kept_and_undone_with_everything_else(stage):
    """An object or bone in Euler or axis-angle mode keeps its mode: a rotation from the stage
    lands in its own channels, reads back as the same quaternion, and a failed batch puts them back."""
    import math

    from mathutils import Quaternion

    stage.apply(CreateNode(kind="mesh", name="Euler", mesh=MeshSpec(primitive="cube")))
    stage.apply(CreateNode(kind="mesh", name="Axis", mesh=MeshSpec(primitive="cube")))
    stage.apply(CreateNode(kind="armature", name="Rig", armature=ArmatureSpec(bones=BONES)))
    euler, axis, rig = bpy.data.objects["Euler"], bpy.data.objects["Axis"], bpy.data.objects["Rig"]
    euler.rotation_mode, axis.rotation_mode = "YXZ", "AXIS_ANGLE"
    rig.pose.bones["arm"].rotation_mode = "ZXY"
    turn = Quaternion((0.2, -0.5, 0.8), 1.1)  # about a slanted axis
    for name in ("Euler", "Axis"):
        stage.apply(SetTransform(node=name, rotation=tuple(turn)))
    stage.apply(SetBonePose(node="Rig", bones=("arm",), rotations=np.array([tuple(turn)])))
    assert (euler.rotation_mode, axis.rotation_mode, rig.pose.bones["arm"].rotation_mode) == (
        "YXZ",
        "AXIS_ANGLE",
        "ZXY",
    )
    for rotation in (
        stage.node_state("Euler").transform.rotation,
        stage.node_state("Axis").transform.rotation,
        stage.node_state("Rig").pose.rotations[0],
    ):
        assert abs(Quaternion(rotation).rotation_difference(turn).angle) < 1e-4
    assert math.isclose(
        euler.rotation_euler.to_quaternion().rotation_difference(turn).angle, 0.0, abs_tol=1e-5
    )
    before = tuple(euler.rotation_euler)
    with pytest.raises(NotFound):
        stage.apply(Batch(commands=(SetTransform(node="Euler", rotation=(1.0, 0.0, 0.0, 0.0)),
                                    SetTransform(node="Nobody", location=(0.0, 0.0, 0.0)))))  # fmt: skip
    assert tuple(euler.rotation_euler) == pytest.approx(before) and euler.rotation_mode == "YXZ"
