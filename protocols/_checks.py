"""Range checks used by the messages' ``__post_init__``; each raises InvalidArgument."""

from __future__ import annotations

import math
import re
import unicodedata
import uuid as uuid_module

import numpy as np

from ._errors import InvalidArgument

MAX_NAME_LENGTH = 63  # Blender's datablock name limit in bytes
# control (incl. DEL, U+0085), format (bidi overrides, zero-width), line / paragraph separators,
# surrogates: characters that hide or reorder what a person reads in a name
_HIDDEN_CATEGORIES = frozenset(("Cc", "Cf", "Zl", "Zp", "Cs"))
FLOAT32_MAX = 3.4028234663852886e38


def check_range(
    field: str,
    value: float | None,
    low: float | None = None,
    high: float | None = None,
    *,
    low_open: bool = False,
    unit: str = "",
) -> None:
    """``value`` (if given) lies in [low, high] (``(low, high]`` when ``low_open``)."""
    if value is None:
        return
    too_low = low is not None and (value <= low if low_open else value < low)
    too_high = high is not None and value > high
    if too_low or too_high:
        lo = "-inf" if low is None else f"{low:g}"
        hi = "inf" if high is None else f"{high:g}"
        bracket = "(" if low_open else "["
        raise InvalidArgument(
            f"{field} = {value:g}{unit} is out of range; valid range is {bracket}{lo}, {hi}]{unit}",
            field=field,
        )


FOCAL_RANGE_MM = (2.0, 2400.0)  # the widest fisheyes are ~4 mm, the longest telephotos ~2000 mm


def check_focal_length(field: str, value: float | None) -> None:
    """A focal length a real lens can have, in mm."""
    if value is None:
        return
    low, high = FOCAL_RANGE_MM
    if not low <= value <= high:
        raise InvalidArgument(
            f"{field} = {value:g} mm is not a lens: focal lengths run {low:g}–{high:g} mm (the widest "
            "fisheyes are about 4 mm, the longest telephotos about 2000 mm)",
            field=field,
        )


def check_name(field: str, name: str | None) -> None:
    if name is None:
        return
    if not name.strip():
        raise InvalidArgument(f"{field} must not be empty", field=field)
    if len(name.encode()) > MAX_NAME_LENGTH:
        raise InvalidArgument(
            f"{field} {name[:20]!r}… is {len(name.encode())} bytes; names are at most "
            f"{MAX_NAME_LENGTH} bytes",
            field=field,
        )
    if name.isascii():  # the common case, and the only hidden ASCII characters are controls
        hidden = next((c for c in name if c < " " or c == "\x7f"), None)
    else:
        hidden = next((c for c in name if unicodedata.category(c) in _HIDDEN_CATEGORIES), None)
    if hidden is not None:
        raise InvalidArgument(
            f"{field} must not contain control, format (bidi, zero-width) or separator characters; "
            f"found U+{ord(hidden):04X} ({unicodedata.name(hidden, 'unnamed')})",
            field=field,
        )


def check_uuid(field: str, value: str | None) -> None:
    if value is None:
        return
    try:
        parsed = uuid_module.UUID(value)
    except ValueError:
        raise InvalidArgument(f"{field} {value[:40]!r} is not a UUID", field=field) from None
    if parsed.hex != value:
        raise InvalidArgument(f"{field} must be a UUID as 32 lowercase hex digits", field=field)


def check_ref(field: str, value: str | None) -> None:
    """A node reference: a UUID or a node name."""
    if value is None:
        return
    check_name(field, value)


def normalized_quaternion(field: str, q: tuple[float, ...]) -> tuple[float, ...]:
    """``q`` scaled to length 1 (idempotent: a unit quaternion comes back bit for bit).

    Components so large or small that their squares overflow or underflow are scaled by the
    largest first, so ``(1e200, 0, 0, 0)`` is the identity, not a zero quaternion.
    """
    largest = max(abs(c) for c in q)
    if not math.isfinite(largest) or largest < 1e-9:
        raise InvalidArgument(f"{field} is a zero quaternion; give (w, x, y, z) with length 1", field=field)
    if not 1e-100 < largest < 1e100:
        q = tuple(c / largest for c in q)
    norm = math.sqrt(sum(c * c for c in q))
    if abs(norm - 1.0) >= 1e-12:  # a unit quaternion stays as it is, so normalising is idempotent
        q = tuple(c / norm for c in q)
    return tuple(float(c) if abs(c) > 1e-30 else 0.0 for c in q)  # no float32 underflow left


def check_float32_array(field: str, values: np.ndarray) -> None:
    """Every element finite and within what Blender's 32-bit floats hold."""
    if values.size and (not np.all(np.isfinite(values)) or np.max(np.abs(values)) > FLOAT32_MAX):
        raise InvalidArgument(
            f"{field} must hold finite numbers within Blender's 32-bit float range (±3.4e38)", field=field
        )


SHA256 = re.compile(r"[0-9a-f]{64}")


def check_sha256(field: str, value: str | None) -> None:
    if value is not None and not SHA256.fullmatch(value):
        raise InvalidArgument(f"{field} must be 64 lowercase hex digits (a SHA-256)", field=field)
