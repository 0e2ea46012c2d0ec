"""Render timings at 320×180 per engine, and the read-back cost; prints ``name: value unit`` lines.

Run from the repository root: ``PYTHONPATH=. .venv/bin/python bench/bench_render.py``.
"""

from __future__ import annotations

import math
import statistics
import time
from pathlib import Path

import bpy

from renderers import RenderSettings, egl_available, render_frame
from renderers._readback import read_bmp, read_exr_depth

REPEATS = 5


def build_scene() -> None:
    bpy.ops.wm.read_factory_settings(use_empty=True)
    scene = bpy.context.scene
    camera = bpy.data.objects.new("Cam", bpy.data.cameras.new("Cam"))
    camera.location = (0.0, -6.0, 1.0)
    camera.rotation_euler = (math.radians(85), 0.0, 0.0)
    light = bpy.data.objects.new("Key", bpy.data.lights.new("Key", "AREA"))
    light.location = (2.0, -3.0, 4.0)
    light.data.energy = 800.0
    for obj in (camera, light):
        scene.collection.objects.link(obj)
    bpy.ops.mesh.primitive_plane_add(size=20.0, location=(0.0, 0.0, -1.0))
    bpy.ops.mesh.primitive_monkey_add(location=(0.0, 0.0, 0.0))
    bpy.ops.mesh.primitive_uv_sphere_add(radius=0.5, location=(1.5, 1.0, -0.5))


def median_ms(fn, repeats: int = REPEATS) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1e3


def main() -> None:
    build_scene()
    cases = [("cycles_1spp", RenderSettings(engine="cycles", samples=1))]
    cases += [("cycles_4spp", RenderSettings(engine="cycles", samples=4))]
    cases += [("cycles_16spp", RenderSettings(engine="cycles", samples=16))]
    if egl_available():
        cases += [("workbench", RenderSettings(engine="workbench", samples=1))]
        cases += [("eevee_1sample", RenderSettings(engine="eevee", samples=1))]
    else:
        print("egl: unavailable (workbench and eevee skipped)")
    for name, settings in cases:
        render_frame("Cam", settings)  # warm-up: kernels, shaders
        print(f"render_{name}_320x180: {median_ms(lambda s=settings: render_frame('Cam', s)):.1f} ms")
        with_depth = median_ms(lambda s=settings: render_frame("Cam", s, depth=True))
        print(f"render_{name}_320x180_with_depth: {with_depth:.1f} ms")

    scratch = Path("/dev/shm") if Path("/dev/shm").is_dir() else Path("/tmp")
    scene = bpy.context.scene
    scene.camera = scene.objects["Cam"]
    scene.render.engine = "CYCLES"
    scene.cycles.samples = 1
    scene.render.resolution_x, scene.render.resolution_y = 320, 180
    scene.render.image_settings.file_format = "BMP"
    scene.render.image_settings.color_mode = "RGB"
    scene.render.filepath = str(scratch / "bench_render.bmp")
    bpy.ops.render.render(write_still=True)
    bmp = Path(scene.render.filepath).read_bytes()
    print(f"readback_bmp_decode_320x180: {median_ms(lambda: read_bmp(bmp), 50):.3f} ms")
    Path(scene.render.filepath).unlink()

    frame = render_frame("Cam", RenderSettings(samples=1), depth=True)
    exr = _exr_of(frame.depth.shape, scratch)
    print(f"readback_exr_depth_decode_320x180: {median_ms(lambda: read_exr_depth(exr), 50):.3f} ms")


def _exr_of(shape: tuple[int, int], scratch: Path) -> bytes:
    """A depth EXR written by the same compositor route the renderer uses."""
    from renderers._blender import _depth_output, _render_setup

    scene = bpy.context.scene
    directory = scratch / "bench_render_depth"
    settings = RenderSettings(resolution=(shape[1], shape[0]), samples=1)
    with (
        _render_setup(scene, scene.objects["Cam"], settings, "cycles", str(scratch / "bench.bmp"), "BMP"),
        _depth_output(scene, bpy.context.view_layer, str(directory)),
    ):
        bpy.ops.render.render(write_still=True)
    (path,) = directory.iterdir()
    data = path.read_bytes()
    path.unlink()
    directory.rmdir()
    (scratch / "bench.bmp").unlink()
    return data


if __name__ == "__main__":
    main()
