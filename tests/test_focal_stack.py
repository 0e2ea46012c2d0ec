"""Focal stacks: a focus sweep rendered to a real MP4, by post-process and by Cycles."""

from __future__ import annotations

import math

import av
import bpy
import numpy as np
import pytest

from protocols import InvalidArgument
from renderers import RenderSettings, focus_sweep, render_focal_stack

LENS_MM = 85.0
POSTS = {"Near": (-0.2, 1.5), "Far": (0.5, 6.0)}  # (x, y) in metres; the camera looks down +Y


def _column(name: str, width: int = 128) -> int:
    """The image column where a post stands (pinhole projection)."""
    x, y = POSTS[name]
    return round(width / 2 + (x / y) * LENS_MM / 36.0 * width)


@pytest.fixture
def two_posts():
    """A camera looking down +Y at a bright post near (1.5 m) and one far (6 m) away."""
    bpy.ops.wm.read_factory_settings(use_empty=True)
    scene = bpy.context.scene
    scene.world = bpy.data.worlds.new("World")
    scene.world.color = (0.02, 0.02, 0.02)
    for name, (x, y) in POSTS.items():
        mesh = bpy.data.meshes.new(name)
        mesh.from_pydata(
            [(-0.05, 0, -0.5), (0.05, 0, -0.5), (0.05, 0, 0.5), (-0.05, 0, 0.5)], [], [(0, 1, 2, 3)]
        )
        post = bpy.data.objects.new(name, mesh)
        post.location = (x, y, 0.0)
        material = bpy.data.materials.new(name)
        principled = material.node_tree.nodes["Principled BSDF"]
        principled.inputs["Emission Color"].default_value = (1.0, 1.0, 1.0, 1.0)
        principled.inputs["Emission Strength"].default_value = 4.0
        mesh.materials.append(material)
        scene.collection.objects.link(post)
    cam = bpy.data.cameras.new("Cam")
    cam.lens, cam.sensor_width, cam.sensor_fit = LENS_MM, 36.0, "HORIZONTAL"
    cam.dof.aperture_fstop = 1.4
    camera = bpy.data.objects.new("Cam", cam)
    camera.rotation_euler = (math.pi / 2, 0.0, 0.0)
    scene.collection.objects.link(camera)
    return camera


def _frames(path) -> list[np.ndarray]:
    with av.open(str(path)) as container:
        return [frame.to_ndarray(format="rgb24") for frame in container.decode(video=0)]


def _softness(rgb: np.ndarray, x0: int, x1: int) -> float:
    """How many pixels per row of a column band lie part-way between background and the post's
    brightness (the width of its edges): about 2 when in focus, more the more it is blurred."""
    band = rgb[:, x0:x1].astype(np.float64).mean(axis=2)
    rows = band[band.max(axis=1) > 120]  # rows the post crosses
    low, high = np.median(rgb), rows.max()
    between = (rows > low + 0.15 * (high - low)) & (rows < low + 0.85 * (high - low))
    return float(between.sum(axis=1).mean())


def test_focus_sweep_is_even_in_dioptres() -> None:
    sweep = focus_sweep(1.0, 4.0, 4)
    assert sweep == pytest.approx([1.0, 1.3333, 2.0, 4.0], rel=1e-3)
    with pytest.raises(InvalidArgument, match="at least 2"):
        focus_sweep(1.0, 4.0, 1)


@pytest.mark.parametrize(("method", "racked"), [("post", False), ("cycles", False), ("cycles", True)])
def test_a_focal_stack_pulls_focus_from_near_to_far(two_posts, tmp_path, method: str, racked: bool) -> None:
    """Also over a rack focus's keys: the stack's own focus overrides them (they would hold every
    step at the keyed distance), and the keys are left as they were."""
    if racked:
        two_posts.data.dof.keyframe_insert("focus_distance", frame=1)
        two_posts.data.dof.focus_distance = 3.0
        two_posts.data.dof.keyframe_insert("focus_distance", frame=30)
    out = tmp_path / f"stack-{method}.mp4"
    settings = RenderSettings(engine="cycles", resolution=(128, 72), samples=8)
    render_focal_stack("Cam", out, focus_sweep(1.5, 6.0, 4), settings=settings, method=method, fps=12)
    frames = _frames(out)
    assert len(frames) == 4 and frames[0].shape == (72, 128, 3)
    near_band = (_column("Near") - 14, _column("Near") + 14)
    far_band = (_column("Far") - 10, _column("Far") + 10)
    first, last = frames[0], frames[-1]
    assert _softness(last, *near_band) > 2.0 * _softness(first, *near_band), "the near post goes soft"
    assert _softness(first, *far_band) > 2.0 * _softness(last, *far_band), "the far post comes sharp"
    if racked:
        bpy.context.scene.frame_set(30)
        assert two_posts.data.dof.focus_distance == pytest.approx(3.0), "the pull's keys still play"
