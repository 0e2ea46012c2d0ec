"""Typed dataclass <-> plain msgpack-able values, driven by the dataclasses' type hints.

Supported field types: ``str``, ``int``, ``float``, ``bool``, ``bytes`` and ``numpy.ndarray``
(both sent as raw frames), fixed-length ``tuple[float, ...]`` vectors, ``tuple[T, ...]``,
``dict[str, T]``, ``Literal[...]`` strings, ``X | None`` and nested message dataclasses.
A message union (a field typed with the ``Command`` alias) travels as a map with a ``type`` key.

Decoding checks every type and names the offending field; range checks live in each
dataclass's ``__post_init__``.
"""

from __future__ import annotations

import dataclasses
import enum
import functools
import math
import types
import typing
from collections.abc import Callable
from typing import Any, Literal, Union

import numpy as np

from ._checks import FLOAT32_MAX  # Blender stores transforms and settings as float32
from ._errors import BadMessage, InvalidArgument, ProtocolError, UnknownCommand

FRAME_KEY = "$frame"
ALLOWED_DTYPES = frozenset(
    ("|b1", "|u1", "|i1", *(f"<{kind}" for kind in ("u2", "i2", "u4", "i4", "u8", "i8", "f2", "f4", "f8")))
)  # little-endian only: every machine that runs Blender is
MAX_ARRAY_DIMS = 8
MAX_STRING_CHARS = 65_536  # any string field; names and ids have tighter limits of their own
FLOAT32_TINY = 1.401298464324817e-45  # the smallest float32 (subnormal): below it a value becomes 0

_T = typing.TypeVar("_T")


class Message:
    """Base of every named wire message: ``TYPE`` is its name on the wire, ``TAGGED`` whether it
    is a stage command (carried with a ``type`` key where it nests). Both are set by ``wire``."""

    __slots__ = ()
    TYPE: typing.ClassVar[str]
    TAGGED: typing.ClassVar[bool]


_REGISTRY: dict[str, type[Message]] = {}


@typing.dataclass_transform(frozen_default=True)
def wire(type_name: str | None = None, *, command: bool = False) -> Callable[[type[_T]], type[_T]]:
    """Class decorator for every message and value type: a frozen, slotted dataclass.

    With ``type_name`` it is registered as that wire message (its ``TYPE``); with ``command`` it
    is a stage command, tagged by type where it nests (in a batch, an event). Without a name it
    is a value nested in messages (a transform, camera settings).
    """

    def wrap(cls: type[_T]) -> type[_T]:
        made = dataclasses.dataclass(frozen=True, slots=True)(cls)
        if type_name is None:
            return made
        if type_name in _REGISTRY:
            raise ValueError(f"message type {type_name!r} registered twice")
        if not issubclass(made, Message):
            raise TypeError(f"{cls.__name__}: a named wire message must subclass Message")
        made.TYPE = type_name
        made.TAGGED = command
        _REGISTRY[type_name] = made
        return made

    return wrap


def registered_types() -> dict[str, type[Message]]:
    """Every registered message type name -> its dataclass."""
    return dict(_REGISTRY)


def message_class(type_name: str) -> type[Message]:
    try:
        return _REGISTRY[type_name]
    except KeyError:
        raise KeyError(type_name) from None


class Frames:
    """Raw frames collected while encoding, or handed to the decoder."""

    def __init__(
        self, frames: list[bytes | memoryview] | None = None, *, lists_as_arrays: bool = False
    ) -> None:
        self.items: list[Any] = list(frames or [])
        self.used: set[int] = set()
        self.lists_as_arrays = lists_as_arrays  # plain JSON input (the CLI): arrays given as lists

    def add(self, buffer: Any) -> int:
        self.items.append(buffer)
        return len(self.items) - 1

    def take(self, index: Any, path: str) -> memoryview:
        if not isinstance(index, int) or isinstance(index, bool):
            raise BadMessage(f"{path}: frame index must be an integer", field=path)
        if not 0 <= index < len(self.items):
            raise BadMessage(
                f"{path}: refers to frame {index} but the message has {len(self.items)}",
                field=path,
            )
        self.used.add(index)
        return memoryview(self.items[index])


def to_wire(obj: Any, frames: Frames) -> dict[str, Any]:
    """A message dataclass as a msgpack-able map (bulk data appended to ``frames``)."""
    out: dict[str, Any] = {}
    for name in _field_names(type(obj)):
        value = getattr(obj, name)
        if value is None:
            continue
        out[name] = _encode(value, frames)
    return out


_FIELD_NAMES: dict[type, tuple[str, ...]] = {}


def _field_names(cls: type) -> tuple[str, ...]:
    names = _FIELD_NAMES.get(cls)
    if names is None:
        names = _FIELD_NAMES[cls] = tuple(field.name for field in dataclasses.fields(cls))
    return names


_PLAIN = (str, int, bool)


def _encode(value: Any, frames: Frames) -> Any:
    kind = type(value)
    if kind is float:  # the common values first: numbers of transforms and matrices
        if not math.isfinite(value):
            raise InvalidArgument(f"cannot send non-finite number {value}")
        return value
    if kind in _PLAIN:
        return value
    if kind is tuple and value and all(type(v) is float for v in value):
        if not all(map(math.isfinite, value)):
            raise InvalidArgument(f"cannot send non-finite number in {value}")
        return list(value)
    if dataclasses.is_dataclass(value):
        body = to_wire(value, frames)
        if isinstance(value, Message) and value.TAGGED:
            body = {"type": value.TYPE, **body}
        return body
    if isinstance(value, np.ndarray):
        array = np.ascontiguousarray(value)
        if array.dtype.byteorder == ">":
            array = array.astype(array.dtype.newbyteorder("<"))
        index = frames.add(array.data if array.size else b"")
        return {FRAME_KEY: index, "dtype": array.dtype.str, "shape": list(array.shape)}
    if isinstance(value, (bytes, bytearray, memoryview)):
        return {FRAME_KEY: frames.add(value)}
    if isinstance(value, tuple | list):
        return [_encode(v, frames) for v in value]
    if isinstance(value, dict):
        return {k: _encode(v, frames) for k, v in value.items()}
    if isinstance(value, float) and not math.isfinite(value):
        raise InvalidArgument(f"cannot send non-finite number {value}")
    return value


def _is_tagged(cls: type) -> bool:
    return issubclass(cls, Message) and cls.TAGGED


def from_wire(cls: type, data: Any, frames: Frames, path: str = "") -> Any:
    """Build and validate ``cls`` from a decoded map; raises ProtocolError naming the field."""
    if not isinstance(data, dict):
        raise InvalidArgument(f"{path or cls.__name__}: expected a map", field=path or None)
    specs, fields, typed = _field_specs(cls)
    names = typed if not path or _is_tagged(cls) else fields  # a message's type: a body's, a nested command's
    if not names.issuperset(data.keys()):
        unknown = sorted(set(data) - names, key=repr)  # keys may be text and bytes
        where = f"{path}." if path else ""
        raise InvalidArgument(
            f"unknown field(s) {', '.join(where + k for k in map(str, unknown))}; "
            f"{cls.TYPE if issubclass(cls, Message) else cls.__name__} takes "
            f"{', '.join(spec[0] for spec in specs) or 'no fields'}",
            field=f"{where}{unknown[0]}",
        )
    kwargs: dict[str, Any] = {}
    for name, hint, required, nullable in specs:
        value = data.get(name)
        if value is None:
            if required:
                if not nullable:
                    field_path = f"{path}.{name}" if path else name
                    raise InvalidArgument(f"missing required field {field_path!r}", field=field_path)
                kwargs[name] = None
            continue
        kwargs[name] = _decode(hint, value, frames, f"{path}.{name}" if path else name)
    try:
        return cls(**kwargs)
    except (ArithmeticError, ValueError, TypeError) as exc:  # a check that hit a value it cannot take
        where = path or getattr(cls, "TYPE", cls.__name__)
        raise InvalidArgument(f"{where}: value out of range ({exc})", field=path or None) from None
    except ProtocolError as exc:
        if exc.field and path and not exc.field.startswith(path):
            # a nested message's own checks name fields from its parent ("material.roughness")
            parent, _, last = path.rpartition(".")
            if not exc.field.startswith(f"{last}."):
                exc.field = f"{path}.{exc.field}"
            elif parent:
                exc.field = f"{parent}.{exc.field}"
            if not exc.message.startswith(exc.field):
                exc.message = f"{exc.field}: {exc.message}"
                exc.args = (exc.message,)
        raise


@functools.cache
def _field_specs(cls: type) -> tuple[tuple[tuple[str, Any, bool, bool], ...], frozenset[Any], frozenset[Any]]:
    """(name, hint, required, may be None) per field; the field names; those and ``type``."""
    hints = typing.get_type_hints(cls)
    specs = tuple(
        (
            f.name,
            hints[f.name],
            f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING,
            _allows_none(hints[f.name]),
        )
        for f in dataclasses.fields(cls)
    )
    fields = frozenset(spec[0] for spec in specs)
    return specs, fields, fields | {"type"}


def _allows_none(hint: Any) -> bool:
    return _is_union(hint) and type(None) in typing.get_args(hint)


def _is_union(hint: Any) -> bool:
    return typing.get_origin(hint) in (Union, types.UnionType)


@functools.cache
def _plan(hint: Any) -> tuple[str, Any]:
    """How to decode a value of type ``hint``: a kind and what that kind needs (read once per hint)."""
    origin = typing.get_origin(hint)
    if _is_union(hint):
        options = tuple(a for a in typing.get_args(hint) if a is not type(None))
        if len(options) > 1 and all(dataclasses.is_dataclass(o) for o in options):
            return "tagged_union", list(options)
        if len(options) == 1:
            return "optional", options[0]
        raise TypeError(f"unsupported union {hint}")
    if hint is Any:
        return "any", None
    if isinstance(hint, type) and issubclass(hint, enum.Enum):
        return "enum", hint
    for simple in (str, bool, int, float, bytes, np.ndarray):
        if hint is simple:
            return simple.__name__, None
    if origin is Literal:
        return "literal", typing.get_args(hint)
    if origin is tuple:
        args = typing.get_args(hint)
        if len(args) == 2 and args[1] is Ellipsis:
            return "var_tuple", args[0]
        return "fixed_tuple", args
    if origin is dict:
        return "dict", typing.get_args(hint)
    if isinstance(hint, type) and dataclasses.is_dataclass(hint):
        return ("tagged" if _is_tagged(hint) else "message"), hint
    raise TypeError(f"unsupported field type {hint!r}")


def _decode(hint: Any, value: Any, frames: Frames, path: str) -> Any:
    kind, arg = _plan(hint)
    if kind == "float":
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise InvalidArgument(f"{path}: expected a number, got {_kind(value)}", field=path)
        return check_float32(path, value)
    if kind == "optional":
        return None if value is None else _decode(arg, value, frames, path)
    if kind == "str":
        text = _expect(value, str, "a string", path)
        if len(text) > MAX_STRING_CHARS:
            raise InvalidArgument(
                f"{path}: a string of {len(text)} characters; the limit is {MAX_STRING_CHARS}", field=path
            )
        return text
    if kind == "fixed_tuple":
        if not isinstance(value, list | tuple):
            raise InvalidArgument(f"{path}: expected a list, got {_kind(value)}", field=path)
        if len(value) != len(arg):
            raise InvalidArgument(f"{path}: expected {len(arg)} numbers, got {len(value)}", field=path)
        return tuple(
            _decode(a, v, frames, f"{path}[{i}]") for i, (a, v) in enumerate(zip(arg, value, strict=True))
        )
    if kind == "int":
        if isinstance(value, bool) or not isinstance(value, int):
            raise InvalidArgument(f"{path}: expected an integer, got {_kind(value)}", field=path)
        return value
    if kind == "bool":
        return _expect(value, bool, "true or false", path)
    if kind == "literal":
        if value not in arg:
            raise InvalidArgument(f"{path}: {value!r} is not one of {', '.join(map(repr, arg))}", field=path)
        return value
    if kind == "var_tuple":
        if not isinstance(value, list | tuple):
            raise InvalidArgument(f"{path}: expected a list, got {_kind(value)}", field=path)
        return tuple(_decode(arg, v, frames, f"{path}[{i}]") for i, v in enumerate(value))
    if kind == "message":
        return from_wire(arg, value, frames, path)
    if kind == "tagged":
        return _decode_tagged([arg], value, frames, path)
    if kind == "tagged_union":
        return None if value is None else _decode_tagged(arg, value, frames, path)
    if kind == "any":
        return value
    if kind == "enum":
        try:
            return arg(value)
        except ValueError:
            choices = ", ".join(repr(m.value) for m in arg)
            raise InvalidArgument(f"{path}: {value!r} is not one of {choices}", field=path) from None
    if kind == "bytes":
        if not isinstance(value, dict) or set(value) != {FRAME_KEY}:
            raise BadMessage(f"{path}: expected a raw frame reference", field=path)
        return frames.take(value[FRAME_KEY], path).tobytes()
    if kind == "ndarray":
        return _decode_array(value, frames, path)
    key_hint, value_hint = arg  # a dict
    if not isinstance(value, dict):
        raise InvalidArgument(f"{path}: expected a map, got {_kind(value)}", field=path)
    return {
        _decode(key_hint, k, frames, f"{path} key"): _decode(value_hint, v, frames, f"{path}.{k}")
        for k, v in value.items()
    }


def _decode_tagged(options: list[type[Message]], value: Any, frames: Frames, path: str) -> Any:
    if not isinstance(value, dict) or not isinstance(value.get("type"), str):
        raise InvalidArgument(f"{path}: expected a map with a 'type' key", field=path)
    cls = _REGISTRY.get(value["type"])
    if cls is None or cls not in options:
        raise UnknownCommand(
            f"{path}: unknown type {value['type']!r}; expected one of "
            f"{', '.join(sorted(c.TYPE for c in options))}",
            field=path,
        )
    return from_wire(cls, value, frames, path)


def _decode_array(value: Any, frames: Frames, path: str) -> np.ndarray:
    if frames.lists_as_arrays and isinstance(value, list):
        try:
            return np.asarray(value, dtype=np.float64)
        except (TypeError, ValueError):
            raise InvalidArgument(f"{path}: expected a rectangular list of numbers", field=path) from None
    if not isinstance(value, dict) or set(value) != {FRAME_KEY, "dtype", "shape"}:
        raise BadMessage(f"{path}: expected an array reference {{$frame, dtype, shape}}", field=path)
    dtype, shape = value["dtype"], value["shape"]
    if not isinstance(dtype, str) or dtype not in ALLOWED_DTYPES:
        raise BadMessage(f"{path}: dtype {str(dtype)[:40]!r} is not a plain numeric dtype", field=path)
    if (
        not isinstance(shape, list)
        or len(shape) > MAX_ARRAY_DIMS
        or not all(isinstance(n, int) and not isinstance(n, bool) and n >= 0 for n in shape)
    ):
        raise BadMessage(f"{path}: shape must be a list of at most 8 non-negative integers", field=path)
    buffer = frames.take(value[FRAME_KEY], path)
    expected = math.prod(shape) * np.dtype(dtype).itemsize  # Python ints: no overflow
    if buffer.nbytes != expected:
        raise BadMessage(
            f"{path}: frame holds {buffer.nbytes} bytes but dtype {dtype} shape {shape} needs {expected}",
            field=path,
        )
    array = np.frombuffer(buffer, dtype=dtype).reshape(shape)
    return array


def check_float32(path: str, value: float) -> float:
    """``value`` as Blender will store it: finite, within float32 range, not lost to underflow."""
    number = float(value) if abs(value) < 1e309 else math.inf  # an int too large for a float
    if not math.isfinite(number):
        raise InvalidArgument(f"{path}: expected a finite number, got {value}", field=path)
    if abs(number) > FLOAT32_MAX:
        raise InvalidArgument(
            f"{path}: {number:g} is beyond what Blender stores (32-bit floats reach ±3.4e38)", field=path
        )
    if number != 0.0 and abs(number) < FLOAT32_TINY:
        raise InvalidArgument(
            f"{path}: {number:g} is too small for Blender's 32-bit floats (it would be stored as 0); "
            "use 0 or a value of at least 1.4e-45",
            field=path,
        )
    return number


def _expect(value: Any, kind: type, words: str, path: str) -> Any:
    if not isinstance(value, kind):
        raise InvalidArgument(f"{path}: expected {words}, got {_kind(value)}", field=path)
    return value


def _kind(value: Any) -> str:
    if value is None:
        return "nothing"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return f"the number {value!r}"
    if isinstance(value, str):
        return f"the string {value[:40]!r}"
    if isinstance(value, list | tuple):
        return "a list"
    if isinstance(value, dict):
        return "a map"
    return type(value).__name__


def to_json(value: Any) -> Any:
    """A message as JSON values: tagged messages keep their ``type``, arrays become lists."""
    if dataclasses.is_dataclass(value):
        body = {
            f.name: to_json(getattr(value, f.name))
            for f in dataclasses.fields(value)
            if getattr(value, f.name) is not None
        }
        if isinstance(value, Message) and value.TAGGED:
            body = {"type": value.TYPE, **body}
        return body
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, bytes):
        return f"<{len(value)} bytes>"
    if isinstance(value, tuple | list):
        return [to_json(v) for v in value]
    if isinstance(value, dict):
        return {k: to_json(v) for k, v in value.items()}
    return value
