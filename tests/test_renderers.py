"""The Blender renderer against a real bpy scene: where the cube lands, its depth, state restored."""

from __future__ import annotations

import math

import bpy
import numpy as np
import pytest
from mathutils import Vector

from protocols import InvalidArgument, NotFound
from renderers import RESOLUTION_PRESETS, RenderSettings, egl_available, render_frame, render_still

WIDTH, HEIGHT = 160, 90
CAMERA_Y = -6.0
CUBE_SIZE = 1.0

ENGINES = [
    pytest.param(RenderSettings(engine="cycles", resolution=(WIDTH, HEIGHT), samples=4), id="cycles"),
    pytest.param(RenderSettings(engine="workbench", resolution=(WIDTH, HEIGHT), samples=1), id="workbench"),
]


@pytest.fixture(scope="module")
def stage():
    """An empty scene: a camera at y = -6 looking along +y, a light, an emissive cube at the origin."""
    bpy.ops.wm.read_factory_settings(use_empty=True)
    scene = bpy.context.scene
    scene.world = None  # black background for every engine
    camera = bpy.data.objects.new("Cam", bpy.data.cameras.new("Cam"))
    camera.location = (0.0, CAMERA_Y, 0.0)
    camera.rotation_euler = (math.pi / 2, 0.0, 0.0)
    light = bpy.data.objects.new("Key", bpy.data.lights.new("Key", "POINT"))
    light.location = (2.0, -4.0, 3.0)
    light.data.energy = 500.0
    bpy.ops.mesh.primitive_cube_add(size=CUBE_SIZE)
    cube = bpy.context.active_object
    cube.name = "Cube"
    material = bpy.data.materials.new("Glow")
    principled = material.node_tree.nodes["Principled BSDF"]
    principled.inputs["Emission Color"].default_value = (1.0, 1.0, 1.0, 1.0)
    principled.inputs["Emission Strength"].default_value = 5.0
    cube.data.materials.append(material)
    for obj in (camera, light):
        scene.collection.objects.link(obj)
    yield scene
    bpy.ops.wm.read_factory_settings(use_empty=True)


@pytest.fixture
def cube(stage):
    obj = stage.objects["Cube"]
    obj.location = (0.0, 0.0, 0.0)
    yield obj
    obj.location = (0.0, 0.0, 0.0)


def _needs_egl(settings: RenderSettings) -> None:
    if settings.engine != "cycles" and not egl_available():
        pytest.skip("no EGL here: Workbench falls back to Cycles")


def _projected_box(obj, camera) -> tuple[float, float, float, float]:
    """Pixel bounds (left, top, right, bottom) of ``obj``'s vertices through a pinhole ``camera``."""
    to_camera = camera.matrix_world.inverted() @ obj.matrix_world
    focal_px = camera.data.lens / camera.data.sensor_width * WIDTH  # sensor fit: horizontal
    xs, ys = [], []
    for vertex in obj.data.vertices:
        p = to_camera @ Vector(vertex.co)
        xs.append(WIDTH / 2 + focal_px * p.x / -p.z)
        ys.append(HEIGHT / 2 - focal_px * p.y / -p.z)
    return min(xs), min(ys), max(xs), max(ys)


def _lit_box(rgb: np.ndarray) -> tuple[float, float, float, float]:
    rows, cols = np.nonzero(rgb.max(axis=2) > 40)
    return cols.min(), rows.min(), cols.max() + 1, rows.max() + 1


@pytest.mark.parametrize("settings", ENGINES)
def test_cube_lands_where_the_projection_says(stage, cube, settings):
    _needs_egl(settings)
    frame = render_frame("Cam", settings)
    assert frame.engine == settings.engine
    assert frame.rgb.shape == (HEIGHT, WIDTH, 3)
    assert frame.rgb.dtype == np.uint8
    assert frame.depth is None
    assert frame.rgb.max() > 100, "image is blank"
    expected = _projected_box(cube, stage.objects["Cam"])
    np.testing.assert_allclose(_lit_box(frame.rgb), expected, atol=1.5)
    left, top, right, bottom = (round(v) for v in expected)
    inside = frame.rgb[top + 1 : bottom - 1, left + 1 : right - 1].max(axis=2)
    assert (inside > 40).mean() > 0.95
    assert frame.rgb[:, : left - 2].max() < 20 and frame.rgb[:, right + 2 :].max() < 20


@pytest.mark.parametrize("settings", ENGINES)
def test_moving_the_cube_moves_its_pixels(stage, cube, settings):
    _needs_egl(settings)
    before = _lit_box(render_frame("Cam", settings).rgb)
    cube.location = (1.0, 0.0, -0.5)
    after = _lit_box(render_frame("Cam", settings).rgb)
    expected = _projected_box(cube, stage.objects["Cam"])
    np.testing.assert_allclose(after, expected, atol=1.5)
    assert after[0] > before[0] + 30 and after[1] > before[1] + 10  # right and down


@pytest.mark.parametrize("settings", ENGINES)
def test_depth_is_the_distance_to_the_cube_and_inf_elsewhere(stage, cube, settings):
    _needs_egl(settings)
    frame = render_frame("Cam", settings, depth=True)
    assert frame.depth is not None
    assert frame.depth.shape == (HEIGHT, WIDTH)
    assert frame.depth.dtype == np.float32
    front_face = -CAMERA_Y - CUBE_SIZE / 2
    assert frame.depth[HEIGHT // 2, WIDTH // 2] == pytest.approx(front_face, rel=0.02)
    left, top, right, bottom = (round(v) for v in _projected_box(cube, stage.objects["Cam"]))
    face = frame.depth[top + 1 : bottom - 1, left + 1 : right - 1]
    np.testing.assert_allclose(face, front_face, rtol=0.02)  # planar depth: the whole face
    outside = np.ones_like(frame.depth, dtype=bool)
    outside[top - 2 : bottom + 2, left - 2 : right + 2] = False
    assert np.all(np.isinf(frame.depth[outside]))


def _render_state(stage) -> tuple:
    """Every Blender setting a render touches, and the datablocks it may leave behind."""
    render = stage.render
    return (
        stage.camera,
        render.engine,
        render.resolution_x,
        render.resolution_y,
        render.resolution_percentage,
        render.filepath,
        render.image_settings.file_format,
        stage.compositing_node_group,
        bpy.context.view_layer.use_pass_z,
        stage.cycles.samples,
        len(bpy.data.node_groups),
        len(bpy.data.images),
    )


def test_blender_state_is_restored(stage, cube):
    before = _render_state(stage)
    render_frame("Cam", RenderSettings(resolution=(32, 18), samples=1), depth=True)
    assert _render_state(stage) == before


def test_render_still_writes_a_png(stage, cube, tmp_path):
    path = render_still(
        "Cam", tmp_path / "shots" / "still.png", RenderSettings(resolution=(48, 27), samples=1)
    )
    data = path.read_bytes()
    assert path == (tmp_path / "shots" / "still.png").resolve()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    assert int.from_bytes(data[16:20], "big") == 48 and int.from_bytes(data[20:24], "big") == 27


def test_unknown_camera_is_not_found(stage):
    with pytest.raises(NotFound, match=r"'Nope'.*Cam"):
        render_frame("Nope", RenderSettings(resolution=(8, 8), samples=1))


def test_a_mesh_is_not_a_camera(stage):
    with pytest.raises(InvalidArgument, match="'Cube' is a mesh"):
        render_still("Cube", "/dev/null", RenderSettings(resolution=(8, 8), samples=1))


def test_settings_presets_and_validation():
    assert RenderSettings().size == RESOLUTION_PRESETS["preview"] == (320, 180)
    assert RenderSettings(resolution="fhd").width == 1920
    assert RenderSettings(resolution="hd").height == 720
    assert RenderSettings().denoise is False
    for bad, field in (
        ({"engine": "povray"}, "engine"),
        ({"resolution": "4k"}, "resolution"),
        ({"resolution": (0, 10)}, "resolution"),
        ({"resolution": (10.0, 10)}, "resolution"),
        ({"samples": 0}, "samples"),
        ({"samples": True}, "samples"),
    ):
        with pytest.raises(InvalidArgument) as caught:
            RenderSettings(**bad)
        assert caught.value.field == field
