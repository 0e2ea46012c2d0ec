"""Optics on the stage's cameras, through the real bpy Stage: bodies, dolly zoom, framing, rack focus."""

from __future__ import annotations

import math

import bpy
import numpy as np
import pytest
from bpy_extras.object_utils import world_to_camera_view
from mathutils import Vector

from engine_server import AssetStore
from optics import (
    default_optics,
    dof_limits_m,
    hyperfocal_m,
    image_distance_m,
    marked_distance_m,
    object_distance_m,
)
from protocols import (
    ArmatureSpec,
    CameraParams,
    CreateNode,
    FrameShot,
    InvalidArgument,
    MeshSpec,
    RackFocus,
    SetLens,
    Transform,
)
from scene import Stage

LOOK_ALONG_Y = (math.cos(math.pi / 4), math.sin(math.pi / 4), 0.0, 0.0)  # camera −Z → world +Y


@pytest.fixture
def stage(tmp_path) -> Stage:
    stage = Stage(AssetStore(tmp_path / "assets"))
    stage.reset()
    render = bpy.context.scene.render
    render.resolution_x, render.resolution_y = 1920, 1080
    stage.apply(
        CreateNode(
            kind="mesh",
            name="Pillar",
            mesh=MeshSpec(primitive="cube", size=1.0),
            transform=Transform(location=(0.0, 5.0, 0.9), scale=(0.4, 0.4, 1.8)),
        )
    )
    stage.apply(
        CreateNode(
            kind="camera",
            name="Cam",
            camera=CameraParams(lens=35.0, sensor_width=36.0, sensor_fit="horizontal", focus_distance=5.0),
            transform=Transform(location=(0.0, 0.0, 0.9), rotation=LOOK_ALONG_Y),
        )
    )
    stage.apply(CreateNode(kind="empty", name="Near", transform=Transform(location=(0.0, 2.0, 0.9))))
    return stage


def _projected_height(name: str) -> float:
    """How much of the frame height the node covers (0..1), measured in the plane of its centre."""
    scene = bpy.context.scene
    obj, camera = bpy.data.objects[name], bpy.data.objects["Cam"]
    bpy.context.view_layer.update()
    corners = np.array([obj.matrix_world @ Vector(c) for c in obj.bound_box])
    centre = corners.mean(axis=0)
    top, bottom = Vector((*centre[:2], corners[:, 2].max())), Vector((*centre[:2], corners[:, 2].min()))
    return world_to_camera_view(scene, camera, top).y - world_to_camera_view(scene, camera, bottom).y


def test_a_camera_body_sets_sensor_and_circle_of_confusion(stage: Stage) -> None:
    resolved, _ = stage.apply(_set_camera(CameraParams(body="arri_alexa_35", fstop=2.8)))
    body = default_optics().body("arri_alexa_35")
    camera = stage.node_state("Cam").camera
    assert (camera.body, camera.sensor_width, camera.coc_mm) == (
        "arri_alexa_35",
        pytest.approx(body.sensor_width_mm),
        pytest.approx(body.coc_mm, abs=1e-5),
    )
    assert resolved.camera.sensor_width == pytest.approx(body.sensor_width_mm), "the journal gets numbers"
    readout = stage.optics("Cam")
    lens_to_subject = object_distance_m(35.0, 5.0)  # focus is marked from the film plane
    behind = image_distance_m(35.0, lens_to_subject)
    near, far = dof_limits_m(35.0, 2.8, body.coc_mm, lens_to_subject)
    assert (readout.near_m, readout.far_m) == (pytest.approx(near + behind, rel=1e-5),
                                               pytest.approx(far + behind, rel=1e-5))  # fmt: skip
    assert readout.hyperfocal_m == pytest.approx(
        marked_distance_m(35, hyperfocal_m(35, 2.8, body.coc_mm)), rel=1e-5
    )
    assert readout.fov_horizontal == pytest.approx(2 * math.atan(body.sensor_width_mm / 70.0), rel=1e-5)
    with pytest.raises(InvalidArgument, match="full_frame"):
        stage.apply(_set_camera(CameraParams(body="bolex_h16")))


def test_a_sensor_set_by_hand_is_no_longer_the_body(stage: Stage) -> None:
    """After body=full_frame, a Micro Four Thirds sensor typed in by hand is a custom camera: no
    body, and the circle of confusion of its own diagonal (not full frame's 0.029 mm)."""
    stage.apply(_set_camera(CameraParams(body="full_frame")))
    stage.apply(_set_camera(CameraParams(sensor_width=36.0)))  # the body's own width: still the body
    assert stage.node_state("Cam").camera.body == "full_frame"
    resolved, _ = stage.apply(_set_camera(CameraParams(sensor_width=17.3, sensor_height=13.0)))
    camera, readout = stage.node_state("Cam").camera, stage.optics("Cam")
    assert resolved.camera.body == "" and camera.body is None and readout.body == ""
    assert readout.coc_mm == pytest.approx(math.hypot(17.3, 13.0) / 1500, abs=1e-6)
    stage.apply(_set_camera(CameraParams(body="super_35")))
    stage.apply(_set_camera(CameraParams(body="", coc_mm=0.02)))  # cleared by hand, CoC given
    camera = stage.node_state("Cam").camera
    assert camera.body is None and camera.coc_mm == pytest.approx(0.02)


def test_a_recording_area_is_the_sensor_the_camera_records(stage: Stage, tmp_path) -> None:
    """The Komodo in 4K 17:9 records 18.02 × 9.50 mm of its 6K sensor: the frame, the field of view
    and the circle of confusion (Zeiss rule on that diagonal) follow; a new body, or "", leave it."""
    stage.apply(_set_camera(CameraParams(body="red_komodo_6k", recording_area="4K 17:9")))
    camera, readout = stage.node_state("Cam").camera, stage.optics("Cam")
    assert (camera.recording_area, readout.recording_area) == ("4K 17:9", "4K 17:9")
    assert (camera.sensor_width, camera.sensor_height) == (pytest.approx(18.02), pytest.approx(9.50))
    assert readout.coc_mm == pytest.approx(math.hypot(18.02, 9.50) / 1730, abs=1e-5)
    assert readout.sensor_width_mm <= 18.02 + 1e-6 and readout.sensor_height_mm <= 9.50 + 1e-6
    assert readout.fov_horizontal == pytest.approx(2 * math.atan(readout.sensor_width_mm / 70.0), rel=1e-5)
    copy = Stage(AssetStore(tmp_path / "copy"))  # it survives a rebuild from a snapshot
    copy.rebuild(stage.scene_settings(), stage.snapshot_nodes(), lambda sha: b"")
    assert copy.node_state("Cam").camera.recording_area == "4K 17:9"
    stage.rebuild(copy.scene_settings(), copy.snapshot_nodes(), lambda sha: b"")
    with pytest.raises(InvalidArgument, match="6K 17:9"):
        stage.apply(_set_camera(CameraParams(recording_area="8K open gate")))  # names the areas it has
    stage.apply(_set_camera(CameraParams(recording_area="")))
    camera = stage.node_state("Cam").camera
    assert (camera.recording_area, camera.sensor_width) == (None, pytest.approx(27.03))
    stage.apply(_set_camera(CameraParams(body="red_komodo_6k", recording_area="6K 16:9")))
    stage.apply(_set_camera(CameraParams(body="full_frame")))
    assert stage.node_state("Cam").camera.recording_area is None
    stage.apply(_set_camera(CameraParams(body="")))
    with pytest.raises(InvalidArgument, match="body"):
        stage.apply(_set_camera(CameraParams(recording_area="4K 17:9")))


def test_focus_is_marked_from_the_film_plane(stage: Stage) -> None:
    """0.5 m on a 50 mm lens is 0.5 m from the sensor, as the barrel and the tape measure say: the
    subject sits 0.4436 m in front of the lens (Blender's focus distance), 0.0564 m ahead of the
    film plane's image distance; the readout and get_node say 0.5; closer than 4f is refused."""
    from protocols import RackFocus

    stage.apply(_set_camera(CameraParams(lens=50.0, focus_distance=0.5)))
    assert bpy.data.objects["Cam"].data.dof.focus_distance == pytest.approx(0.44365, abs=1e-4)
    assert stage.node_state("Cam").camera.focus_distance == pytest.approx(0.5, abs=1e-6)
    assert stage.optics("Cam").focus_m == pytest.approx(0.5, abs=1e-5)
    with pytest.raises(InvalidArgument, match="4 × its focal length"):
        stage.apply(_set_camera(CameraParams(focus_distance=0.15)))
    bpy.data.objects["Cam"].data.dof.focus_distance = 0.01  # as an artist's Blender may hold it
    assert stage.node_state("Cam").camera.focus_distance == pytest.approx(0.2), "the closest mark: 4f"
    stage.apply(_set_camera(CameraParams(focus_distance=0.5)))
    resolved, _ = stage.apply(RackFocus(node="Cam", to_target="Near", frames=10))  # Near: 2 m from the lens
    assert resolved.to_distance == pytest.approx(marked_distance_m(50.0, 2.0), abs=1e-6)
    assert resolved.from_distance == pytest.approx(0.5, abs=1e-6)


def test_focus_past_the_hyperfocal_reads_an_infinite_far_limit(stage: Stage) -> None:
    stage.apply(_set_camera(CameraParams(fstop=16.0, focus_distance=40.0)))
    readout = stage.optics("Cam")
    assert readout.far_m is None and readout.dof_m is None
    assert readout.near_m < 40.0


def test_dolly_zoom_keeps_the_subject_size_and_zoom_does_not(stage: Stage) -> None:
    before = _projected_height("Pillar")
    stage.apply(SetLens(node="Cam", focal_mm=70.0, mode="dolly_zoom", target="Pillar"))
    camera = stage.node_state("Cam")
    assert camera.camera.lens == pytest.approx(70.0)
    assert 5.0 - camera.transform.location[1] == pytest.approx(10.0, rel=1e-3), "distance doubled"
    assert _projected_height("Pillar") == pytest.approx(before, rel=0.01)
    assert camera.camera.focus_distance == pytest.approx(marked_distance_m(70.0, 10.0), rel=1e-3), (
        "focus followed"
    )
    stage.apply(SetLens(node="Cam", lens="prime_35"))
    assert _projected_height("Pillar") == pytest.approx(before / 2, rel=0.01)


def test_every_set_lens_event_carries_the_same_fields(stage: Stage) -> None:
    """A follower without Blender reads focal length and squeeze from every set_lens event."""
    anamorphic, _ = stage.apply(SetLens(node="Cam", focal_mm=50.0, squeeze=1.5))
    zoom, _ = stage.apply(SetLens(node="Cam", focal_mm=85.0))  # squeeze not given: the camera keeps 1.5
    named, _ = stage.apply(SetLens(node="Cam", lens="prime_35"))
    assert isinstance(zoom, SetLens) and isinstance(named, SetLens) and isinstance(anamorphic, SetLens)
    assert (zoom.focal_mm, zoom.squeeze) == (85.0, 1.5)
    assert named.focal_mm == 35.0 and named.squeeze is not None
    assert stage.node_state("Cam").camera.squeeze == pytest.approx(named.squeeze)


def test_frame_shot_moves_the_camera_to_the_shot_size(stage: Stage) -> None:
    stage.apply(FrameShot(node="Cam", target="Pillar", shot_size="medium"))
    # a medium shot shows half the subject's height: the 1.8 m pillar overfills the frame twice
    assert _projected_height("Pillar") == pytest.approx(2.0, rel=0.02)
    stage.apply(FrameShot(node="Cam", target="Pillar", shot_size="full"))
    assert _projected_height("Pillar") == pytest.approx(1 / 1.2, rel=0.02)
    with pytest.raises(InvalidArgument, match="itself"):
        stage.apply(FrameShot(node="Cam", target="Cam", shot_size="full", subject_height=1.0))


@pytest.mark.parametrize("size", ["close_up", "medium_close_up", "medium", "cowboy", "full"])
def test_every_shot_size_frames_a_character_as_an_operator_would(stage: Stage, size) -> None:
    """The camera re-aims: eyes on the upper third when the shot crops, the whole body with
    head- and foot-room when it does not, a level horizon; from a camera aimed elsewhere."""
    stage.apply(CreateNode(kind="armature", name="Hero", armature=ArmatureSpec(rig="smplx", body="mannequin"),
                           transform=Transform(location=(0.5, 1.0, 0.0))))  # fmt: skip
    stage.apply(CreateNode(kind="camera", name="Op", camera=CameraParams(lens=50.0),
                           transform=Transform(location=(2.0, -6.0, 2.4))))  # fmt: skip
    stage.apply(FrameShot(node="Op", target="Hero", shot_size=size))
    bpy.context.view_layer.update()
    scene, camera, hero = bpy.context.scene, bpy.data.objects["Op"], bpy.data.objects["Hero"]
    seen = np.array([world_to_camera_view(scene, camera, hero.matrix_world @ p)
                     for b in hero.pose.bones for p in (b.head, b.tail)])  # fmt: skip
    eyes = np.array([world_to_camera_view(scene, camera, hero.matrix_world @ b.head)
                     for b in hero.pose.bones if "eye" in b.name])  # fmt: skip
    assert abs((camera.matrix_world.to_3x3() @ Vector((1.0, 0.0, 0.0))).z) < 1e-6, "the horizon is level"
    assert np.all(seen[:, 2] > 0), "the subject is in front of the camera"
    if size == "full":
        assert 0.03 < seen[:, 1].min() < 0.15 and 0.85 < seen[:, 1].max() < 0.97, "head- and foot-room"
        assert seen[:, 0].min() > 0.2 and seen[:, 0].max() < 0.8
    else:
        assert eyes[:, 1].mean() == pytest.approx(2 / 3, abs=0.03), "the eyes on the upper third"
        assert eyes[:, 0].mean() == pytest.approx(0.5, abs=0.05)
        assert eyes[:, 1].mean() < seen[:, 1].max() < 1.0, "the top of the head is in frame"


def test_rack_focus_is_keyframed_and_survives_a_rebuild(stage: Stage, tmp_path) -> None:
    resolved, _ = stage.apply(
        RackFocus(
            node="Cam", frames=10, from_target="Near", to_target="Pillar", start_frame=1, easing="linear"
        )
    )
    marked = (marked_distance_m(35.0, 2.0), marked_distance_m(35.0, 5.0))  # targets 2 m and 5 m from the lens
    assert (resolved.from_distance, resolved.to_distance) == (pytest.approx(marked[0], abs=1e-6),
                                                              pytest.approx(marked[1], abs=1e-6))  # fmt: skip
    assert resolved.start_frame == 1
    scene = bpy.context.scene
    dof = bpy.data.objects["Cam"].data.dof
    expected = {1: 2.0, 11: 5.0, 6: 1.0 / (0.5 + (0.2 - 0.5) * 0.5)}  # linear in dioptres
    for frame, distance in expected.items():
        scene.frame_set(frame)
        assert dof.focus_distance == pytest.approx(distance, rel=1e-3), frame
    snapshot = (stage.scene_settings(), stage.snapshot_nodes())
    curves = stage.node_state("Cam").animation
    assert curves and curves[0].path == "data.dof.focus_distance" and len(curves[0].frames) == 11
    copy = Stage(AssetStore(tmp_path / "copy"))
    copy.rebuild(*snapshot, fetch_asset=lambda sha: b"")
    assert copy.snapshot_nodes() == snapshot[1]
    bpy.context.scene.frame_set(6)
    assert bpy.data.objects["Cam"].data.dof.focus_distance == pytest.approx(expected[6], rel=1e-3)


def test_a_failed_rack_focus_leaves_no_keys(stage: Stage) -> None:
    before = stage.snapshot_nodes()
    with pytest.raises(InvalidArgument):
        stage.apply(RackFocus(node="Cam", frames=10, to_distance=0.01))
    with pytest.raises(InvalidArgument, match="not a camera"):
        stage.apply(RackFocus(node="Pillar", frames=10, to_distance=3.0))
    assert stage.snapshot_nodes() == before
    assert np.isclose(stage.node_state("Cam").camera.focus_distance, 5.0)


def _set_camera(params: CameraParams):
    from protocols import SetCamera

    return SetCamera(node="Cam", camera=params)


STAGE_WITH_OPTICS = """
[stage]
name = "Custom glass"

[optics.bodies.bolex_h16]
label = "Bolex H16 (16 mm film)"
sensor_width_mm = 10.26
sensor_height_mm = 7.49
coc_mm = 0.012

[[camera]]
name = "Bolex"
body = "bolex_h16"
lens = 25
"""


def test_a_stage_file_extends_the_optics_table(tmp_path) -> None:
    from optics import default_optics
    from stage_scenes import StageFileError, load_stage

    path = tmp_path / "stage.toml"
    path.write_text(STAGE_WITH_OPTICS)
    stage_file = load_stage(path)
    stage = Stage(AssetStore(tmp_path / "assets"), default_optics().with_overrides(stage_file.optics))
    stage.reset()
    for command in stage_file.commands:
        stage.apply(command)
    camera = stage.node_state("Bolex").camera
    assert (camera.body, camera.sensor_width, camera.coc_mm) == ("bolex_h16", pytest.approx(10.26), 0.012)
    path.write_text(STAGE_WITH_OPTICS.replace("sensor_height_mm = 7.49", "sensor_height_mm = -1"))
    with pytest.raises(StageFileError, match="sensor_height_mm"):
        load_stage(path)


def test_focusing_on_a_character_holds_its_eye_sharp_as_it_moves(stage: Stage) -> None:
    """A focus puller's mark on a person is the eye: Blender's depth of field is given the rig's
    eye bone (so every render follows it), and the readout measures to the same point, frame by
    frame — not to the middle of the body (hip depth)."""
    from protocols import SetCamera, SetTransform

    stage.apply(CreateNode(kind="armature", name="Hero", armature=ArmatureSpec(rig="smplx", body="mannequin"),
                           transform=Transform(location=(0.0, 3.0, 0.0))))  # fmt: skip
    stage.apply(CreateNode(kind="empty", name="Box", transform=Transform(location=(1.0, 4.0, 0.5))))
    stage.apply(SetCamera(node="Cam", camera=CameraParams(focus_target="Hero", use_dof=True)))
    camera, hero = bpy.data.objects["Cam"], bpy.data.objects["Hero"]
    assert camera.data.dof.focus_object == hero and camera.data.dof.focus_subtarget == "left_eye_smplhf"

    def eye_distance() -> float:
        bpy.context.view_layer.update()
        eye = hero.matrix_world @ hero.pose.bones["left_eye_smplhf"].head
        return float((eye - camera.matrix_world.translation).dot(Vector((0.0, 1.0, 0.0))))

    # Hero faces the camera (characters face -Y): the eye is nearer than the body's middle
    assert stage.optics("Cam").focus_m == pytest.approx(marked_distance_m(35.0, eye_distance()), abs=1e-3)
    assert eye_distance() < 3.0 - 0.05
    stage.apply(SetTransform(node="Hero", location=(0.0, 4.5, 0.0)))  # the actor steps back
    assert stage.optics("Cam").focus_m == pytest.approx(marked_distance_m(35.0, eye_distance()), abs=1e-3)
    assert stage.node_state("Cam").camera.focus_target == stage.node_state("Hero").uuid

    stage.apply(SetCamera(node="Cam", camera=CameraParams(focus_target="Box")))  # not a character
    assert camera.data.dof.focus_subtarget == ""
    assert stage.optics("Cam").focus_m == pytest.approx(marked_distance_m(35.0, 4.0), abs=1e-5)


RESOLUTIONS = [(1920, 1080), (1280, 720), (2048, 858), (4096, 2160), (1080, 1920), (1000, 1000)]


def test_every_bodys_frame_fits_its_sensor_in_the_readout_and_the_render(stage: Stage) -> None:
    """A RED Komodo's 27.03 × 14.26 mm sensor is wider than 16:9: a 16:9 frame uses its full
    height and 25.35 mm of its width, not 27.03 × 15.20 mm (a frame taller than the sensor).
    Each body, each picture shape, spherical and 2× / 1.33× anamorphic: the readout's frame lies
    inside the sensor and touches two of its edges, and the picture Blender renders (its own view
    frame under the renderer's setup) is that frame desqueezed — its angle of view the readout's."""
    from renderers._blender import _render_setup
    from renderers._settings import RenderSettings

    scene, camera = bpy.context.scene, bpy.data.objects["Cam"]
    for name, body in default_optics().bodies.items():
        for squeeze in (1.0, 2.0, 1.33):
            stage.apply(_set_camera(CameraParams(body=name, squeeze=squeeze)))
            for width, height in RESOLUTIONS:
                scene.render.resolution_x, scene.render.resolution_y = width, height
                readout = stage.optics("Cam")
                frame = np.array([readout.sensor_width_mm, readout.sensor_height_mm])
                settings = RenderSettings(engine="workbench", resolution=(width, height), samples=1)
                with _render_setup(scene, camera, settings, "workbench", "/tmp/unused.png", "PNG"):
                    corners = np.array([tuple(v) for v in camera.data.view_frame(scene=scene)])
                rendered = 2 * np.abs(corners[:, :2]).max(0) / abs(corners[0, 2]) * camera.data.lens
                case = (name, squeeze, width, height, frame)
                assert frame[0] <= body.sensor_width_mm * (1 + 1e-4), case
                assert frame[1] <= body.sensor_height_mm * (1 + 1e-4), case
                assert min(abs(frame[0] - body.sensor_width_mm), abs(frame[1] - body.sensor_height_mm)) < 1e-3
                np.testing.assert_allclose(rendered, frame * [squeeze, 1.0], rtol=1e-4, err_msg=str(case))
                assert rendered[0] / rendered[1] == pytest.approx(
                    width / height, rel=1e-4
                )  # the picture's shape
                fov = 2 * math.atan(rendered[0] / 2 / readout.focal_mm)
                assert readout.fov_horizontal == pytest.approx(fov, rel=1e-4), case  # picture = readout


def test_the_stage_refuses_what_the_glass_cannot_do(stage: Stage) -> None:
    """Lenses as data: f/0.7 on a 14 mm f/1.8, stopping down a fixed-aperture phone lens, focus
    closer than the lens focuses (by hand, in a pull, in a shot) are refused with the lens's own
    reach; mounting a lens moves the stop and focus within it; a focal length by hand leaves it."""
    from protocols import SetCamera

    stage.apply(SetLens(node="Cam", lens="prime_14"))
    camera = stage.node_state("Cam").camera
    assert camera.lens_name == "prime_14" and camera.lens == pytest.approx(14.0)
    with pytest.raises(InvalidArgument, match=r"opens to f/1\.8 and stops down to f/16; f/0\.7") as refused:
        stage.apply(SetCamera(node="Cam", camera=CameraParams(fstop=0.7)))
    assert refused.value.field == "camera.fstop"
    stage.apply(SetCamera(node="Cam", camera=CameraParams(fstop=1.8)))
    with pytest.raises(InvalidArgument, match=r"no closer than 0\.27 m"):
        stage.apply(SetCamera(node="Cam", camera=CameraParams(focus_distance=0.1)))
    with pytest.raises(InvalidArgument, match=r"no closer than 0\.27 m") as refused:
        stage.apply(RackFocus(node="Cam", frames=10, from_distance=2.0, to_distance=0.2))
    assert refused.value.field == "to_distance" and not stage.node_state("Cam").animation

    stage.apply(SetCamera(node="Cam", camera=CameraParams(fstop=8.0, focus_distance=0.3)))
    stage.apply(SetCamera(node="Cam", camera=CameraParams(lens_name="iphone_15_pro_main")))
    camera, readout = stage.node_state("Cam").camera, stage.optics("Cam")
    assert camera.fstop == pytest.approx(1.78) and readout.lens == "iphone_15_pro_main"  # the stop it has
    assert readout.tstop == pytest.approx(1.78 / math.sqrt(0.9), rel=1e-4)
    with pytest.raises(InvalidArgument, match=r"fixed aperture of f/1\.78"):
        stage.apply(SetCamera(node="Cam", camera=CameraParams(fstop=4.0)))

    stage.apply(SetLens(node="Cam", lens="prime_85"))  # focused at 0.3 m: the 85 mm reaches 0.85 m
    assert stage.node_state("Cam").camera.focus_distance == pytest.approx(0.85)
    stage.apply(CreateNode(kind="armature", name="Hero", armature=ArmatureSpec(rig="smplx"),
                           transform=Transform(location=(0.0, 3.0, 0.0))))  # fmt: skip
    with pytest.raises(InvalidArgument, match=r"no closer than 0\.85 m") as refused:
        stage.apply(FrameShot(node="Cam", target="Hero", shot_size="extreme_close_up"))
    assert refused.value.field == "shot_size"

    stage.apply(SetCamera(node="Cam", camera=CameraParams(lens=40.0)))  # a zoom's own focal length
    camera, readout = stage.node_state("Cam").camera, stage.optics("Cam")
    assert camera.lens_name is None and readout.lens == "" and readout.tstop == readout.fstop
    stage.apply(
        SetCamera(node="Cam", camera=CameraParams(fstop=0.95))
    )  # no lens: no limit but the protocol's


def _looks_at(camera, point: Vector) -> float:
    """Degrees between the camera's view axis and the direction to ``point``."""
    bpy.context.view_layer.update()
    world = camera.matrix_world
    axis = -(world.to_3x3() @ Vector((0.0, 0.0, 1.0)))
    return math.degrees(axis.angle(point - world.translation))


def test_look_at_turns_the_camera_where_it_stands_at_once_or_as_a_keyed_move(stage: Stage, tmp_path) -> None:
    from protocols import LookAt

    stage.apply(CreateNode(kind="empty", name="Side", transform=Transform(location=(3.0, 4.0, 2.0))))
    camera, side = bpy.data.objects["Cam"], Vector((3.0, 4.0, 2.0))
    bpy.context.view_layer.update()
    where = camera.matrix_world.translation.copy()
    resolved, _ = stage.apply(LookAt(node="Cam", target="Side", frames=12, start_frame=1, easing="linear"))
    assert resolved.start_frame == 1
    scene = bpy.context.scene
    scene.frame_set(1)
    assert _looks_at(camera, Vector((0.0, 5.0, 0.9))) < 0.1, "it starts where it looked"
    turn = _looks_at(camera, side)
    scene.frame_set(13)
    assert _looks_at(camera, side) < 0.1 and (camera.matrix_world.translation - where).length < 1e-5
    assert abs((camera.matrix_world.to_3x3() @ Vector((1.0, 0.0, 0.0))).z) < 1e-5, "a level horizon"
    scene.frame_set(7)
    assert _looks_at(camera, side) == pytest.approx(turn / 2, abs=2.0), "halfway through the turn"
    copy = Stage(AssetStore(tmp_path / "copy"))  # the move replays from the snapshot
    copy.rebuild(stage.scene_settings(), stage.snapshot_nodes(), lambda sha: b"")
    bpy.context.scene.frame_set(13)
    assert _looks_at(bpy.data.objects["Cam"], side) < 0.1
    stage.rebuild(copy.scene_settings(), copy.snapshot_nodes(), lambda sha: b"")
    stage.apply(LookAt(node="Cam", point=(0.0, 5.0, 0.9)))  # at once
    assert _looks_at(bpy.data.objects["Cam"], Vector((0.0, 5.0, 0.9))) < 0.1
    with pytest.raises(InvalidArgument, match="exactly one"):
        LookAt(node="Cam")


def test_frame_shot_as_a_move_ends_on_the_cut_with_the_focus_pulled_along(stage: Stage) -> None:
    from protocols import SetTransform

    camera = bpy.data.objects["Cam"]
    stage.apply(SetTransform(node="Cam", location=(2.0, -1.0, 1.5)))
    bpy.context.view_layer.update()
    start = camera.matrix_world.copy()
    stage.apply(FrameShot(node="Cam", target="Pillar", shot_size="medium"))
    cut, cut_focus = camera.matrix_world.copy(), stage.node_state("Cam").camera.focus_distance
    camera.matrix_world = start
    stage.apply(SetTransform(node="Cam", location=(2.0, -1.0, 1.5)))
    stage.apply(FrameShot(node="Cam", target="Pillar", shot_size="medium", frames=24, start_frame=1))
    scene = bpy.context.scene
    scene.frame_set(1)
    assert (camera.matrix_world.translation - start.translation).length < 1e-4, "it starts where it stood"
    scene.frame_set(25)
    assert (camera.matrix_world.translation - cut.translation).length < 1e-4
    assert stage.node_state("Cam").camera.focus_distance == pytest.approx(cut_focus, rel=1e-4)
    scene.frame_set(13)
    moving = stage.node_state("Cam").camera.focus_distance
    assert min(cut_focus, moving) < moving < 10.0, "the focus follows the subject during the move"


def test_a_breathing_lens_narrows_the_picture_as_it_focuses_close(tmp_path) -> None:
    """A 50 mm that loses 10 % of its view at its 0.5 m closest focus: at infinity the picture is
    the 50 mm's, at 0.5 m it is drawn as a 55.6 mm would (the readout and every render say so);
    the breathing travels with the camera's state and goes when a focal length is set by hand."""
    from optics import default_optics, field_of_view_rad
    from renderers._blender import _render_setup
    from renderers._settings import RenderSettings

    glass = {"lenses": {"breather_50": {"focal_mm": 50.0, "min_focus_m": 0.5, "breathing": 0.1}}}
    stage = Stage(AssetStore(tmp_path / "assets"), default_optics().with_overrides(glass))
    stage.reset()
    lens = CameraParams(
        lens_name="breather_50", sensor_width=36.0, sensor_fit="horizontal", focus_distance=1000.0
    )
    stage.apply(CreateNode(kind="camera", name="Cam", camera=lens))
    camera = bpy.data.objects["Cam"]
    far = stage.optics("Cam").fov_horizontal
    assert stage.node_state("Cam").camera.breathing == pytest.approx(0.05)
    stage.apply(_set_camera(CameraParams(focus_distance=0.5)))
    close = stage.optics("Cam").fov_horizontal
    assert far == pytest.approx(field_of_view_rad(50.0, 36.0, 24.0).horizontal, rel=1e-3)
    assert close == pytest.approx(field_of_view_rad(50.0 / 0.9, 36.0, 24.0).horizontal, rel=1e-3)
    with _render_setup(bpy.context.scene, camera, RenderSettings(), "cycles", "/dev/null", "BMP"):
        assert camera.data.lens == pytest.approx(50.0 / 0.9, rel=1e-4), "renders draw it breathing"
    assert camera.data.lens == pytest.approx(50.0)
    stage.apply(_set_camera(CameraParams(lens=52.0)))  # a focal length by hand: no longer that lens
    camera_state = stage.node_state("Cam").camera
    assert (camera_state.lens_name, camera_state.breathing) == (None, 0.0)
    with pytest.raises(InvalidArgument, match="min_focus_m"):
        default_optics().with_overrides({"lenses": {"bad": {"focal_mm": 50.0, "breathing": 0.1}}})
