"""``run_mocap_job``: video → landmarks → SMPL-X fit → foot locking → clip asset → baked character."""

from __future__ import annotations

import contextlib
import os
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

from protocols import InvalidArgument, StageClient

from ._body import BodyModel
from ._clip import MotionClip, bake, export_character
from ._fit import fit_clip
from ._footlock import FOOT_POINTS, detect_contacts, floor_height, foot_skate, lock_feet
from ._landmarks import LandmarkSource, MediaPipeSource
from ._mannequin_model import mannequin_model_path
from ._video import read_video

PARAMS = {
    "video",
    "video_sha256",
    "character",
    "trim_in",
    "trim_out",
    "person",
    "model_path",
    "focal",
    "iterations",
    "export",
}


def run_mocap_job(
    params: dict,
    progress: Callable[[float, str], None],
    stage: StageClient,
    source: LandmarkSource | None = None,
) -> dict:
    """Capture the motion in a video onto the stage character ``params["character"]``.

    The video is ``params["video"]`` (a path this agent can read) or ``params["video_sha256"]``
    (a file in the stage's asset store, so the agent may run on another machine).

    Optional params: ``trim_in`` / ``trim_out`` (seconds), ``person`` (index), ``model_path``
    (a SMPL-X model file; default: the generated mannequin), ``focal`` (pixels; default: the
    larger image side), ``iterations``, ``export`` (paths ending .glb / .gltf / .fbx).
    Returns the clip asset's ``clip_sha256`` and summary figures.
    """
    unknown = set(params) - PARAMS
    if unknown:
        raise InvalidArgument(f"unknown mocap parameter(s): {', '.join(sorted(unknown))}", field="params")
    if ("video" in params) == ("video_sha256" in params):
        raise InvalidArgument("mocap needs exactly one of 'video' or 'video_sha256'", field="video")
    source_key = "video" if "video" in params else "video_sha256"
    for key in (source_key, "character"):
        if not isinstance(params.get(key), str) or not params[key]:
            raise InvalidArgument(f"mocap needs a '{key}' name", field=key)
    character = params["character"]
    stage.node(character)  # a missing character fails now, not after the fit
    torch.set_num_threads(max(1, min(2, os.cpu_count() or 1)))
    timings: dict[str, float] = {}

    clock = time.perf_counter()
    progress(0.0, "reading video")
    with contextlib.ExitStack() as cleanup:
        path = params.get("video") or _fetched(stage, params["video_sha256"], cleanup)
        video = read_video(path, params.get("trim_in"), params.get("trim_out"))
    progress(0.05, f"landmarks ({len(video.frames)} frames)")
    lm = (source or MediaPipeSource()).detect(video.frames, video.fps, int(params.get("person", 0)))
    timings["landmarks_s"] = time.perf_counter() - clock

    clock = time.perf_counter()
    progress(0.45, "fitting SMPL-X")
    model = BodyModel(params.get("model_path") or mannequin_model_path())
    focal = float(params.get("focal") or max(lm.image_size))
    fit = fit_clip(model.arrays, lm, focal, iterations=int(params.get("iterations", 200)))
    transl = fit.transl.copy()
    transl[:, 1] -= floor_height(model.points(fit.pose, transl))
    timings["fitting_s"] = time.perf_counter() - clock

    clock = time.perf_counter()
    progress(0.7, "foot locking")
    points = model.points(fit.pose, transl)
    contacts = detect_contacts(points, lm.fps)
    pose, transl = lock_feet(model.arrays, fit.pose, transl, contacts)
    locked = model.points(pose, transl)
    timings["foot_locking_s"] = time.perf_counter() - clock

    clock = time.perf_counter()
    progress(0.8, "baking")
    clip = MotionClip(trans=transl, poses=pose.reshape(len(pose), 165), betas=model.betas, fps=lm.fps)
    with tempfile.TemporaryDirectory(prefix="stagecraft-mocap-") as scratch:
        sha256 = stage.put_asset(clip.save(Path(scratch) / "motion_clip.npz"))
    rest = model.arrays.rest_keypoints.numpy()[FOOT_POINTS[:, 2:].ravel() - 55]
    rest_floor = float(rest[:, 1].min())
    state, batches = bake(stage, clip, character, model.arrays.rest_joints.numpy()[0], rest_floor)
    exports = [str(export_character(state, batches, Path(p))) for p in params.get("export") or ()]
    timings["baking_s"] = time.perf_counter() - clock
    progress(1.0, "done")
    return {
        "clip_sha256": sha256,
        "frames": clip.frames,
        "fps": clip.fps,
        "detection_rate": float(lm.detected.mean()),
        "contact_frames": int(contacts.sum()),
        "skate_before_mm": foot_skate(points, contacts),
        "skate_after_mm": foot_skate(locked, contacts),
        "fit_loss": fit.loss,
        "batches": len(batches),
        "exports": exports,
        **{k: round(v, 3) for k, v in timings.items()},
        "pelvis_range_m": float(np.ptp(transl, axis=0).max()),
    }


def _fetched(stage: StageClient, sha256: str, cleanup: contextlib.ExitStack) -> str:
    """The stage's asset ``sha256`` as a temporary local file (removed when ``cleanup`` closes)."""
    folder = cleanup.enter_context(tempfile.TemporaryDirectory(prefix="stagecraft-mocap-"))
    path = Path(folder) / "video"
    path.write_bytes(stage.get_asset(sha256))
    return str(path)
