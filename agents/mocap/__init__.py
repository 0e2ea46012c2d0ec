"""The mocap agent's pipeline: a video of a person → a SMPL-X motion clip baked onto a stage character."""

from os import environ as _environ

# Torch's OpenMP threads spin while they wait; beside another busy process (a stage, a second
# agent) that made a 6 s fit take two minutes. Waiting passively costs nothing alone. It must be
# set before torch loads, which the modules below do.
_environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

from ._body import BodyModel
from ._clip import MIXAMO_BONE_MAP, MotionClip, bake, export_character, retarget
from ._fit import Fit, FitWeights, fit_clip
from ._footlock import detect_contacts, foot_skate, lock_feet
from ._job import run_mocap_job
from ._landmarks import Landmarks, LandmarkSource, MediaPipeSource
from ._mannequin_model import build_model, mannequin_model_path
from ._video import Video, read_video

__all__ = [
    "MIXAMO_BONE_MAP",
    "BodyModel",
    "Fit",
    "FitWeights",
    "LandmarkSource",
    "Landmarks",
    "MediaPipeSource",
    "MotionClip",
    "Video",
    "bake",
    "build_model",
    "detect_contacts",
    "export_character",
    "fit_clip",
    "foot_skate",
    "lock_feet",
    "mannequin_model_path",
    "read_video",
    "retarget",
    "run_mocap_job",
]
