"""The stage's data: transforms, PBR materials, cameras, lights, rigs, assets, node state.

Units: metres, radians, millimetres for lens and sensor, watts for light power.
Rotations are unit quaternions ``(w, x, y, z)``; colours are linear RGB(A) in [0, 1].
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Literal

import numpy as np

from ._checks import (
    check_float32_array,
    check_focal_length,
    check_name,
    check_range,
    check_sha256,
    check_uuid,
    normalized_quaternion,
)
from ._codec import Message, wire
from ._errors import InvalidArgument


def optional_arrays_match(
    a: np.ndarray | None, b: np.ndarray | None, compare: Callable[[np.ndarray, np.ndarray], bool]
) -> bool:
    """Both absent, or both present and equal by ``compare``."""
    if a is None or b is None:
        return a is None and b is None
    return bool(compare(a, b))


Vec3 = tuple[float, float, float]
Quat = tuple[float, float, float, float]
Color = tuple[float, float, float, float]
Row4 = tuple[float, float, float, float]
Matrix4 = tuple[Row4, Row4, Row4, Row4]
"""A 4×4 matrix, row by row: ``matrix[row][column]``, translation in the last column."""

NodeKind = Literal["empty", "mesh", "camera", "light", "armature", "asset"]
Primitive = Literal["cube", "plane", "uv_sphere", "ico_sphere", "cylinder", "cone", "torus", "monkey"]
LightType = Literal["point", "sun", "spot", "area"]
SensorFit = Literal["auto", "horizontal", "vertical"]
AssetFormat = Literal["gltf", "glb", "fbx", "usd", "usda", "usdc", "usdz", "obj", "blend"]
Body = Literal["none", "mannequin"]

IDENTITY: Quat = (1.0, 0.0, 0.0, 0.0)


def _check_color(field: str, color: tuple[float, ...] | None) -> None:
    if color is None:
        return
    for i, c in enumerate(color):
        check_range(f"{field}[{i}]", c, 0.0, 1.0 if i == 3 else 1000.0)


@wire()
class Transform:
    """A local transform relative to the parent (or the parent bone's tail)."""

    location: Vec3 = (0.0, 0.0, 0.0)
    rotation: Quat = IDENTITY
    scale: Vec3 = (1.0, 1.0, 1.0)

    def __post_init__(self) -> None:
        object.__setattr__(self, "rotation", normalized_quaternion("rotation", self.rotation))


@wire()
class MeshSpec:
    """A procedural mesh primitive; ``size`` is its overall size in metres."""

    primitive: Primitive
    size: float = 1.0
    segments: int = 32

    def __post_init__(self) -> None:
        check_range("mesh.size", self.size, 0.0, 10_000.0, low_open=True, unit=" m")
        check_range("mesh.segments", self.segments, 3, 256)


@wire()
class MaterialParams:
    """Principled-BSDF parameters; a field left out is left unchanged."""

    base_color: Color | None = None
    roughness: float | None = None
    metallic: float | None = None
    normal_strength: float | None = None
    emission_color: Vec3 | None = None
    emission_strength: float | None = None

    def __post_init__(self) -> None:
        _check_color("material.base_color", self.base_color)
        if self.base_color is not None and any(c > 1.0 for c in self.base_color):
            raise InvalidArgument(
                "material.base_color components must lie in [0, 1]", field="material.base_color"
            )
        check_range("material.roughness", self.roughness, 0.0, 1.0)
        check_range("material.metallic", self.metallic, 0.0, 1.0)
        check_range("material.normal_strength", self.normal_strength, 0.0, 10.0)
        _check_color("material.emission_color", self.emission_color)
        check_range("material.emission_strength", self.emission_strength, 0.0, 1e6)


@wire()
class CameraParams:
    """Lens and sensor in mm, focus in metres; a field left out is left unchanged.

    ``focus_target`` names a node the focus follows; ``""`` clears it. ``body`` names a camera
    body from the optics table (it sets the sensor size and circle of confusion ``coc_mm``);
    ``""`` clears it, as does a sensor size set by hand that is not the body's; ``lens_name``
    names a lens from the optics table (its focal length and squeeze, and the stops and focus
    distances it can take, which the stage then holds to); ``""`` clears it, as does a focal
    length that is not the lens's;
    ``squeeze`` is an anamorphic lens's squeeze (1 = spherical); ``blades`` the aperture's blade
    count (0 = a round aperture) and ``blade_rotation`` its rotation in radians;
    ``recording_area`` names one of the body's recording areas (its sensor extent and circle of
    confusion follow it); ``""`` records the body's whole sensor; ``breathing`` is the share of
    the angle of view the lens loses per dioptre of focus (a lens sets it; 0 = none).
    """

    lens: float | None = None
    sensor_width: float | None = None
    sensor_height: float | None = None
    sensor_fit: SensorFit | None = None
    use_dof: bool | None = None
    fstop: float | None = None
    focus_distance: float | None = None
    focus_target: str | None = None
    clip_start: float | None = None
    clip_end: float | None = None
    body: str | None = None
    coc_mm: float | None = None
    squeeze: float | None = None
    blades: int | None = None
    blade_rotation: float | None = None
    lens_name: str | None = None
    recording_area: str | None = None
    breathing: float | None = None

    def __post_init__(self) -> None:
        check_focal_length("camera.lens", self.lens)
        check_range("camera.breathing", self.breathing, -0.5, 0.5)
        if self.recording_area:
            check_name("camera.recording_area", self.recording_area)
        check_range("camera.coc_mm", self.coc_mm, 0.0, 0.5, low_open=True, unit=" mm")
        check_range("camera.squeeze", self.squeeze, 1.0, 2.0)
        if self.blades is not None and self.blades != 0:
            check_range("camera.blades", self.blades, 3, 16)
        check_range("camera.blade_rotation", self.blade_rotation, -6.283186, 6.283186, unit=" rad")
        if self.body:
            check_name("camera.body", self.body)
        if self.lens_name:
            check_name("camera.lens_name", self.lens_name)
        check_range("camera.sensor_width", self.sensor_width, 0.0, 200.0, low_open=True, unit=" mm")
        check_range("camera.sensor_height", self.sensor_height, 0.0, 200.0, low_open=True, unit=" mm")
        check_range("camera.fstop", self.fstop, 0.7, 128.0)
        check_range("camera.focus_distance", self.focus_distance, 0.0, 1e6, low_open=True, unit=" m")
        check_range("camera.clip_start", self.clip_start, 0.0, 1e6, low_open=True, unit=" m")
        check_range("camera.clip_end", self.clip_end, 0.0, 1e7, low_open=True, unit=" m")
        if self.clip_start is not None and self.clip_end is not None and self.clip_end <= self.clip_start:
            raise InvalidArgument(
                f"camera.clip_end ({self.clip_end:g} m) must be greater than camera.clip_start "
                f"({self.clip_start:g} m)",
                field="camera.clip_end",
            )
        if self.focus_target:
            check_name("camera.focus_target", self.focus_target)


@wire()
class LightParams:
    """Light settings; ``energy`` is watts (W/m² for a sun); a field left out is unchanged."""

    light_type: LightType | None = None
    color: Vec3 | None = None
    energy: float | None = None
    radius: float | None = None
    spot_size: float | None = None
    spot_blend: float | None = None
    area_size: float | None = None
    cast_shadow: bool | None = None

    def __post_init__(self) -> None:
        if self.color is not None:
            for i, c in enumerate(self.color):
                check_range(f"light.color[{i}]", c, 0.0, 1.0)
        check_range("light.energy", self.energy, 0.0, 1e7, unit=" W")
        check_range("light.radius", self.radius, 0.0, 1e4, unit=" m")
        check_range("light.spot_size", self.spot_size, 0.0, 3.141593, low_open=True, unit=" rad")
        check_range("light.spot_blend", self.spot_blend, 0.0, 1.0)
        check_range("light.area_size", self.area_size, 0.0, 1e4, low_open=True, unit=" m")


@wire()
class BoneSpec:
    """One bone in rest pose, in armature space (metres)."""

    name: str
    head: Vec3
    tail: Vec3
    parent: str | None = None
    roll: float = 0.0

    def __post_init__(self) -> None:
        check_name("bone.name", self.name)
        if self.parent is not None:
            check_name("bone.parent", self.parent)
        for end in ("head", "tail"):
            for i, c in enumerate(getattr(self, end)):
                check_range(f"bone.{end}[{i}]", c, -1e6, 1e6, unit=" m")
        length = sum((t - h) ** 2 for h, t in zip(self.head, self.tail, strict=True)) ** 0.5
        if length < 1e-4:
            raise InvalidArgument(
                f"bone {self.name!r} has head == tail; a bone needs length > 0.1 mm", field="bone.tail"
            )


@wire()
class ArmatureSpec:
    """A skeleton: explicit ``bones``, or a named ``rig`` the server expands (``smplx``).

    ``body`` adds a procedural mannequin mesh skinned to the bones.
    """

    bones: tuple[BoneSpec, ...] | None = None
    rig: str | None = None
    body: Body = "none"

    def __post_init__(self) -> None:
        if (self.bones is None) == (self.rig is None):
            raise InvalidArgument("armature needs exactly one of bones or rig", field="armature.bones")
        if self.bones is not None:
            if not self.bones or len(self.bones) > 1024:
                raise InvalidArgument("armature.bones must hold 1 to 1024 bones", field="armature.bones")
            names = [b.name for b in self.bones]
            if len(set(names)) != len(names):
                raise InvalidArgument("armature bone names must be unique", field="armature.bones")
            seen: set[str] = set()
            for bone in self.bones:
                if bone.parent is not None and bone.parent not in seen:
                    raise InvalidArgument(
                        f"bone {bone.name!r}: parent {bone.parent!r} must be listed before it",
                        field="armature.bones",
                    )
                seen.add(bone.name)


@wire()
class AssetRef:
    """An imported file: by ``path`` inside the asset roots, or by ``sha256`` in the store.

    The server stores a path's file in its content-addressed store and journals the hash.
    """

    path: str | None = None
    sha256: str | None = None
    format: AssetFormat | None = None

    def __post_init__(self) -> None:
        if (self.path is None) == (self.sha256 is None):
            raise InvalidArgument("asset needs exactly one of path or sha256", field="asset.path")
        check_sha256("asset.sha256", self.sha256)
        if self.sha256 is not None and self.format is None:
            raise InvalidArgument("asset.format is required with asset.sha256", field="asset.format")


@wire()
class BonePose:
    """Pose of named bones: local rotations ``B×4`` (w, x, y, z), optional locations ``B×3``."""

    bones: tuple[str, ...]
    rotations: np.ndarray
    locations: np.ndarray | None = None

    def __post_init__(self) -> None:
        check_pose_arrays(self.bones, self.rotations, self.locations)

    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, BonePose)
            and self.bones == other.bones
            and np.allclose(self.rotations, other.rotations, atol=1e-5)
            and optional_arrays_match(self.locations, other.locations, np.allclose)
        )

    __hash__ = None  # type: ignore[assignment]


def check_pose_arrays(bones: tuple[str, ...], rotations: np.ndarray, locations: np.ndarray | None) -> None:
    count = len(bones)
    if count == 0:
        raise InvalidArgument("pose needs at least one bone", field="bones")
    if len(set(bones)) != count:
        raise InvalidArgument("pose bone names must be unique", field="bones")
    if rotations.shape != (count, 4):
        raise InvalidArgument(
            f"rotations must be {count}×4 (w, x, y, z) for {count} bones, got {rotations.shape}",
            field="rotations",
        )
    check_float32_array("rotations", rotations)
    if np.any(np.linalg.norm(rotations.astype(np.float64), axis=1) < 1e-9):
        raise InvalidArgument("rotations must be non-zero quaternions", field="rotations")
    if locations is not None:
        if locations.shape != (count, 3):
            raise InvalidArgument(
                f"locations must be a {count}×3 array, got {locations.shape}", field="locations"
            )
        check_float32_array("locations", locations)


ANIMATABLE = re.compile(
    r'(location|rotation_quaternion|scale|pose\.bones\["[^"\\]{1,63}"\]\.(rotation_quaternion|location))'
    r"|(data\.(lens|dof\.focus_distance|dof\.aperture_fstop))"
)


@wire()
class AnimationCurve:
    """Keyframes of one animated property: ``frames`` K and ``values`` K (linear-in-time Bézier).

    ``path`` is the property as Blender names it, relative to the object (``location``,
    ``pose.bones["head"].rotation_quaternion``) or to its data (``data.dof.focus_distance``);
    ``index`` is the component (x, y, z / w, x, y, z).
    """

    path: str
    frames: np.ndarray
    values: np.ndarray
    index: int = 0

    def __post_init__(self) -> None:
        if not ANIMATABLE.fullmatch(self.path):
            raise InvalidArgument(
                f"animation path {self.path[:80]!r} is not one the stage animates "
                "(location, rotation_quaternion, scale, pose bones, data.lens, data.dof.*)",
                field="animation.path",
            )
        check_range("animation.index", self.index, 0, 3)
        if self.frames.ndim != 1 or self.frames.shape != self.values.shape or not len(self.frames):
            raise InvalidArgument(
                "animation frames and values must be equal-length 1-D arrays", field="animation"
            )
        check_float32_array("animation.frames", self.frames)
        check_float32_array("animation.values", self.values)

    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, AnimationCurve)
            and (self.path, self.index) == (other.path, other.index)
            and self.frames.shape == other.frames.shape
            and np.allclose(self.frames, other.frames, atol=1e-4)
            and np.allclose(self.values, other.values, atol=1e-4)
        )

    __hash__ = None  # type: ignore[assignment]


@wire("scene_settings")
class SceneSettings(Message):
    """Scene-wide state: the active camera and the frame range."""

    active_camera: str | None = None
    frame_current: int = 1
    frame_start: int = 1
    frame_end: int = 250
    fps: int = 24


@wire("node")
class NodeState(Message):
    """Everything the stage knows of one node; rebuilding from it gives the same object.

    ``source`` is the asset node whose import created this node (it is rebuilt by that
    import, then given this state). ``world`` is the node's world matrix, worked out by the
    stage from the transforms, parents and bone poses (a rebuild ignores it).
    """

    uuid: str
    name: str
    kind: NodeKind
    transform: Transform
    world: Matrix4 | None = None
    parent: str | None = None
    parent_bone: str | None = None
    source: str | None = None
    mesh: MeshSpec | None = None
    material: MaterialParams | None = None
    camera: CameraParams | None = None
    light: LightParams | None = None
    armature: ArmatureSpec | None = None
    pose: BonePose | None = None
    asset: AssetRef | None = None
    animation: tuple[AnimationCurve, ...] | None = None

    def __post_init__(self) -> None:
        check_uuid("uuid", self.uuid)
        check_name("name", self.name)
        check_uuid("parent", self.parent)
        check_uuid("source", self.source)
