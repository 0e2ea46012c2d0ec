"""Progressive refinement of a live view (real bpy, real Cycles): the preview while a view changes
shows the lens's depth of field, and a still view converges on a many-sample reference."""

from __future__ import annotations

import math

import bpy
import numpy as np
import pytest

from renderers import ProgressiveView, RenderSettings, render_frame

WIDTH, HEIGHT = 320, 180


@pytest.fixture(scope="module")
def bars():
    """A camera (85 mm, f/1.4) looking along +y at white bars 2 m away (left) and 12 m away
    (right), lit by a lamp, on a grey floor."""
    bpy.ops.wm.read_factory_settings(use_empty=True)
    scene = bpy.context.scene
    camera = bpy.data.objects.new("Cam", bpy.data.cameras.new("Cam"))
    camera.location = (0.0, -2.0, 1.0)
    camera.rotation_euler = (math.pi / 2, 0.0, 0.0)
    camera.data.lens = 85.0
    camera.data.sensor_fit = "HORIZONTAL"
    camera.data.sensor_width = 36.0
    camera.data.dof.use_dof = True
    camera.data.dof.aperture_fstop = 1.4
    scene.collection.objects.link(camera)
    lamp = bpy.data.objects.new("Lamp", bpy.data.lights.new("Lamp", "POINT"))
    lamp.location = (0.0, -1.0, 3.0)
    lamp.data.energy = 400.0
    scene.collection.objects.link(lamp)
    white = bpy.data.materials.new("White")
    white.node_tree.nodes["Principled BSDF"].inputs["Base Color"].default_value = (0.9, 0.9, 0.9, 1.0)
    for i, x in enumerate((-0.3, -0.22, -0.14)):
        _box(f"Near{i}", (x, 0.0, 1.0), (0.015, 0.015, 0.3), white)
    for i, x in enumerate((0.8, 1.3, 1.8)):
        _box(f"Far{i}", (x, 10.0, 1.0), (0.09, 0.09, 1.8), white)
    yield camera
    bpy.ops.wm.read_factory_settings(use_empty=True)


def _box(name, location, scale, material) -> None:
    bpy.ops.mesh.primitive_cube_add(size=1.0, location=location)
    obj = bpy.context.active_object
    obj.name, obj.scale = name, scale
    obj.data.materials.append(material)


def _sharpness(rgb: np.ndarray, columns: slice) -> float:
    """Root-mean-square luminance gradient of the bars' rows in ``columns``."""
    y = rgb[20:160, columns].astype(np.float64) @ np.array([0.2126, 0.7152, 0.0722])
    return float(np.sqrt((np.diff(y, axis=0)[:, :-1] ** 2 + np.diff(y, axis=1)[:-1] ** 2).mean()))


NEAR, FAR = slice(30, 130), slice(190, 290)


def test_the_preview_shows_the_lens_depth_of_field(bars):
    view = ProgressiveView("cycles", WIDTH, HEIGHT, samples=16)
    sharpness = {}
    for focus in (2.0, 12.0):
        bars.data.dof.focus_distance = focus
        picture = view.next("Cam", changed=True)
        assert (picture.samples, picture.converged) == (0, False)
        sharpness[focus] = (_sharpness(picture.rgb, NEAR), _sharpness(picture.rgb, FAR))
    (near_a, far_a), (near_b, far_b) = sharpness[2.0], sharpness[12.0]
    assert near_a > 2 * near_b and far_b > 2 * far_a, sharpness  # each set is sharp only in focus


def test_a_still_view_converges_on_the_many_sample_render(bars):
    bars.data.dof.focus_distance = 2.0
    reference = render_frame("Cam", RenderSettings("cycles", (WIDTH, HEIGHT), 256), linear=True).rgb
    view = ProgressiveView("cycles", WIDTH, HEIGHT, samples=32)
    preview = view.next("Cam", changed=True)
    pictures = []
    while view.refining:
        pictures.append(view.next("Cam", changed=False))
    counts = [p.samples for p in pictures]
    assert counts == sorted(set(counts)) and counts[-1] == 32, counts
    assert [p.converged for p in pictures] == [False] * (len(pictures) - 1) + [True]

    def error(rgb: np.ndarray) -> float:
        return float(np.abs(rgb.astype(np.float64) - reference).mean())

    assert error(pictures[-1].rgb) < 0.6 * error(preview.rgb)
    assert error(pictures[-1].rgb) < 4.0, "within a few codes of the 256-sample render"
    assert view.next("Cam", changed=True).samples == 0 and view.refining, "a change starts again"
