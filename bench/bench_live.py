"""The live view's look on this machine: preview rate with depth of field, time to a converged
picture, and the cost of each step; prints ``name: value unit`` lines.

On the bundled default stage through CamA at f/1.4 focused on Hero's eye, 640×360. The baseline
is the first wave's live picture (Workbench: no scene light, no depth of field), measured in the
same run. "Converged" is stated as a noise level: a mean absolute difference under
``CONVERGED_CODES`` 8-bit codes from a 256-sample render of the same view, denoised.
Run: ``.venv/bin/python bench/bench_live.py`` (this CPU, 640×360); on a machine with a GPU,
``bench/bench_live.py --gpu --size 1280x720`` renders with Cycles on the GPU (OptiX, else CUDA).
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import bpy
import numpy as np

from optics import default_optics
from renderers import ProgressiveView, RenderSettings, denoise, display, egl_available, render_frame
from scene import AssetStore, Stage
from stage_scenes import default_stage_path, load_stage

TARGET_SAMPLES = 64
CONVERGED_CODES = 1.0
REPEATS = 5


def _stage(scratch: Path) -> bpy.types.Object:
    stage_file = load_stage(default_stage_path())
    stage = Stage(AssetStore(scratch / "assets"), default_optics().with_overrides(stage_file.optics))
    stage.reset()
    for command in stage_file.commands:
        stage.apply(command)
    camera = bpy.data.objects["CamA"]
    camera.data.dof.use_dof = True
    camera.data.dof.aperture_fstop = 1.4
    camera.data.lens = 50.0
    camera.data.dof.focus_object = bpy.data.objects["Hero"]
    camera.data.dof.focus_subtarget = "left_eye_smplhf"
    return camera


def _median_s(fn) -> float:
    times = []
    for _ in range(REPEATS):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def _use_gpu() -> str:
    """Cycles renders on the GPU: OptiX where it is, else CUDA; the device's name."""
    preferences = bpy.context.preferences.addons["cycles"].preferences
    for kind in ("OPTIX", "CUDA", "HIP", "ONEAPI", "METAL"):
        try:
            preferences.compute_device_type = kind
        except TypeError:
            continue  # this build has no such backend
        devices = [d for d in preferences.get_devices_for_type(kind) if d.type != "CPU"]
        if devices:
            for device in preferences.devices:
                device.use = device.type != "CPU"
            bpy.context.scene.cycles.device = "GPU"
            return f"{kind} {devices[0].name}"
    raise SystemExit("--gpu: Cycles finds no GPU on this machine")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--gpu", action="store_true", help="Cycles on the GPU")
    parser.add_argument("--size", default="640x360", help="widthxheight (default 640x360)")
    args = parser.parse_args()
    width, height = (int(n) for n in args.size.split("x"))
    with tempfile.TemporaryDirectory() as scratch:
        _stage(Path(scratch))
        if args.gpu:
            print(f"cycles_device: {_use_gpu()}")
        view = ProgressiveView("cycles", width, height, TARGET_SAMPLES)
        view.next("CamA", changed=True)  # warm-up: kernels, images
        preview_s = _median_s(lambda: view.next("CamA", changed=True))
        print(f"preview_fps_{width}x{height}_dof: {1 / preview_s:.2f} fps")
        print(f"preview_ms_{width}x{height}_dof: {preview_s * 1000:.0f} ms")
        if egl_available():
            solid = RenderSettings("workbench", (width, height), 1)
            solid_s = _median_s(lambda: render_frame("CamA", solid))
            print(f"baseline_workbench_fps_{width}x{height}: {1 / solid_s:.2f} fps (no scene light, no DOF)")
            print(f"preview_vs_workbench_time: {preview_s / solid_s:.1f} x")
        reference_settings = RenderSettings("cycles", (width, height), 256)
        frame = render_frame("CamA", reference_settings, linear=True, guides=True)
        linear, albedo, normal = frame.linear, frame.albedo, frame.normal
        assert linear is not None
        plain_s = _median_s(lambda: denoise(linear))
        fast_s = _median_s(lambda: denoise(linear, albedo, normal, fast=True))
        print(f"denoise_colour_only_ms_{width}x{height}: {plain_s * 1000:.0f} ms (refinement passes)")
        print(f"denoise_guided_fast_ms_{width}x{height}: {fast_s * 1000:.0f} ms (previews, at 4× their size)")
        reference = display(denoise(linear)).astype(np.float64)
        view.next("CamA", changed=True)
        started = time.perf_counter()
        converged = None
        reported = 1
        while view.refining:
            picture = view.next("CamA", changed=False)
            error = np.abs(picture.rgb - reference)
            if converged is None and error.mean() < CONVERGED_CODES:
                converged = (time.perf_counter() - started, picture.samples)
            if picture.samples >= reported:
                p99 = np.percentile(error, 99)
                print(f"error_at_{picture.samples}spp: {error.mean():.2f} codes mean, p99 {p99:.0f}")
                reported *= 4
        total_s = time.perf_counter() - started
        name = f"time_to_converged_{width}x{height}"
        if converged is None:
            print(f"{name}: not reached in {TARGET_SAMPLES} spp (mean error under {CONVERGED_CODES} codes)")
        else:
            print(
                f"{name}: {converged[0]:.1f} s ({converged[1]} spp; mean error under {CONVERGED_CODES} codes)"
            )
        print(f"time_to_{TARGET_SAMPLES}spp_{width}x{height}: {total_s:.1f} s")


if __name__ == "__main__":
    main()
