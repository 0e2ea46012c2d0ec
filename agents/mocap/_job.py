"""``run_mocap_job``: video → landmarks → upright, grounded SMPL-X clip → the character on its mark."""

from __future__ import annotations

import contextlib
import os
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

from protocols import InvalidArgument, NodeState, SetTransform, StageClient

from ._body import BodyModel
from ._capture import PLACEMENTS, CaptureSettings, capture, capture_rig, one_camera
from ._clip import MotionClip, bake, character_subtree, check_character, export_character
from ._footlock import FOOT_POINTS
from ._landmarks import Box, Landmarks, LandmarkSource, MediaPipeSource
from ._mannequin_model import mannequin_model_path
from ._onnx_keypoints import OnnxKeypointSource
from ._rig import Rig
from ._video import Video, read_video

PARAMS = {
    "video", "video_sha256", "video_name", "character", "trim_in", "trim_out", "person", "box",
    "model_path", "focal", "pitch", "roll", "placement", "mark", "iterations", "export", "calibration",
    "detector_model",
}  # fmt: skip


def run_mocap_job(
    params: dict,
    progress: Callable[[float, str], None],
    stage: StageClient,
    source: LandmarkSource | None = None,
) -> dict:
    """Capture the motion in a video onto the stage character ``params["character"]``.

    The video is ``params["video"]`` (a path this agent can read) or ``params["video_sha256"]``
    (a file in the stage's asset store, so the agent may run on another machine; ``video_name``
    is what errors call it). Multi-camera capture: a list of each, one per camera of the rig in
    ``calibration`` (the parsed calibration file: see ``agents.mocap._rig``).

    Optional: ``trim_in`` / ``trim_out`` (seconds), ``person`` (index), ``box`` ([x0, y0, x1, y1]
    px: the person inside it in the first frame, followed as they move; one video only),
    ``model_path`` (a SMPL-X model
    file; default: the generated mannequin), ``focal`` (px; default: the longer image side),
    ``pitch`` / ``roll`` (degrees the camera looks down / is turned clockwise; default: read from
    the feet), ``placement`` (``"mark"``: the clip starts where the character stands, facing its
    way; ``"capture"``: where the performer was relative to the camera), ``mark`` (a node the
    character is first moved onto), ``iterations``, ``export`` (paths ending .glb / .gltf / .fbx),
    ``detector_model`` (an RTMPose-style ONNX keypoint model whose image points refine MediaPipe's).
    Returns the clip asset's ``clip_sha256`` and summary figures.
    """
    settings, box = _check(params)
    detector = source or MediaPipeSource()
    if "detector_model" in params:  # refused now if it is not a keypoint model, not after the video
        detector = OnnxKeypointSource(_text(params, "detector_model"), detector)
    character = check_character(stage.node(params["character"]))  # refused now, not after the fit
    if params.get("mark"):
        character = _move_to_mark(stage, character, stage.node(params["mark"]))
    torch.set_num_threads(max(1, min(2, os.cpu_count() or 1)))
    timings: dict[str, float] = {}

    clock = time.perf_counter()
    progress(0.0, "reading video")
    sources = _listed(params, "video" if "video" in params else "video_sha256")
    names = _listed(params, "video_name") if "video_name" in params else [None] * len(sources)
    rig = Rig.from_dict(params["calibration"]) if "calibration" in params else None
    if len(names) != len(sources) or (rig is None and len(sources) > 1) or (box and len(sources) > 1):
        raise InvalidArgument(
            "mocap takes one video, or two or more with a 'calibration' (and a 'video_name' for each)",
            field="video",
        )
    if rig is not None and len(sources) == 1:  # one calibrated camera: its focal length and its tilt
        settings = one_camera(settings, rig)
        rig = None
    views: list[Landmarks] = []
    for k, (where, name) in enumerate(zip(sources, names, strict=True)):
        with contextlib.ExitStack() as cleanup:
            if "video" in params:
                path, name = where, name or where
            else:
                path, name = _fetched(stage, where, cleanup), name or f"stage asset {where[:12]}"
            video = read_video(path, params.get("trim_in"), params.get("trim_out"), name=name)
        if views and abs(video.fps - views[0].fps) > 0.01 * views[0].fps:
            raise InvalidArgument(
                f"{name!r} runs at {video.fps:g} fps, the first video at {views[0].fps:g}: a rig's videos "
                "must share a frame rate",
                field="video",
            )
        progress(0.05 + 0.4 * k / len(sources), f"landmarks ({len(video.frames)} frames, video {k + 1})")
        views.append(_landmarks(detector, video, box, int(params.get("person", 0))))
    timings["landmarks_s"] = time.perf_counter() - clock

    clock = time.perf_counter()
    progress(0.45, "fitting SMPL-X")
    body = BodyModel(params.get("model_path") or mannequin_model_path())
    captured = capture(body, views[0], settings) if rig is None else capture_rig(body, rig, views, settings)
    model = captured.model  # shaped to the person
    timings["fitting_s"] = time.perf_counter() - clock

    clock = time.perf_counter()
    progress(0.8, "baking")
    clip = MotionClip(
        trans=captured.transl, poses=captured.pose.reshape(-1, 165), betas=model.betas, fps=views[0].fps
    )
    with tempfile.TemporaryDirectory(prefix="stagecraft-mocap-") as scratch:
        sha256 = stage.put_asset(clip.save(Path(scratch) / "motion_clip.npz"))
    rest = model.arrays.rest_keypoints.numpy()[FOOT_POINTS[:, 2:].ravel() - 55]
    rest_pelvis = model.arrays.rest_joints.numpy()[0]
    state, batches = bake(stage, clip, character.uuid, rest_pelvis, float(rest[:, 1].min()))
    if params.get("export"):
        nodes = character_subtree(stage.snapshot().nodes, state.uuid)
        exports = [str(export_character(nodes, batches, Path(p), stage.get_asset)) for p in params["export"]]
    else:
        exports = []
    timings["baking_s"] = time.perf_counter() - clock
    progress(1.0, "done")
    return {
        "clip_sha256": sha256,
        "frames": clip.frames,
        "fps": clip.fps,
        "batches": len(batches),
        "exports": exports,
        **captured.report,
        **{k: round(v, 3) for k, v in timings.items()},
        "pelvis_range_m": float(np.ptp(captured.transl, axis=0).max()),
    }


def _text(params: dict, key: str) -> str:
    value = params[key]
    if not isinstance(value, str) or not value:
        raise InvalidArgument(f"mocap '{key}' must be a path", field=key)
    return value


def _listed(params: dict, key: str) -> list[str]:
    """``params[key]`` as a list of non-empty strings (one string is a list of one)."""
    value = params[key]
    values = [value] if isinstance(value, str) else value
    if not isinstance(values, list) or not values or not all(isinstance(v, str) and v for v in values):
        raise InvalidArgument(f"mocap '{key}' must be a name or a list of names", field=key)
    return values


def _landmarks(detector: LandmarkSource, video: Video, box: Box | None, person: int) -> Landmarks:
    """The landmarks ``detector`` finds in ``video`` (of the person in ``box`` when one is given)."""
    if box is not None:
        _, height, width = video.frames.shape[:3]
        if not (0 <= box[0] < box[2] <= width and 0 <= box[1] < box[3] <= height):
            raise InvalidArgument(f"box {list(box)} is not inside the {width}×{height} picture", field="box")
    return detector.detect(video.frames, video.fps, person, box)


def _check(params: dict) -> tuple[CaptureSettings, tuple[int, int, int, int] | None]:
    """The job's settings and box, or a clear error naming the first bad parameter."""
    unknown = set(params) - PARAMS
    if unknown:
        raise InvalidArgument(f"unknown mocap parameter(s): {', '.join(sorted(unknown))}", field="params")
    if ("video" in params) == ("video_sha256" in params):
        raise InvalidArgument("mocap needs exactly one of 'video' or 'video_sha256'", field="video")
    if not isinstance(params.get("character"), str) or not params["character"]:
        raise InvalidArgument("mocap needs a 'character' name", field="character")
    ranges = {"focal": (1.0, 1e5), "pitch": (-89.0, 89.0), "roll": (-180.0, 180.0), "iterations": (1, 5000)}
    for key, (low, high) in ranges.items():
        value = params.get(key)
        if value is not None and (
            not isinstance(value, int | float) or isinstance(value, bool) or not low <= value <= high
        ):
            raise InvalidArgument(
                f"mocap {key} must be a number in [{low:g}, {high:g}], got {value!r}", field=key
            )
    placement = params.get("placement", "mark")
    if placement not in PLACEMENTS:
        raise InvalidArgument(
            f"mocap placement must be one of {', '.join(PLACEMENTS)}, got {placement!r}", field="placement"
        )
    box = params.get("box")
    if box is not None and (
        not isinstance(box, list | tuple) or len(box) != 4 or not all(isinstance(v, int) for v in box)
    ):
        raise InvalidArgument(f"mocap box must be [x0, y0, x1, y1] in whole pixels, got {box!r}", field="box")
    settings = CaptureSettings(
        focal=params.get("focal"), pitch=params.get("pitch"), roll=params.get("roll"),
        iterations=int(params.get("iterations", 200)), placement=placement,
    )  # fmt: skip
    return settings, None if box is None else (box[0], box[1], box[2], box[3])


def _move_to_mark(stage: StageClient, character: NodeState, mark: NodeState) -> NodeState:
    """Stand ``character`` on ``mark``: its world position, turned to face the way the mark's -Y points."""
    if character.parent is not None:
        raise InvalidArgument(
            f"character {character.name!r} is parented; a mark places only an unparented character",
            field="mark",
        )
    world = np.array(mark.world if mark.world is not None else np.eye(4))
    facing = -world[:3, 1]
    yaw = float(np.arctan2(facing[0], -facing[1])) if np.hypot(facing[0], facing[1]) > 1e-6 else 0.0
    rotation = (float(np.cos(yaw / 2)), 0.0, 0.0, float(np.sin(yaw / 2)))
    location = (float(world[0, 3]), float(world[1, 3]), float(world[2, 3]))
    stage.apply(SetTransform(node=character.uuid, location=location, rotation=rotation))
    return stage.node(character.uuid)


def _fetched(stage: StageClient, sha256: str, cleanup: contextlib.ExitStack) -> str:
    """The stage's asset ``sha256`` as a temporary local file (removed when ``cleanup`` closes)."""
    folder = cleanup.enter_context(tempfile.TemporaryDirectory(prefix="stagecraft-mocap-"))
    path = Path(folder) / "video"
    path.write_bytes(stage.get_asset(sha256))
    return str(path)
