"""Denoise a linear picture with Blender's compositor (Open Image Denoise), without rendering.

A temporary compositor of an Image node, a Denoise node and the group output: a compositor with
no Render Layers node renders nothing, so ``render`` only runs the denoiser (~0.3 s at 640×360
on two cores). The picture goes in and out as float EXR: linear, unclipped.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import bpy
import numpy as np

from ._blender import _SCRATCH, _patched, _render, _temporary_node_group, image_format
from ._readback import read_exr_rgb

_SOURCE_IMAGE = ".stagecraft-denoise"


def denoise(linear: np.ndarray) -> np.ndarray:
    """A noisy scene-linear H×W×3 float picture (path-traced samples) -> its denoised version."""
    height, width = linear.shape[:2]
    scene = bpy.context.scene
    image = _image(width, height)
    rgba = np.ones((height, width, 4), np.float32)
    rgba[..., :3] = linear[::-1]  # Blender's pixels start at the bottom row
    image.pixels.foreach_set(rgba.ravel())
    scratch = _SCRATCH if os.access(_SCRATCH, os.W_OK) else None
    with (
        tempfile.TemporaryDirectory(prefix="stagecraft-denoise-", dir=scratch) as tmp,
        _temporary_node_group(".stagecraft-denoise", "CompositorNodeTree") as tree,
    ):
        source = tree.nodes.new("CompositorNodeImage")
        source.image = image
        denoiser = tree.nodes.new("CompositorNodeDenoise")
        denoiser.inputs["HDR"].default_value = True
        tree.interface.new_socket("Image", in_out="OUTPUT", socket_type="NodeSocketColor")
        output = tree.nodes.new("NodeGroupOutput")
        tree.links.new(source.outputs["Image"], denoiser.inputs["Image"])
        tree.links.new(denoiser.outputs["Image"], output.inputs[0])
        path = os.path.join(tmp, "denoised.exr")
        with (
            _patched(scene, compositing_node_group=tree),
            _patched(
                scene.render,
                use_compositing=True,
                resolution_x=width,
                resolution_y=height,
                resolution_percentage=100,
                filepath=path,
                use_file_extension=False,
            ),
            image_format(scene, "OPEN_EXR"),
        ):
            _render()
        return read_exr_rgb(Path(path).read_bytes())


def _image(width: int, height: int) -> bpy.types.Image:
    image = bpy.data.images.get(_SOURCE_IMAGE)
    if image is not None and tuple(image.size) == (width, height):
        return image
    if image is not None:
        bpy.data.images.remove(image)
    return bpy.data.images.new(_SOURCE_IMAGE, width, height, float_buffer=True, alpha=False)
