"""Bokeh post-process at 1280×720 against a Cycles depth-of-field render of the same frame.

Prints ``name: value unit`` lines. Run from the repository root:
``PYTHONPATH=. .venv/bin/python bench/bench_bokeh.py``. The Cycles render (64 spp, no denoiser:
where its out-of-focus discs come out clean) is timed once, since it takes tens of seconds here.
"""

from __future__ import annotations

import math
import statistics
import time

import bpy

from renderers import BokehKernel, RenderSettings, defocus_frame, render_frame

FOCAL_MM, FSTOP, FOCUS_M, SENSOR_MM = 50.0, 2.0, 3.0, 36.0
CYCLES_SAMPLES = 64
REPEATS = 5


def build_scene() -> None:
    """A subject in focus at 3 m, a sphere at 1.5 m, lights and a back wall far behind."""
    bpy.ops.wm.read_factory_settings(use_empty=True)
    scene = bpy.context.scene
    camera = bpy.data.objects.new("Cam", bpy.data.cameras.new("Cam"))
    camera.location = (0.0, -FOCUS_M, 0.0)
    camera.rotation_euler = (math.pi / 2, 0.0, 0.0)
    camera.data.lens = FOCAL_MM
    camera.data.sensor_fit = "HORIZONTAL"
    camera.data.sensor_width = SENSOR_MM
    camera.data.dof.aperture_fstop = FSTOP
    camera.data.dof.focus_distance = FOCUS_M
    light = bpy.data.objects.new("Key", bpy.data.lights.new("Key", "AREA"))
    light.location = (2.0, -3.0, 3.0)
    light.data.energy = 600.0
    for obj in (camera, light):
        scene.collection.objects.link(obj)
    bpy.ops.mesh.primitive_monkey_add(size=0.6)
    bpy.ops.mesh.primitive_uv_sphere_add(radius=0.15, location=(-0.45, -1.5, -0.1))
    bpy.ops.mesh.primitive_plane_add(size=30.0, location=(0.0, 12.0, 0.0), rotation=(math.pi / 2, 0.0, 0.0))
    glow = bpy.data.materials.new("Glow")
    principled = glow.node_tree.nodes["Principled BSDF"]
    principled.inputs["Emission Color"].default_value = (1.0, 0.8, 0.5, 1.0)
    principled.inputs["Emission Strength"].default_value = 30.0
    for i in range(12):  # small bright lamps behind the subject: the bokeh balls
        bpy.ops.mesh.primitive_uv_sphere_add(radius=0.03, location=(-2.2 + 0.4 * i, 8.0, 0.6 * math.sin(i)))
        bpy.context.active_object.data.materials.append(glow)


def main() -> None:
    build_scene()
    camera = bpy.data.objects["Cam"]
    camera.data.dof.use_dof = False
    frame = render_frame("Cam", RenderSettings(resolution="hd", samples=16), depth=True)
    kernel = BokehKernel.polygon(7)
    defocus_frame(frame, FOCAL_MM, FSTOP, FOCUS_M, SENSOR_MM, kernel)  # warm-up
    times = []
    for _ in range(REPEATS):
        start = time.perf_counter()
        defocus_frame(frame, FOCAL_MM, FSTOP, FOCUS_M, SENSOR_MM, kernel)
        times.append(time.perf_counter() - start)
    post_ms = statistics.median(times) * 1e3
    print(f"bokeh_postprocess_1280x720: {post_ms:.1f} ms")

    camera.data.dof.use_dof = True
    camera.data.dof.aperture_blades = 7
    start = time.perf_counter()
    render_frame("Cam", RenderSettings(resolution="hd", samples=CYCLES_SAMPLES))
    cycles_ms = (time.perf_counter() - start) * 1e3
    print(f"cycles_dof_1280x720: {cycles_ms:.1f} ms")
    print(f"bokeh_speedup_vs_cycles: {cycles_ms / post_ms:.0f} x")


if __name__ == "__main__":
    main()
