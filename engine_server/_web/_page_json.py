"""The page's JSON: typed messages to JSON values, and the page's requests to typed messages."""

from __future__ import annotations

import json
import math
from typing import Any

from protocols import (
    COMMAND_TYPES,
    Frames,
    GetEvents,
    GetNode,
    GetOptics,
    GetOpticsTable,
    GetSnapshot,
    GetTree,
    Hello,
    InvalidArgument,
    ProtocolError,
    from_wire,
    registered_types,
)

COMMANDS = {cls.TYPE: cls for cls in COMMAND_TYPES}
QUERIES = {
    cls.TYPE: cls for cls in (Hello, GetNode, GetTree, GetSnapshot, GetEvents, GetOptics, GetOpticsTable)
}
PAGE_VIEW_FIELDS = ("camera", "width", "height", "engine", "samples", "play", "viewport")


def error_json(exc: ProtocolError) -> dict[str, Any]:
    return {"code": exc.code.value, "message": exc.message, "field": exc.field}


def parse_json(text: str, what: str) -> dict[str, Any]:
    """A JSON object from the page, or InvalidArgument saying what was wrong."""
    try:
        value = json.loads(text, parse_constant=_reject_constant)
    except (json.JSONDecodeError, ValueError) as exc:
        raise InvalidArgument(f"{what}: not valid JSON ({exc})") from None
    if not isinstance(value, dict):
        raise InvalidArgument(f"{what}: expected a JSON object, got {type(value).__name__}")
    return value


def _reject_constant(name: str) -> None:
    raise ValueError(f"{name} is not a number JSON allows")


def stage_request(message: dict[str, Any]):
    """``{"command": {...}}`` or ``{"query": {...}}`` -> the typed command or query."""
    kinds = [k for k in ("command", "query") if k in message]
    if len(kinds) != 1:
        raise InvalidArgument("a stage request has exactly one of 'command' or 'query'", field="command")
    kind = kinds[0]
    body = message[kind]
    table = COMMANDS if kind == "command" else QUERIES
    if not isinstance(body, dict) or not isinstance(body.get("type"), str):
        raise InvalidArgument(f"{kind} must be an object with a 'type'", field=kind)
    cls = table.get(body["type"])
    if cls is None:
        from protocols import UnknownCommand

        known = "the stage commands" if body["type"] in registered_types() else "one of"
        raise UnknownCommand(
            f"unknown {kind} {body['type']!r}; {known}: {', '.join(sorted(table))}", field=f"{kind}.type"
        )
    return from_wire(cls, body, Frames(lists_as_arrays=True))


def page_view(fields: dict[str, Any]) -> dict[str, Any]:
    """The view fields the page may set, type-checked (ranges are checked by ``RenderView``)."""
    unknown = sorted(set(fields) - set(PAGE_VIEW_FIELDS))
    if unknown:
        raise InvalidArgument(
            f"unknown view field(s) {', '.join(unknown)}; a view takes {', '.join(PAGE_VIEW_FIELDS)}",
            field=f"view.{unknown[0]}",
        )
    checks: dict[str, type | tuple[type, ...]] = {
        "camera": (str, type(None)),
        "width": int,
        "height": int,
        "engine": str,
        "samples": int,
        "play": bool,
        "viewport": bool,
    }
    for name, value in fields.items():
        kind = checks[name]
        if (isinstance(value, bool) and kind is int) or not isinstance(value, kind):
            raise InvalidArgument(f"view.{name} has the wrong type ({value!r})", field=f"view.{name}")
    return fields


def numbers(value: Any, count: int, field: str) -> tuple[float, ...]:
    """``count`` finite numbers (a number when ``count`` is 1 and ``value`` is not a list)."""
    items = [value] if count == 1 and not isinstance(value, list) else value
    if (
        not isinstance(items, list)
        or len(items) != count
        or not all(isinstance(v, int | float) and not isinstance(v, bool) for v in items)
        or not all(math.isfinite(v) and abs(v) <= 1e6 for v in items)
    ):
        raise InvalidArgument(f"{field} must be {count} finite number(s) of at most 1e6", field=field)
    return tuple(float(v) for v in items)
