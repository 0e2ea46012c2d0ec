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

_BODY_KEYS = frozenset({"label", "sensor_width_mm", "sensor_height_mm", "coc_rule", "coc_mm"})
_LENS_KEYS = frozenset({"label", "focal_mm", "squeeze", "kind"})


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

    def __post_init__(self) -> None:
        for key in ("sensor_width_mm", "sensor_height_mm", "coc_mm"):
            _positive(f"bodies.{self.name}", key, getattr(self, key))
        if self.coc_rule != "explicit" and self.coc_rule not in COC_RULES:
            raise InvalidArgument(
                f"bodies.{self.name}.coc_rule {self.coc_rule!r} is not one of {', '.join(COC_RULES)}",
                field="coc_rule",
            )

    @property
    def diagonal_mm(self) -> float:
        return math.hypot(self.sensor_width_mm, self.sensor_height_mm)


@dataclasses.dataclass(frozen=True, slots=True)
class Lens:
    """A prime of ``focal_mm``; an anamorphic one squeezes the width by ``squeeze`` (> 1)."""

    name: str
    focal_mm: float
    squeeze: float = 1.0
    kind: LensKind = "spherical"
    label: str = ""

    def __post_init__(self) -> None:
        owner = f"lenses.{self.name}"
        _positive(owner, "focal_mm", self.focal_mm)
        _positive(owner, "squeeze", self.squeeze)
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
    return CameraBody(name, width, height, coc, rule, str(entry.get("label", name)))


def _lens(name: str, entry: dict[str, Any]) -> Lens:
    if "focal_mm" not in entry:
        raise InvalidArgument(f"lenses.{name} needs focal_mm", field=f"lenses.{name}.focal_mm")
    squeeze = entry.get("squeeze", 1.0)
    return Lens(
        name,
        _positive(f"lenses.{name}", "focal_mm", entry["focal_mm"]),
        _positive(f"lenses.{name}", "squeeze", squeeze),
        entry.get("kind", "spherical" if squeeze == 1 else "anamorphic"),
        str(entry.get("label", name)),
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

    def lens(self, name: str) -> Lens:
        if name not in self.lenses:
            raise InvalidArgument(
                f"unknown lens {name!r}; known: {', '.join(sorted(self.lenses))}", field="lens"
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
