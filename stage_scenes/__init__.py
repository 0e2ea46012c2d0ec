"""Declarative stages: the stage file format, the SMPL-X skeleton and the bundled stages."""

from ._errors import StageFileError
from ._loader import StageFile, default_stage_path, load_stage
from ._smplx import SMPLX_JOINT_NAMES, SMPLX_PARENTS, smplx_bones, smplx_joint_positions

__all__ = [
    "SMPLX_JOINT_NAMES",
    "SMPLX_PARENTS",
    "StageFile",
    "StageFileError",
    "default_stage_path",
    "load_stage",
    "smplx_bones",
    "smplx_joint_positions",
]
