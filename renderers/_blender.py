"""Render the current ``bpy`` scene through a named camera into numpy arrays or a PNG.

Runs in a renderer process that owns its own ``bpy``. Pixels come back through files in
/dev/shm (headless Blender keeps no readable Render Result): a BMP for display colour, or an
uncompressed float EXR for scene-linear (HDR) colour, and an uncompressed EXR from a temporary
compositor File Output node for depth. Linear colour is turned into display colour by Blender's
own colour management (the scene's view transform, look and exposure), so a picture worked on in
linear light (a bokeh pass, accumulated samples) looks as the same render would.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import bpy
import numpy as np

from protocols import Internal, InvalidArgument, NotFound, RenderEngine
from scene import desqueezed_width, frame_fit, picture_lens_mm

from ._egl import usable_engine
from ._readback import read_bmp, read_exr, read_exr_depth, read_exr_rgb
from ._settings import RenderSettings

ENGINE_IDS: dict[str, str] = {"workbench": "BLENDER_WORKBENCH", "eevee": "BLENDER_EEVEE", "cycles": "CYCLES"}
_WORKBENCH_AA = ((32, "32"), (16, "16"), (11, "11"), (8, "8"), (5, "5"), (2, "FXAA"), (1, "OFF"))
_SCRATCH = "/dev/shm"
_DISPLAY_IMAGE = ".stagecraft-display"


@dataclasses.dataclass(frozen=True, slots=True, eq=False)
class Frame:
    """One rendered frame.

    ``rgb`` is uint8 H×W×3 (top row first, display colour space). ``depth`` (when asked for)
    is float32 H×W: metres along the camera's view axis (planar Z, not ray length), ``inf``
    where nothing was hit. ``linear`` (when asked for) is float32 H×W×3 scene-linear colour,
    unclipped: ``rgb`` is ``display(linear)``. ``albedo`` and ``normal`` (Cycles, when asked
    for: the denoiser's guides) are float32 H×W×3. ``engine`` is the engine that really rendered it.
    """

    rgb: np.ndarray
    depth: np.ndarray | None
    engine: RenderEngine
    linear: np.ndarray | None = None
    albedo: np.ndarray | None = None
    normal: np.ndarray | None = None


def render_frame(
    camera_name: str,
    settings: RenderSettings | None = None,
    depth: bool = False,
    *,
    linear: bool = False,
    dof: bool | None = None,
    seed: int | None = None,
    guides: bool = False,
) -> Frame:
    """Render the current scene through ``camera_name``; Blender's state is restored after.

    ``linear``: also return the scene-linear colour (HDR, as rendered). ``dof``: override the
    camera's depth of field (False: a pinhole render, for a bokeh pass). ``seed``: Cycles'
    sampling pattern (renders with other seeds average to a render with their samples added).
    ``guides``: also the albedo and normal passes a denoiser keeps detail with (Cycles only).
    """
    settings = settings or RenderSettings()
    scene = bpy.context.scene
    camera = _camera(scene, camera_name)
    engine = usable_engine(settings.engine)
    scratch = _SCRATCH if os.access(_SCRATCH, os.W_OK) else None
    with tempfile.TemporaryDirectory(prefix="stagecraft-render-", dir=scratch) as tmp:
        colour_path = os.path.join(tmp, "frame.exr" if linear else "frame.bmp")
        guides = guides and engine == "cycles"
        with contextlib.ExitStack() as stack:
            fmt = "OPEN_EXR" if linear else "BMP"
            stack.enter_context(_render_setup(scene, camera, settings, engine, colour_path, fmt))
            if dof is not None:
                stack.enter_context(_patched(camera.data.dof, use_dof=dof))
            if seed is not None and engine == "cycles":
                stack.enter_context(_patched(scene.cycles, seed=seed, use_animated_seed=False))
            if depth or guides:
                stack.enter_context(_pass_outputs(scene, bpy.context.view_layer, tmp, depth, guides))
            _render()
        raw = Path(colour_path).read_bytes()
        depth_map = _read_depth(os.path.join(tmp, "depth"), camera.data.clip_end) if depth else None
        albedo, normal = (
            (_read_pass(os.path.join(tmp, "guides"), name) for name in ("Albedo", "Normal"))
            if guides
            else (None, None)
        )
    linear_rgb = read_exr_rgb(raw) if linear else None
    rgb = display(linear_rgb) if linear_rgb is not None else read_bmp(raw)
    if rgb.shape[:2] != (settings.height, settings.width):
        raise Internal(f"Blender wrote a {rgb.shape[1]}×{rgb.shape[0]} image, not {settings.size}")
    return Frame(rgb=rgb, depth=depth_map, engine=engine, linear=linear_rgb, albedo=albedo, normal=normal)


def display(linear: np.ndarray) -> np.ndarray:
    """Scene-linear H×W×3 float colour -> uint8 display colour, through the scene's colour
    management (view transform, look, exposure, gamma), as Blender shows a render."""
    scene = bpy.context.scene
    image = float_image(_DISPLAY_IMAGE, linear)
    scratch = _SCRATCH if os.access(_SCRATCH, os.W_OK) else None
    with tempfile.TemporaryDirectory(prefix="stagecraft-display-", dir=scratch) as tmp:
        path = os.path.join(tmp, "display.bmp")
        with image_format(scene, "BMP"):
            image.save_render(path, scene=scene)
        return read_bmp(Path(path).read_bytes())


def float_image(name: str, pixels: np.ndarray, data: bool = False) -> bpy.types.Image:
    """Blender's float image ``name`` holding H×W×3 ``pixels`` (top row first), reused while its
    size stays; ``data``: not colour (no colour space, as a normal pass)."""
    height, width = pixels.shape[:2]
    image = bpy.data.images.get(name)
    if image is None or tuple(image.size) != (width, height):
        if image is not None:
            bpy.data.images.remove(image)
        image = bpy.data.images.new(name, width, height, float_buffer=True, alpha=False)
        if data:
            image.colorspace_settings.name = "Non-Color"
    rgba = np.ones((height, width, 4), np.float32)
    rgba[..., :3] = pixels[::-1]  # Blender's pixels start at the bottom row
    image.pixels.foreach_set(rgba.ravel())
    return image


def render_still(
    camera_name: str, out_path: str | os.PathLike[str], settings: RenderSettings | None = None
) -> Path:
    """Render the current scene through ``camera_name`` to an 8-bit RGB PNG at ``out_path``."""
    settings = settings or RenderSettings()
    scene = bpy.context.scene
    camera = _camera(scene, camera_name)
    path = Path(out_path).resolve()
    path.parent.mkdir(parents=True, exist_ok=True)
    with _render_setup(scene, camera, settings, usable_engine(settings.engine), str(path), "PNG"):
        _render()
    return path


def _camera(scene: Any, name: str) -> Any:
    obj = scene.objects.get(name)
    if obj is None:
        cameras = sorted(o.name for o in scene.objects if o.type == "CAMERA")
        raise NotFound(
            f"no camera {name!r} in scene {scene.name!r}; its cameras are: {', '.join(cameras) or 'none'}"
        )
    if obj.type != "CAMERA":
        raise InvalidArgument(f"{name!r} is a {obj.type.lower()} object, not a camera")
    return obj


def _render() -> None:
    if bpy.ops.render.render(write_still=True) != {"FINISHED"}:
        raise Internal("Blender cancelled the render")


def _read_pass(directory: str, name: str) -> np.ndarray:
    """The RGB pass the guides output wrote for socket ``name``."""
    files = [f for f in Path(directory).iterdir() if f.name.endswith(name)]
    if len(files) != 1:
        raise Internal(f"the guides output wrote {len(files)} files for {name}, expected 1")
    channels = read_exr(files[0].read_bytes())
    names = ("R", "G", "B") if "R" in channels else ("X", "Y", "Z")  # a vector pass: X, Y, Z
    return np.stack([channels[n] for n in names], axis=-1)


def _read_depth(directory: str, clip_end: float) -> np.ndarray:
    files = sorted(Path(directory).iterdir())
    if len(files) != 1:
        raise Internal(f"the depth output wrote {len(files)} files, expected 1")
    depth = read_exr_depth(files[0].read_bytes())
    # Cycles and Workbench write 1e10 where nothing was hit, EEVEE the clip end.
    depth[depth >= clip_end * (1 - 1e-6)] = np.inf
    return depth


@contextlib.contextmanager
def _patched(target: Any, **values: Any) -> Iterator[None]:
    """Set attributes of a Blender struct, restoring their old values (in order) on exit."""
    saved = {name: getattr(target, name) for name in values}
    try:
        for name, value in values.items():
            setattr(target, name, value)
        yield
    finally:
        for name, value in saved.items():
            setattr(target, name, value)


@contextlib.contextmanager
def image_format(scene: Any, file_format: str) -> Iterator[None]:
    """Renders write ``file_format``: ``BMP`` (8-bit display colour) or ``OPEN_EXR`` (uncompressed
    32-bit float linear colour, as the readback decodes it)."""
    image = scene.render.image_settings
    exr = file_format == "OPEN_EXR"
    bits = {"color_depth": "32", "exr_codec": "NONE"} if exr else {"color_depth": "8"}
    with (
        _patched(image, media_type="IMAGE", file_format=file_format, color_mode="RGB"),
        _patched(image, **bits),  # after the format that takes them
    ):
        yield


@contextlib.contextmanager
def _render_setup(
    scene: Any, camera: Any, settings: RenderSettings, engine: str, path: str, file_format: str
) -> Iterator[None]:
    """Camera, engine, resolution, samples and output file, for the duration of one render."""
    with contextlib.ExitStack() as stack:
        stack.enter_context(_patched(scene, camera=camera))
        fit = frame_fit(camera.data, settings.width, settings.height)  # a body's frame stays on its sensor
        # the picture is desqueezed: an anamorphic lens's view over the sensor's width, stretched back
        stack.enter_context(_patched(camera.data, sensor_fit=fit, sensor_width=desqueezed_width(camera.data)))
        stack.enter_context(_patched(camera.data, lens=picture_lens_mm(camera)))  # as the lens breathes
        stack.enter_context(
            _patched(
                scene.render,
                engine=ENGINE_IDS[engine],
                resolution_x=settings.width,
                resolution_y=settings.height,
                resolution_percentage=100,
                filepath=path,
                use_file_extension=False,
            )
        )
        stack.enter_context(image_format(scene, file_format))
        if engine == "cycles":
            stack.enter_context(
                _patched(scene.cycles, samples=settings.samples, use_denoising=settings.denoise)
            )
        elif engine == "eevee":
            stack.enter_context(_patched(scene.eevee, taa_render_samples=settings.samples))
        else:
            level = next(name for least, name in _WORKBENCH_AA if settings.samples >= least)
            stack.enter_context(_patched(scene.display, render_aa=level))
        yield


@contextlib.contextmanager
def _pass_outputs(scene: Any, view_layer: Any, directory: str, depth: bool, guides: bool) -> Iterator[None]:
    """A temporary compositor that writes, as float EXR under ``directory``, the Z pass (``depth/``)
    and the denoiser's albedo and normal guides (``guides/``)."""
    with (
        _patched(view_layer, use_pass_z=depth or view_layer.use_pass_z),  # before the Render Layers node
        _patched(
            view_layer.cycles, denoising_store_passes=guides or view_layer.cycles.denoising_store_passes
        ),
        _patched(scene.render, use_compositing=True),
        _temporary_node_group(".stagecraft-passes", "CompositorNodeTree") as tree,
        _patched(scene, compositing_node_group=tree),
    ):
        layers = tree.nodes.new("CompositorNodeRLayers")
        layers.scene = scene
        layers.layer = view_layer.name
        if depth:
            output = _file_output(tree, os.path.join(directory, "depth"), "depth", "BW")
            output.file_output_items.new("FLOAT", "Depth")
            tree.links.new(layers.outputs["Depth"], output.inputs["Depth"])
        if guides:
            output = _file_output(tree, os.path.join(directory, "guides"), "guide", "RGB")
            for socket, kind in (("Albedo", "RGBA"), ("Normal", "VECTOR")):
                output.file_output_items.new(kind, socket)
                tree.links.new(layers.outputs[f"Denoising {socket}"], output.inputs[socket])
        yield


def _file_output(tree: Any, directory: str, name: str, colour: str) -> Any:
    """A File Output node writing uncompressed 32-bit float EXR."""
    output = tree.nodes.new("CompositorNodeOutputFile")
    output.directory = directory
    output.file_name = name
    output.format.media_type = "IMAGE"
    output.format.file_format = "OPEN_EXR"
    output.format.color_mode = colour
    output.format.color_depth = "32"
    output.format.exr_codec = "NONE"
    return output


@contextlib.contextmanager
def _temporary_node_group(name: str, kind: str) -> Iterator[Any]:
    tree = bpy.data.node_groups.new(name, kind)
    try:
        yield tree
    finally:
        bpy.data.node_groups.remove(tree)
