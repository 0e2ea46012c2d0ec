"""Camera bodies and lenses as data: the packaged ``camera_bodies.toml``, extendable by a stage.

The table's schema is documented at the top of ``camera_bodies.toml``; a stage file's
``[optics]`` table uses the same one, and ``OpticsTable.with_overrides`` merges it key by key
over an existing entry (or adds a new one).
"""

from __future__ import annotations

import dataclasses
import functools
import math
import tomllib
from collections.abc import Mapping
from pathlib import Path
from types import MappingProxyType
from typing import Any, Literal, get_args

from protocols import InvalidArgument

__all__ = ["COC_RULES", "CameraBody", "Lens", "LensKind", "OpticsTable", "default_optics"]

COC_RULES: MappingProxyType[str, float] = MappingProxyType({"d/1500": 1500.0, "zeiss": 1730.0})
"""Acceptable circle of confusion rules: the sensor diagonal divided by this number."""

LensKind = Literal["spherical", "anamorphic"]

_BODY_KEYS = frozenset(
    {"label", "sensor_width_mm", "sensor_height_mm", "coc_rule", "coc_mm", "recording_areas"}
)
_LENS_KEYS = frozenset(
    {
        "label",
        "focal_mm",
        "squeeze",
        "kind",
        "max_aperture",
        "min_aperture",
        "min_focus_m",
        "transmission",
        "breathing",
    }
)


def _positive(owner: str, key: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value < math.inf:
        raise InvalidArgument(f"{owner}.{key} = {value!r} is out of range: valid is (0, inf)", field=key)
    return float(value)


@dataclasses.dataclass(frozen=True, slots=True)
class CameraBody:
    """A sensor of ``sensor_width_mm`` × ``sensor_height_mm`` and its acceptable CoC in mm.

    ``coc_rule`` says where ``coc_mm`` came from: a key of COC_RULES, or ``"explicit"``.
    """

    name: str
    sensor_width_mm: float
    sensor_height_mm: float
    coc_mm: float
    coc_rule: str = "explicit"
    label: str = ""
    recording_areas: Mapping[str, tuple[float, float]] = dataclasses.field(default_factory=dict)

    def __post_init__(self) -> None:
        for key in ("sensor_width_mm", "sensor_height_mm", "coc_mm"):
            _positive(f"bodies.{self.name}", key, getattr(self, key))
        for area, size in self.recording_areas.items():
            if not (isinstance(size, tuple) and len(size) == 2):
                raise InvalidArgument(
                    f"bodies.{self.name}.recording_areas.{area} must be [width_mm, height_mm]"
                )
            for value in size:
                _positive(f"bodies.{self.name}.recording_areas", area, value)
        if self.coc_rule != "explicit" and self.coc_rule not in COC_RULES:
            raise InvalidArgument(
                f"bodies.{self.name}.coc_rule {self.coc_rule!r} is not one of {', '.join(COC_RULES)}",
                field="coc_rule",
            )

    @property
    def diagonal_mm(self) -> float:
        return math.hypot(self.sensor_width_mm, self.sensor_height_mm)

    def area(self, name: str, field: str = "recording_area") -> tuple[float, float]:
        """The sensor extent (mm) recording area ``name`` uses; InvalidArgument if the body has none."""
        if name not in self.recording_areas:
            known = ", ".join(self.recording_areas) or "none (it records its whole sensor)"
            raise InvalidArgument(
                f"the {self.label or self.name} has no recording area {name!r}; its areas: {known}",
                field=field,
            )
        return self.recording_areas[name]

    def area_coc_mm(self, name: str) -> float:
        """The circle of confusion in recording area ``name``: the body's rule on the area's
        diagonal (an explicit CoC stays as given)."""
        if self.coc_rule == "explicit":
            return self.coc_mm
        return math.hypot(*self.area(name)) / COC_RULES[self.coc_rule]


@dataclasses.dataclass(frozen=True, slots=True)
class Lens:
    """A prime of ``focal_mm``; an anamorphic one squeezes the width by ``squeeze`` (> 1).

    What the glass can do, where known: its widest and narrowest f-numbers (``max_aperture``,
    ``min_aperture``: equal for a fixed aperture), its closest focus ``min_focus_m`` (from the
    film plane, as a lens barrel is marked), its ``transmission`` (the T-stop is the f-number
    over its square root) and its ``breathing``: how much of the angle of view it loses focused
    at its closest focus against infinity (0.08: 8 % narrower; negative: wider), growing with
    the focus in dioptres.
    """

    name: str
    focal_mm: float
    squeeze: float = 1.0
    kind: LensKind = "spherical"
    label: str = ""
    max_aperture: float | None = None
    min_aperture: float | None = None
    min_focus_m: float | None = None
    transmission: float = 1.0
    breathing: float = 0.0

    def __post_init__(self) -> None:
        owner = f"lenses.{self.name}"
        if not (isinstance(self.breathing, int | float) and -0.5 < self.breathing < 0.5):
            raise InvalidArgument(
                f"{owner}.breathing = {self.breathing!r} is not in (-0.5, 0.5)", field="breathing"
            )
        if self.breathing and self.min_focus_m is None:
            raise InvalidArgument(
                f"{owner}.breathing needs min_focus_m (it is measured there)", field="breathing"
            )
        _positive(owner, "focal_mm", self.focal_mm)
        _positive(owner, "squeeze", self.squeeze)
        for key in ("max_aperture", "min_aperture", "min_focus_m"):
            if getattr(self, key) is not None:
                _positive(owner, key, getattr(self, key))
        if self.max_aperture and self.min_aperture and self.max_aperture > self.min_aperture:
            raise InvalidArgument(
                f"{owner}: max_aperture f/{self.max_aperture:g} is narrower than min_aperture "
                f"f/{self.min_aperture:g} (the widest opening has the smaller f-number)",
                field="max_aperture",
            )
        if _positive(owner, "transmission", self.transmission) > 1.0:
            raise InvalidArgument(
                f"{owner}.transmission = {self.transmission!r} is not in (0, 1]", field="transmission"
            )
        if self.kind not in get_args(LensKind):
            raise InvalidArgument(
                f"{owner}.kind {self.kind!r} is not one of {', '.join(get_args(LensKind))}", field="kind"
            )
        if (self.kind == "spherical") != (self.squeeze == 1.0):
            raise InvalidArgument(
                f"{owner}.squeeze = {self.squeeze:g}: a spherical lens has squeeze 1, "
                "an anamorphic one a squeeze > 1",
                field="squeeze",
            )

    @property
    def breathing_per_dioptre(self) -> float:
        """The share of the angle of view lost per dioptre (1/m) of focus: ``breathing`` over the
        dioptres of its closest focus."""
        return self.breathing * self.min_focus_m if self.min_focus_m else 0.0

    def check_fstop(self, fstop: float) -> None:
        """Refuse an f-number this lens cannot be set to, saying what it can."""
        wide, narrow = self.max_aperture, self.min_aperture
        if (wide is not None and fstop < wide - 1e-6) or (narrow is not None and fstop > narrow + 1e-6):
            if wide is not None and wide == narrow:
                reach = f"has a fixed aperture of f/{wide:g}"
            else:
                reach = f"opens to f/{wide or 0:g} and stops down to f/{narrow or math.inf:g}"
            raise InvalidArgument(
                f"the {self.label or self.name} {reach}; f/{fstop:g} is beyond it", field="camera.fstop"
            )

    def check_focus(self, distance_m: float, field: str = "camera.focus_distance") -> None:
        """Refuse a focus distance closer than this lens focuses."""
        if self.min_focus_m is not None and distance_m < self.min_focus_m - 1e-6:
            raise InvalidArgument(
                f"the {self.label or self.name} focuses no closer than {self.min_focus_m:g} m; "
                f"{distance_m:.3g} m is too close",
                field=field,
            )

    def clamped_fstop(self, fstop: float) -> float:
        """The nearest f-number this lens can be set to."""
        return min(max(fstop, self.max_aperture or fstop), self.min_aperture or fstop)

    def clamped_focus(self, distance_m: float) -> float:
        """The nearest distance this lens focuses at."""
        return max(distance_m, self.min_focus_m or distance_m)

    def tstop(self, fstop: float) -> float:
        return fstop / math.sqrt(self.transmission)


def _entry(section: str, name: Any, entry: Any, keys: frozenset[str]) -> dict[str, Any]:
    if not isinstance(name, str) or not name:
        raise InvalidArgument(f"{section} names must be non-empty strings, got {name!r}", field=section)
    if not isinstance(entry, Mapping):
        raise InvalidArgument(f"{section}.{name} must be a table", field=f"{section}.{name}")
    unknown = sorted(set(entry) - keys)
    if unknown:
        raise InvalidArgument(
            f"{section}.{name} has unknown key(s) {', '.join(unknown)}; known: {', '.join(sorted(keys))}",
            field=f"{section}.{name}.{unknown[0]}",
        )
    return dict(entry)


def _body(name: str, entry: dict[str, Any]) -> CameraBody:
    for key in ("sensor_width_mm", "sensor_height_mm"):
        if key not in entry:
            raise InvalidArgument(f"bodies.{name} needs {key}", field=f"bodies.{name}.{key}")
    width = _positive(f"bodies.{name}", "sensor_width_mm", entry["sensor_width_mm"])
    height = _positive(f"bodies.{name}", "sensor_height_mm", entry["sensor_height_mm"])
    if "coc_mm" in entry:
        coc, rule = _positive(f"bodies.{name}", "coc_mm", entry["coc_mm"]), "explicit"
    else:
        rule = entry.get("coc_rule", "d/1500")
        if rule not in COC_RULES:
            raise InvalidArgument(
                f"bodies.{name}.coc_rule {rule!r} is not one of {', '.join(COC_RULES)}",
                field=f"bodies.{name}.coc_rule",
            )
        coc = math.hypot(width, height) / COC_RULES[rule]
    areas = entry.get("recording_areas", {})
    if not isinstance(areas, Mapping):
        raise InvalidArgument(
            f"bodies.{name}.recording_areas must be a table", field=f"bodies.{name}.recording_areas"
        )
    sizes = {area: tuple(size) if isinstance(size, list | tuple) else size for area, size in areas.items()}
    return CameraBody(name, width, height, coc, rule, str(entry.get("label", name)), sizes)


def _lens(name: str, entry: dict[str, Any]) -> Lens:
    if "focal_mm" not in entry:
        raise InvalidArgument(f"lenses.{name} needs focal_mm", field=f"lenses.{name}.focal_mm")
    squeeze = entry.get("squeeze", 1.0)
    limits = {
        key: None if entry.get(key) is None else _positive(f"lenses.{name}", key, entry[key])
        for key in ("max_aperture", "min_aperture", "min_focus_m")
    }
    return Lens(
        name,
        _positive(f"lenses.{name}", "focal_mm", entry["focal_mm"]),
        _positive(f"lenses.{name}", "squeeze", squeeze),
        entry.get("kind", "spherical" if squeeze == 1 else "anamorphic"),
        str(entry.get("label", name)),
        **limits,
        transmission=entry.get("transmission", 1.0),
        breathing=entry.get("breathing", 0.0),
    )


def _body_entry(body: CameraBody) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "label": body.label,
        "sensor_width_mm": body.sensor_width_mm,
        "sensor_height_mm": body.sensor_height_mm,
    }
    if body.coc_rule == "explicit":
        entry["coc_mm"] = body.coc_mm
    else:
        entry["coc_rule"] = body.coc_rule
    if body.recording_areas:
        entry["recording_areas"] = dict(body.recording_areas)
    return entry


@dataclasses.dataclass(frozen=True, slots=True)
class OpticsTable:
    """Camera bodies and lenses by stable name (``"arri_alexa_35"``, ``"prime_50"`` …)."""

    bodies: Mapping[str, CameraBody]
    lenses: Mapping[str, Lens]

    def body(self, name: str, field: str = "body") -> CameraBody:
        """The body ``name``; InvalidArgument naming ``field`` (where the name was given) if unknown."""
        if name not in self.bodies:
            raise InvalidArgument(
                f"unknown camera body {name!r}; known: {', '.join(sorted(self.bodies))}", field=field
            )
        return self.bodies[name]

    def lens(self, name: str, field: str = "lens") -> Lens:
        if name not in self.lenses:
            raise InvalidArgument(
                f"unknown lens {name!r}; known: {', '.join(sorted(self.lenses))}", field=field
            )
        return self.lenses[name]

    def with_overrides(self, data: Mapping[str, Any]) -> OpticsTable:
        """A new table with ``data`` (a stage's ``[optics]`` table: ``bodies`` / ``lenses``) merged in.

        An entry for a known name changes only the keys it gives; a new ``coc_rule`` drops an
        inherited ``coc_mm``.
        """
        unknown = sorted(set(data) - {"bodies", "lenses"})
        if unknown:
            raise InvalidArgument(
                f"optics has unknown table(s) {', '.join(unknown)}; known: bodies, lenses",
                field=f"optics.{unknown[0]}",
            )
        bodies = dict(self.bodies)
        for name, raw in _section(data, "bodies").items():
            entry = _entry("bodies", name, raw, _BODY_KEYS)
            if "coc_mm" in entry and "coc_rule" in entry:
                raise InvalidArgument(
                    f"bodies.{name} gives both coc_mm and coc_rule; give one", field=f"bodies.{name}"
                )
            merged = _body_entry(bodies[name]) if name in bodies else {}
            if "coc_rule" in entry:
                merged.pop("coc_mm", None)
            bodies[name] = _body(name, merged | entry)
        lenses = dict(self.lenses)
        for name, raw in _section(data, "lenses").items():
            entry = _entry("lenses", name, raw, _LENS_KEYS)
            base = lenses.get(name)
            merged = dataclasses.asdict(base) if base is not None else {}
            merged.pop("name", None)
            if "squeeze" in entry and "kind" not in entry:
                merged.pop("kind", None)
            lenses[name] = _lens(name, merged | entry)
        return OpticsTable(MappingProxyType(bodies), MappingProxyType(lenses))


def _section(data: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    section = data.get(key, {})
    if not isinstance(section, Mapping):
        raise InvalidArgument(f"optics.{key} must be a table of named entries", field=f"optics.{key}")
    return section


@functools.cache
def default_optics() -> OpticsTable:
    """The packaged ``camera_bodies.toml``, read once on first use."""
    with Path(__file__).with_name("camera_bodies.toml").open("rb") as file:
        data = tomllib.load(file)
    return OpticsTable(MappingProxyType({}), MappingProxyType({})).with_overrides(data)
