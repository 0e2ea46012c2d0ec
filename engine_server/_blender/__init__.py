"""The Blender side of the stage: typed commands applied to the bpy scene, and dumps of it.

Everything here runs on the one thread that owns bpy and never starts threads.
"""

from ._armature import KNOWN_RIGS
from ._ids import UUID_KEY
from ._stage import Stage

__all__ = ["KNOWN_RIGS", "UUID_KEY", "Stage"]
